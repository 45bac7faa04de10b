/**
 * HTTP range requests for files served whole or in parts (the COG of a catalog item, issue 12: GDAL's
 * /vsicurl/ and browsers read COGs by ranges). RFC 9110 §14 (Range, Content-Range, 206, 416), §13.1.5
 * (If-Range), §8.8.3 (strong entity tags). Pure: the handler passes the headers and the file's size
 * and validators, and gets what to answer.
 */

export interface Validators {
  /** A strong entity tag (`"…"`): the served files never change once written. */
  etag: string;
  /** HTTP-date of the file (Last-Modified). */
  lastModified: string;
}

export type RangeDecision =
  /** The whole file (no Range, a Range to ignore, or an If-Range that no longer matches). */
  | { kind: 'full' }
  /** One range, inclusive bounds. */
  | { kind: 'partial'; start: number; end: number }
  /** No requested range overlaps the file: 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

/**
 * What to answer to a GET with these headers. A Range that is not `bytes=` or does not parse is
 * ignored (§14.2: a server MAY ignore Range); several ranges are answered whole, which §14.2 allows
 * too — GDAL and browsers ask for one range at a time. If-Range with a weak tag never matches
 * (§13.1.5: strong comparison only); with a date it must equal Last-Modified exactly.
 */
export function decideRange(headers: { range?: string; 'if-range'?: string }, size: number, v: Validators): RangeDecision {
  const header = headers.range?.trim();
  if (!header) return { kind: 'full' };
  const ifRange = headers['if-range']?.trim();
  if (ifRange !== undefined && !ifRangeMatches(ifRange, v)) return { kind: 'full' };
  const m = /^bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const specs = m[1].split(',').map((s) => s.trim());
  if (specs.length !== 1) return { kind: 'full' };
  const spec = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (!spec || (spec[1] === '' && spec[2] === '')) return { kind: 'full' };
  if (spec[1] === '') {
    // suffix range: the last N bytes (§14.1.2); N = 0 selects nothing.
    const n = Number(spec[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(spec[1]);
  const last = spec[2] === '' ? Number.POSITIVE_INFINITY : Number(spec[2]);
  if (last < start) return { kind: 'full' }; // invalid range-spec: the whole Range is ignored (§14.1.1)
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}

function ifRangeMatches(value: string, v: Validators): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag; // W/… never equals a strong tag
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(v.lastModified);
}

/** If-None-Match against the strong tag (weak comparison, RFC 9110 §13.1.2): a 304 when it matches. */
export function notModifiedSince(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
