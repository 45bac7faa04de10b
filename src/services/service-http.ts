/**
 * What the publication services exchange with the HTTP adapter: a framework-neutral request and
 * response (DESIGN §10), structurally the same as src/api's ApiRequest/ApiResponse so that the route
 * table can mount the handlers as they are, and the HTTP rules every service shares — query parameters
 * whose names are case-insensitive (OGC KVP), conditional GET on a strong ETag, cache and CORS headers.
 */
import { createHash } from 'node:crypto';

export interface ServiceRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Absolute URL of the server root without trailing slash. */
  baseUrl: string;
}

export interface ServiceResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string;
}

/**
 * How long clients may keep a tile or a capabilities document without asking again. Short, because a
 * published layer can be switched to another pyramid at the same URLs (issue 10): after this, clients
 * revalidate with If-None-Match and get a 304 when nothing changed.
 */
export const CACHE_CONTROL = 'public, max-age=60';
/**
 * Documents that list the layers (capabilities, tile set lists and descriptions) change when a layer is
 * published, switched or removed: clients may keep them but revalidate every time (a 304 costs little), so a
 * layer published a second ago is never missing from a browser's or a proxy's copy of the capabilities.
 */
export const DOCUMENT_CACHE_CONTROL = 'no-cache';

/** {@link cacheable} for a document listing or describing layers. */
export function cacheableDocument(req: ServiceRequest, body: Buffer, contentType: string): ServiceResponse {
  return cacheable(req, body, contentType, { 'Cache-Control': DOCUMENT_CACHE_CONTROL });
}

/**
 * Tile services are public maps: any web page may display them (viewers on other origins, issue 10).
 * The ETag is exposed so that a script can revalidate.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, Content-Length, Content-Encoding',
};

/**
 * The query with lower-case names (OGC 06-121r3 §11.5.2: KVP parameter names are case-insensitive;
 * values are not). A parameter given twice keeps its last value.
 */
export function kvp(query: ServiceRequest['query']): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    if (typeof v === 'string') out.set(name.toLowerCase(), v);
  }
  return out;
}

/** A strong entity tag of the exact bytes sent (RFC 9110 §8.8.3). */
export function strongEtag(bytes: Uint8Array): string {
  return `"${createHash('sha1').update(bytes).digest('base64url')}"`;
}

/** If-None-Match against an entity tag, with the weak comparison RFC 9110 §13.1.2 asks for. */
export function notModified(req: ServiceRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
}

/**
 * A cacheable answer (a tile, a capabilities document): ETag, Cache-Control, CORS, and 304 without a
 * body when the client already holds these bytes. HEAD is answered by the adapter from the same
 * response (it sends headers only). `etag` is given when it is already known ({@link strongEtag} of the same
 * bytes, kept by tile-cache.ts).
 */
export function cacheable(
  req: ServiceRequest,
  body: Buffer,
  contentType: string,
  extra: Record<string, string> = {},
  etag = strongEtag(body),
): ServiceResponse {
  const headers: Record<string, string> = { ...CORS_HEADERS, 'Cache-Control': CACHE_CONTROL, ETag: etag, ...extra };
  if (notModified(req, etag)) return { status: 304, headers };
  return { status: 200, headers: { 'Content-Type': contentType, ...headers }, body };
}

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string | number): string {
  return String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A non-negative integer parameter (row, column), or undefined when the text is not one. */
export function parseIndex(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}
