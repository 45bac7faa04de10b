/**
 * Sub-codestreams: a JPEG 2000 codestream made of a rectangle of the tiles of a file, moved to the
 * origin of the reference grid, so that a decoder that only decodes whole images (OpenJPEG as built
 * for WebAssembly) decodes just the tiles a window needs. A large JP2 is never decoded (nor read) whole.
 *
 * The move keeps every tile's coding identical only when the tiles' partitions do not change (ISO/IEC
 * 15444-1 annex B): the shift must keep the parity of every decomposition level (a multiple of
 * 2^NL·XRsiz) and leave the precincts (B.6) and code-blocks (B.7) of every tile cut at the same places.
 * `shiftKeepsCoding` checks exactly that; `subCodestreamOrigin` moves the origin back a tile at a time
 * until it holds (the origin 0 always does).
 */
import type { CodingStyle, Jp2Structure } from './jp2-structure.js';

/** Do the cuts of a grid of 2^g fall at the same places in [a, b) and in [a − s, b − s)? */
function samePartition(a: number, b: number, s: number, g: number): boolean {
  if (s % 2 ** g === 0) return true;
  const size = 2 ** g;
  const first = size - (a % size);
  const shifted = size - ((a - s) % size);
  return first === shifted || (first >= b - a && shifted >= b - a);
}

/**
 * True when the tiles spanning [start, end) on one axis of the reference grid code the same way once
 * moved by `shift` (annex B partitions on that axis: resolutions, precincts, bands, code-blocks).
 */
function axisKeepsCoding(start: number, end: number, shift: number, sub: number, style: CodingStyle, axis: 'x' | 'y'): boolean {
  const nl = style.levels;
  if (shift % (sub * 2 ** nl) !== 0) return false;
  const pp = axis === 'x' ? style.ppx : style.ppy;
  const cb = axis === 'x' ? style.xcb : style.ycb;
  const ca = Math.ceil(start / sub);
  const cbEnd = Math.ceil(end / sub);
  const cs = shift / sub;
  for (let r = 0; r <= nl; r++) {
    const n = nl - r;
    const ra = Math.ceil(ca / 2 ** n);
    const rb = Math.ceil(cbEnd / 2 ** n);
    if (!samePartition(ra, rb, cs / 2 ** n, pp[r])) return false;
    if (r === 0) {
      if (!samePartition(ra, rb, cs / 2 ** n, Math.min(cb, pp[0]))) return false;
      continue;
    }
    // High-pass bands of decomposition level n + 1 (B.5): both the low (offset 0) and high (offset 1) sides.
    const nb = n + 1;
    for (const o of [0, 1]) {
      const ba = Math.ceil((ca - 2 ** (nb - 1) * o) / 2 ** nb);
      const bb = Math.ceil((cbEnd - 2 ** (nb - 1) * o) / 2 ** nb);
      if (!samePartition(ba, bb, cs / 2 ** nb, Math.min(cb, pp[r] - 1))) return false;
    }
  }
  return true;
}

/** Whether every tile in columns (or rows) [first, last] keeps its coding when the origin moves to tile `origin`. */
export function shiftKeepsCoding(s: Jp2Structure, axis: 'x' | 'y', origin: number, first: number, last: number): boolean {
  const size = axis === 'x' ? s.tileWidth : s.tileHeight;
  const imageEnd = axis === 'x' ? s.x1 : s.y1;
  const shift = origin * size;
  for (let t = first; t <= last; t++) {
    const a = t * size;
    const b = Math.min(imageEnd, a + size);
    for (const [c, comp] of s.components.entries()) {
      const style = s.componentCoding.get(c) ?? s.coding;
      if (!axisKeepsCoding(a, b, shift, axis === 'x' ? comp.dx : comp.dy, style, axis)) return false;
    }
  }
  return true;
}

/** The tile column (or row) the sub-codestream of tiles [first, last] starts at: `first` when the coding allows. */
export function subCodestreamOrigin(s: Jp2Structure, axis: 'x' | 'y', first: number, last: number): number {
  for (let origin = first; origin > 0; origin--) if (shiftKeepsCoding(s, axis, origin, origin, last)) return origin;
  return 0;
}

/** Tiles [tx0, tx1) × [ty0, ty1) of the file, as a sub-codestream whose image starts at tile (tx0, ty0). */
export interface SubCodestreamRequest {
  tx0: number;
  tx1: number;
  ty0: number;
  ty1: number;
}

/** Image size (reference grid) of the sub-codestream of `r`. */
export function subCodestreamSize(s: Jp2Structure, r: SubCodestreamRequest): { width: number; height: number } {
  return {
    width: Math.min(s.x1, r.tx1 * s.tileWidth) - r.tx0 * s.tileWidth,
    height: Math.min(s.y1, r.ty1 * s.tileHeight) - r.ty0 * s.tileHeight,
  };
}

/**
 * Assembles the sub-codestream: SOC, the main header with its SIZ moved to the origin and without the
 * segments that index tiles (TLM, PLM), every tile-part of the tiles with its tile index renumbered
 * (A.4.2 Isot), EOC. `mainHeader` is the file's bytes [codestreamStart, mainHeaderEnd); `parts` the
 * tile-parts' bytes, keyed by tile index.
 */
export function assembleSubCodestream(s: Jp2Structure, mainHeader: Buffer, r: SubCodestreamRequest, parts: Map<number, Buffer[]>): Buffer {
  const { width, height } = subCodestreamSize(s, r);
  const chunks: Buffer[] = [];
  const base = s.codestreamStart;
  const cut = [{ ...s.siz, siz: true }, ...s.dropped.map((d) => ({ ...d, siz: false }))].sort((a, b) => a.start - b.start);
  let at = 0;
  for (const c of cut) {
    chunks.push(mainHeader.subarray(at, c.start - base));
    if (c.siz) {
      const siz = Buffer.from(mainHeader.subarray(c.start - base, c.end - base));
      // Marker (2) + Lsiz (2) + Rsiz (2), then Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz.
      siz.writeUInt32BE(width, 6);
      siz.writeUInt32BE(height, 10);
      siz.writeUInt32BE(0, 14);
      siz.writeUInt32BE(0, 18);
      siz.writeUInt32BE(0, 30);
      siz.writeUInt32BE(0, 34);
      chunks.push(siz);
    }
    at = c.end - base;
  }
  chunks.push(mainHeader.subarray(at));
  const across = r.tx1 - r.tx0;
  for (let ty = r.ty0; ty < r.ty1; ty++)
    for (let tx = r.tx0; tx < r.tx1; tx++) {
      for (const part of parts.get(ty * s.tilesAcross + tx) ?? []) {
        const sot = Buffer.from(part.subarray(0, 12));
        sot.writeUInt16BE((ty - r.ty0) * across + (tx - r.tx0), 4);
        // Psot 0 ("to the end of the codestream") only holds for the file's last tile-part.
        sot.writeUInt32BE(part.length, 6);
        chunks.push(sot, part.subarray(12));
      }
    }
  chunks.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(chunks);
}
