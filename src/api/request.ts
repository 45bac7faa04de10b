import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';

/** A framework-neutral request: what handlers receive (DESIGN §3: handlers are pure functions of it). */
export interface ApiRequest {
  method: string;
  /** Path below the API root, e.g. `/jobs/abc`. */
  path: string;
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON body (or undefined). */
  body?: unknown;
  /** The raw body, unread (uploaded files are streamed from it, never held whole). */
  stream?: Readable;
  /** Absolute URL of the API root without trailing slash, e.g. `http://localhost:5000`. */
  baseUrl: string;
  /** The configured folders `file:` hrefs may name (security.input_roots, absolute): pages show them in examples. */
  inputRoots?: readonly string[];
}

/** What handlers answer; the adapter writes it. Object bodies are sent as JSON, strings/Buffers as is. */
export interface ApiResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: unknown;
}

export type Format = 'json' | 'html';

/**
 * Chooses JSON or HTML: `f=` wins, then Accept q-values. No Accept or `*\/*` gives JSON: the
 * ETS and OWSLib send `Accept: *\/*` and must get JSON (ogcapi-processes.md §0.1, §6).
 */
export function negotiate(req: ApiRequest, allowed: readonly Format[] = ['json', 'html']): Format {
  const f = single(req.query.f);
  if (f !== undefined) {
    const wanted = f.toLowerCase() === 'text/html' ? 'html' : f.toLowerCase() === 'application/json' ? 'json' : f.toLowerCase();
    if ((allowed as readonly string[]).includes(wanted)) return wanted as Format;
    throw new ApiError('not-acceptable', `f=${f} is not offered here; use one of ${allowed.join(', ')}`);
  }
  const accept = req.headers.accept;
  if (!accept) return allowed[0];
  let best: { format: Format | undefined; q: number; specificity: number } = { format: undefined, q: 0, specificity: -1 };
  for (const part of accept.split(',')) {
    const [rawType, ...paramParts] = part.trim().split(';');
    const type = rawType.trim().toLowerCase();
    let q = 1;
    for (const p of paramParts) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k === 'q') q = Number(v);
    }
    if (!(q > 0)) continue;
    let format: Format | undefined;
    let specificity = 2;
    if (
      type === 'application/json' ||
      type === 'application/problem+json' ||
      type.endsWith('+json') ||
      type === 'application/vnd.oai.openapi+json'
    )
      format = 'json';
    else if (type === 'text/html' || type === 'application/xhtml+xml') format = 'html';
    else if (type === '*/*' || type === 'application/*') {
      format = allowed[0];
      specificity = 0;
    } else if (type === 'text/*') {
      format = 'html';
      specificity = 1;
    }
    if (!format || !allowed.includes(format)) continue;
    if (q > best.q || (q === best.q && specificity > best.specificity)) best = { format, q, specificity };
  }
  if (!best.format)
    throw new ApiError('not-acceptable', `none of the media types in Accept: ${accept} is offered; use application/json or text/html`);
  return best.format;
}

/**
 * One value of a query parameter. The route table validates queries before handlers run; this
 * stays total anyway (a handler called directly gets undefined for an object, never a crash).
 */
export function single(v: unknown): string | undefined {
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof last === 'string' ? last : undefined;
}

/** `limit` as the standard defines it (1..10000, default 10; /per/core/limit-default-minimum-maximum). */
export function parseLimit(req: ApiRequest, def = 10, max = 10000): number {
  const raw = single(req.query.limit);
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ApiError('invalid-parameter', `limit must be an integer ≥ 1, got '${raw}'`, { parameter: 'limit' });
  return Math.min(n, max);
}

/** Non-negative `offset` for paging. */
export function parseOffset(req: ApiRequest): number {
  const raw = single(req.query.offset);
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ApiError('invalid-parameter', `offset must be an integer ≥ 0, got '${raw}'`, { parameter: 'offset' });
  return n;
}

/** URL of `path` with the request's query modified (for self/alternate/next links). */
export function linkTo(req: ApiRequest, path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) {
    if (v === undefined || k in query) continue;
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
  }
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `${req.baseUrl}${path}${qs ? `?${qs}` : ''}`;
}

/** self + alternate links for a resource offered as JSON and HTML. */
export function selfLinks(req: ApiRequest, path: string, format: Format, title: string): Array<Record<string, string>> {
  const other: Format = format === 'json' ? 'html' : 'json';
  return [
    {
      href: linkTo(req, path, { f: format }),
      rel: 'self',
      type: format === 'json' ? 'application/json' : 'text/html',
      title: `${title} (this document)`,
    },
    {
      href: linkTo(req, path, { f: other }),
      rel: 'alternate',
      type: other === 'json' ? 'application/json' : 'text/html',
      title: `${title} as ${other.toUpperCase()}`,
    },
  ];
}
