/**
 * The PNG "Sub" filter in WebAssembly SIMD (AssemblyScript; built by `npm run build` into
 * dist/assembly/png-filter.wasm and driven by src/raster/png-encoder.ts). W3C PNG 2003, §9.2, filter type 1:
 * each byte minus the same byte of the pixel to its left, the row's first pixel as it is; each row starts
 * with its filter-type byte. Sixteen bytes at a time: a map of 512 × 512 RGB is 786,432 subtractions.
 */

import { BLOCK, zlibBound, zlibEnd, zlibStart, zlibWrite } from './deflate-huffman';

export { zlibBound, zlibHuffman } from './deflate-huffman';

/** First byte of memory free for the caller (after this module's static data). */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * Filters `height` rows of `row` bytes at `src` (`bpp` bytes per pixel) into `dst`, `row + 1` bytes per
 * row (the filter-type byte 1, then the differences).
 */
export function subFilter(src: usize, row: i32, height: i32, bpp: i32, dst: usize): void {
  for (let y = 0; y < height; y++) {
    const s = src + <usize>y * <usize>row;
    const d = dst + <usize>y * <usize>(row + 1) + 1;
    store<u8>(d - 1, 1);
    for (let i = 0; i < bpp; i++) store<u8>(d + <usize>i, load<u8>(s + <usize>i));
    let i = bpp;
    for (; i + 16 <= row; i += 16) {
      const p = s + <usize>i;
      v128.store(d + <usize>i, i8x16.sub(v128.load(p), v128.load(p - <usize>bpp)));
    }
    for (; i < row; i++) store<u8>(d + <usize>i, load<u8>(s + <usize>i) - load<u8>(s + <usize>(i - bpp)));
  }
}

/**
 * Rows filtered and compressed per group: as many as fit in one DEFLATE block of deflate-huffman.ts, so that a
 * group is filtered into scratch memory that stays in cache, and is compressed from there.
 */
function groupRows(rowBytes: i32): i32 {
  return max(1, BLOCK / (rowBytes + 1));
}

/** Scratch bytes {@link pngIdat} needs for rows of `width` pixels: a group of flattened rows, then its scanlines. */
export function pngScratchSize(width: i32): i32 {
  // A group holds at most one block of scanlines, or a single row when it is longer.
  return 2 * max(BLOCK, width * 4 + 1) + 16;
}

/** The most bytes {@link pngIdat} writes for an image of `width` × `height` × `channels` (once filtered). */
export function pngIdatBound(width: i32, height: i32, channels: i32): i32 {
  const row = width * channels;
  const rows = groupRows(row);
  return zlibBound((row + 1) * height, (height + rows - 1) / rows);
}

/**
 * The zlib stream of a PNG image's scanlines (W3C PNG 2003 §10: the IDAT data) at `dst`; returns its length.
 * `src` holds `height` rows of `width` pixels of `channels` bytes; `flatten`: they are RGBA, flattened over
 * (`r`, `g`, `b`) into RGB first ({@link flattenRgba}). Rows go by groups through `scratch` (of
 * {@link pngScratchSize} bytes): flattened, Sub-filtered ({@link subFilter}), then Huffman-coded.
 */
export function pngIdat(
  src: usize,
  width: i32,
  height: i32,
  channels: i32,
  flatten: bool,
  r: u32,
  g: u32,
  b: u32,
  scratch: usize,
  dst: usize,
): i32 {
  const bpp = flatten ? 3 : channels;
  const inRow = width * channels;
  const row = width * bpp;
  const rows = groupRows(row);
  const flat = scratch;
  const lines = (scratch + <usize>(row * rows) + 15) & ~15;
  zlibStart(dst);
  for (let y = 0; y < height; y += rows) {
    const n = min(rows, height - y);
    const from = src + <usize>y * <usize>inRow;
    if (flatten) flattenRgba(from, width * n, r, g, b, flat);
    subFilter(flatten ? flat : from, row, n, bpp, lines);
    zlibWrite(lines, (row + 1) * n, y + n >= height);
  }
  return zlibEnd(dst);
}

/**
 * Flattens `pixels` RGBA pixels at `src` over the background (`r`, `g`, `b`) into RGB at `dst`: an opaque
 * pixel as it is, else each channel round((c·a + bg·(255 − a)) / 255) — the numbers of
 * src/raster/flatten-rgba.ts, which opaque WMS maps used before their PNG (issue 10: ~5 % of a map's CPU).
 */
export function flattenRgba(src: usize, pixels: i32, r: u32, g: u32, b: u32, dst: usize): void {
  for (let p = 0; p < pixels; p++) {
    const s = src + (<usize>p << 2);
    const d = dst + <usize>p * 3;
    const a = <u32>load<u8>(s, 3);
    if (a == 255) {
      store<u16>(d, load<u16>(s));
      store<u8>(d, load<u8>(s, 2), 2);
    } else {
      const na = 255 - a;
      // round(x / 255) for an integer x is floor((x + 127) / 255).
      store<u8>(d, (<u32>load<u8>(s) * a + r * na + 127) / 255);
      store<u8>(d, (<u32>load<u8>(s, 1) * a + g * na + 127) / 255, 1);
      store<u8>(d, (<u32>load<u8>(s, 2) * a + b * na + 127) / 255, 2);
    }
  }
}
