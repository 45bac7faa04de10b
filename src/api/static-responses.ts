import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ApiResponse } from './request.js';

/**
 * Documents that depend only on the config, the base URL, the query and the Accept header
 * (landing page, conformance, API definition, process list and descriptions): built and
 * serialized once, then served as bytes with a strong ETag (RFC 9110 §8.8.3) and, when the client
 * takes it, a gzip body compressed once (issue 8: GET /processes served 0.12× a bare Node server).
 */
export interface StaticResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** The same body gzip-compressed, when compressing it pays. */
  gzip?: Buffer;
  etag: string;
}

/** Bodies under this size go out as they are: gzip saves nothing on a few hundred bytes. */
export const MIN_COMPRESSED_SIZE = 1024;

const COMPRESSIBLE = /^(application\/([a-z0-9.+-]*\+)?(json|xml)|text\/|application\/(javascript|xml))/i;

/** JSON, HTML, XML and other text are worth compressing; images and slabs are compressed already. */
export function isCompressible(contentType: string | undefined): boolean {
  return !!contentType && COMPRESSIBLE.test(contentType);
}

/** Whether Accept-Encoding takes gzip (RFC 9110 §12.5.3: a q of 0 refuses it). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  for (const part of acceptEncoding.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding.trim() !== 'gzip' && coding.trim() !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}

/** The body as bytes, the way the adapter sends it: objects as JSON. */
export function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Whether If-None-Match matches `etag` (weak comparison, RFC 9110 §13.1.2). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** A bounded cache of static responses, keyed by what the answer depends on. */
export class StaticResponses {
  private readonly entries = new Map<string, StaticResponse>();

  constructor(private readonly capacity = 256) {}

  /** What a static answer depends on: the URL as sent, the base URL, and Accept (f= or negotiation). */
  static key(url: string, baseUrl: string, accept: string | undefined): string {
    return `${baseUrl}\n${url}\n${accept ?? ''}`;
  }

  get(key: string): StaticResponse | undefined {
    return this.entries.get(key);
  }

  /** Keeps a 200 answer (others are not static: they are errors worth recomputing). */
  store(key: string, r: ApiResponse): StaticResponse | undefined {
    if (r.status !== 200) return undefined;
    const body = bodyBytes(r.body);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
    const contentType = r.headers?.['Content-Type'];
    const compress = body.length >= MIN_COMPRESSED_SIZE && isCompressible(typeof contentType === 'string' ? contentType : undefined);
    const entry: StaticResponse = {
      status: 200,
      headers: { ...r.headers, ETag: etag },
      body,
      etag,
      ...(compress ? { gzip: gzipSync(body) } : {}),
    };
    // Bounded: query strings are the client's choice. Oldest entries go first.
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    return entry;
  }
}
