/**
 * Slab names (rok4.md §4): base-36 interleaved paths on FILE storage, decimal object names on
 * object storage (S3, CEPH, SWIFT).
 */

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The kind of slab: pixel data or its mask (rok4.md §5.3). */
export type SlabKind = 'DATA' | 'MASK';

function checkIndex(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got ${value}`);
}

function toBase36(value: number): string {
  // Number.toString(36) gives lower-case digits; ROK4 paths are upper case (§4.1).
  return value.toString(36).toUpperCase();
}

/**
 * FILE path of slab (col, row) relative to its level directory, e.g. (33030, 23940, 2) → `PI/HH/I0.tif`
 * (rok4.md §4.1): both indices in base 36, left-padded to the same length n = max(depth + 1, lengths),
 * interleaved column digit first; the last `depth` pairs are one component each, the leading pairs
 * are concatenated into the first component.
 */
export function slabPath(col: number, row: number, depth: number): string {
  checkIndex(col, 'slab column');
  checkIndex(row, 'slab row');
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`path_depth must be an integer >= 1, got ${depth}`);
  let col36 = toBase36(col);
  let row36 = toBase36(row);
  const n = Math.max(depth + 1, col36.length, row36.length);
  col36 = col36.padStart(n, '0');
  row36 = row36.padStart(n, '0');
  const pairs: string[] = [];
  for (let k = 0; k < n; k++) pairs.push(col36[k] + row36[k]);
  const head = pairs.slice(0, n - depth).join('');
  const tail = pairs.slice(n - depth);
  return `${[head, ...tail].join('/')}.tif`;
}

/**
 * Inverse of {@link slabPath}: strips `.tif` and `/`; even characters are column digits, odd ones
 * row digits (rok4.md §4.1). Throws on anything that is not such a path.
 */
export function parseSlabPath(path: string): { col: number; row: number; depth: number } {
  const match = /^([0-9A-Z]{2,}(?:\/[0-9A-Z]{2})+)\.tif$/.exec(path);
  if (!match) throw new Error(`not a ROK4 base-36 slab path: ${JSON.stringify(path)}`);
  const parts = match[1].split('/');
  if (parts[0].length % 2 !== 0) throw new Error(`not a ROK4 base-36 slab path: ${JSON.stringify(path)}`);
  const digits = parts.join('');
  let col = 0;
  let row = 0;
  for (let i = 0; i < digits.length; i += 2) {
    col = col * 36 + DIGITS.indexOf(digits[i]);
    row = row * 36 + DIGITS.indexOf(digits[i + 1]);
  }
  if (!Number.isSafeInteger(col) || !Number.isSafeInteger(row)) throw new Error(`slab path out of range: ${path}`);
  return { col, row, depth: parts.length - 1 };
}

/** Object name suffix on S3/CEPH/SWIFT: `DATA_<level>_<col>_<row>` (rok4.md §4.2). */
export function slabObjectName(kind: SlabKind, level: string, col: number, row: number): string {
  checkIndex(col, 'slab column');
  checkIndex(row, 'slab row');
  if (level.includes('_')) throw new Error(`level id must not contain '_': ${level}`);
  return `${kind}_${level}_${col}_${row}`;
}

/** Inverse of {@link slabObjectName} (accepts the legacy `IMG_`/`MSK_` prefixes of old lists). */
export function parseSlabObjectName(name: string): { kind: SlabKind; level: string; col: number; row: number } {
  const match = /^(DATA|MASK|IMG|MSK)_([^_/]+)_(\d+)_(\d+)$/.exec(name);
  if (!match) throw new Error(`not a ROK4 slab object name: ${JSON.stringify(name)}`);
  const kind: SlabKind = match[1] === 'DATA' || match[1] === 'IMG' ? 'DATA' : 'MASK';
  return { kind, level: match[2], col: Number(match[3]), row: Number(match[4]) };
}
