/**
 * Cross-origin access (Fetch standard, "CORS protocol"): which web pages of other origins may read
 * our answers. Default: any origin, for GET and HEAD only — a page elsewhere can show processes, jobs
 * and results, but a browser does not let it submit or dismiss jobs unless the operator adds POST
 * and DELETE to `server.cors.allowed_methods`.
 */
export interface CorsConfig {
  /** Origins (`https://maps.example.org`) or `*`; empty: no CORS headers at all. */
  allowed_origins: string[];
  allowed_methods: string[];
}

/** Response headers a browser script may read besides the simple ones. */
const EXPOSED = 'Location, Link, Preference-Applied, ETag, Content-Location';
/** Request headers clients of this API send. */
const ALLOWED_HEADERS = 'Content-Type, Accept, Prefer, If-None-Match';

function allowOrigin(cors: CorsConfig, origin: string): Record<string, string> | undefined {
  if (cors.allowed_origins.includes('*')) return { 'Access-Control-Allow-Origin': '*' };
  if (cors.allowed_origins.includes(origin)) return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  return undefined;
}

/** Headers for an actual request (not a preflight): none when there is no Origin or it is not allowed. */
export function corsHeaders(cors: CorsConfig, origin: string | undefined, method: string): Record<string, string> {
  if (!origin) return {};
  const allowed = allowOrigin(cors, origin);
  if (!allowed || !cors.allowed_methods.includes(method)) return {};
  return { ...allowed, 'Access-Control-Expose-Headers': EXPOSED };
}

/**
 * The answer to OPTIONS on a path whose methods are `methods`: 204 with Allow, and — for a preflight
 * from an allowed origin asking an allowed method — the CORS grant. A refused preflight still gets
 * 204 without the grant: the browser then refuses the request itself.
 */
export function optionsAnswer(
  cors: CorsConfig,
  methods: readonly string[],
  headers: { origin?: string; 'access-control-request-method'?: string; 'access-control-request-headers'?: string },
): { status: 204; headers: Record<string, string> } {
  const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
  const out: Record<string, string> = { Allow: allow.join(', ') };
  const requested = headers['access-control-request-method']?.toUpperCase();
  const origin = headers.origin;
  if (origin && requested && allow.includes(requested) && cors.allowed_methods.includes(requested)) {
    const granted = allowOrigin(cors, origin);
    if (granted) {
      Object.assign(out, granted, {
        'Access-Control-Allow-Methods': allow.filter((m) => cors.allowed_methods.includes(m)).join(', '),
        'Access-Control-Allow-Headers': headers['access-control-request-headers'] || ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
      });
    }
  }
  return { status: 204, headers: out };
}
