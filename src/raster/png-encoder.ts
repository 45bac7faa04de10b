/**
 * A PNG encoder for drawn maps (issue 10, GetMap throughput): 8-bit RGB or RGBA, every row filtered with
 * "Sub" (PNG spec, W3C 2003, §9.2 filter type 1: each byte minus the same byte of the pixel to its left),
 * then one zlib stream of Huffman-coded blocks (no match search).
 *
 * Why not sharp's PNG: on a 512 × 512 RGB map of M (bench:tiles' maps), sharp at zlib level 2 took 17.6 ms
 * and 615 KiB; this took 7.1 ms and 598 KiB (level 1 default strategy: 17.9 ms; filter "Up": 690 KiB).
 * Photographic maps gain most from Sub. Maps are drawn once per request, so encoding time counts more than
 * the last bytes: on four maps of M (2026-12-06) Huffman coding alone took 4.5 ms and 281 KB where the
 * run-length strategy (Z_RLE, used until then) took 6.3 ms and 265 KB.
 *
 * The Huffman coding itself is ours, in WebAssembly (assembly/deflate-huffman.ts): zlib's Huffman-only mode
 * was still the largest part of a map's CPU (~19 %); on four 512² RGB maps of M ours took 1.9–2.4 ms against
 * zlib's 3.6–7.0 ms (2–3x faster, the copy into the module included), for streams a few bytes smaller.
 * Node's zlib remains for builds without the module.
 */
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import zlib from 'node:zlib';
import { PNG_SIGNATURE } from '../rok4/codec-png.js';
import { flattenRgbaOver } from './flatten-rgba.js';
import { threadScratch } from './thread-scratch.js';
import { instantiateBuilt, memoryOf } from './wasm-module.js';

const deflate = promisify(zlib.deflate);
const ZLIB_OPTIONS = { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY, chunkSize: 256 * 1024 };

/**
 * The filtered scanlines (§7.3): a filter-type byte, then the row, each byte minus its left neighbour.
 * Into `into` when given and large enough (its first bytes are returned), else a new array.
 */
export function subFilter(pixels: Uint8Array, width: number, height: number, channels: number, into?: Uint8Array): Uint8Array {
  const row = width * channels;
  const size = (row + 1) * height;
  const out = into && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
  for (let y = 0; y < height; y++) {
    const o = y * (row + 1) + 1;
    const s = y * row;
    out[o - 1] = 1;
    for (let i = 0; i < channels; i++) out[o + i] = pixels[s + i];
    for (let i = channels; i < row; i++) out[o + i] = (pixels[s + i] - pixels[s + i - channels]) & 0xff;
  }
  return out;
}

interface FilterKernel {
  memory: WebAssembly.Memory;
  heapBase(): number;
  subFilter(src: number, row: number, height: number, bpp: number, dst: number): void;
  flattenRgba(src: number, pixels: number, r: number, g: number, b: number, dst: number): void;
  pngScratchSize(width: number): number;
  pngIdatBound(width: number, height: number, channels: number): number;
  pngIdat(
    src: number,
    width: number,
    height: number,
    channels: number,
    flatten: number,
    r: number,
    g: number,
    b: number,
    scratch: number,
    dst: number,
  ): number;
  zlibBound(n: number, writes: number): number;
  zlibHuffman(src: number, n: number, dst: number): number;
}

let kernel: FilterKernel | null | undefined;

function filterKernel(): FilterKernel | null {
  // Not built (tsc alone) or no WebAssembly SIMD: null, and the JavaScript filter.
  if (kernel === undefined) kernel = instantiateBuilt<FilterKernel>('png-filter.wasm');
  return kernel;
}

/**
 * Lays out the module's memory for one call: `input` copied in, then regions of `sizes` bytes, each 16-byte
 * aligned after the module's static data (the memory grown to hold them). Their offsets, `input`'s first.
 */
function regions(k: FilterKernel, input: Uint8Array, ...sizes: number[]): number[] {
  const offsets: number[] = [];
  let end = k.heapBase();
  for (const n of [input.length, ...sizes]) {
    const at = (end + 15) & ~15;
    offsets.push(at);
    end = at + n;
  }
  new Uint8Array(memoryOf(k.memory, end)).set(input, offsets[0]);
  return offsets;
}

/**
 * {@link subFilter} in WebAssembly SIMD (assembly/png-filter.ts; 16 bytes at a time): the scanlines as a view
 * into the module's memory, valid until the next call in this thread; undefined when the module is not built.
 * Maps run this filter inside `pngIdat`; this entry point lets the tests compare it with the JavaScript one.
 */
export function subFilterWasm(pixels: Uint8Array, width: number, height: number, channels: number): Uint8Array | undefined {
  const k = filterKernel();
  if (!k) return undefined;
  const size = (width * channels + 1) * height;
  const [src, dst] = regions(k, pixels, size);
  k.subFilter(src, width * channels, height, channels, dst);
  return new Uint8Array(k.memory.buffer, dst, size);
}

/** `bytes` as a zlib stream by the WebAssembly Huffman coder; undefined when the module is not built. */
export function zlibHuffmanWasm(bytes: Uint8Array): Buffer | undefined {
  const k = filterKernel();
  if (!k) return undefined;
  const [src, dst] = regions(k, bytes, k.zlibBound(bytes.length, 1));
  return Buffer.from(new Uint8Array(k.memory.buffer, dst, k.zlibHuffman(src, bytes.length, dst)));
}

/**
 * Encodes `pixels` (pixel-interleaved, `channels` 3 = RGB or 4 = RGBA, 8 bits) as a PNG file, in a buffer
 * of its own (it can be transferred to another thread). `pixels` is read before the first await: the
 * caller may reuse it once the promise exists.
 */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 3 | 4): Promise<Buffer> {
  if (pixels.length !== width * height * channels)
    throw new RangeError(`encodePng: ${pixels.length} bytes for ${width}×${height}×${channels}`);
  const k = filterKernel();
  if (k) return pngInKernel(k, pixels, width, height, channels, undefined);
  const scratch = isMainThread ? undefined : threadScratch('pngScanlines', (width * channels + 1) * height);
  return compress(subFilter(pixels, width, height, channels, scratch), !isMainThread, width, height, channels);
}

/**
 * Encodes an RGBA image flattened over the background `bg` as an RGB PNG (an opaque WMS map): flattened and
 * filtered in one pass through WebAssembly (the flattening loop in JavaScript was ~5 % of a map's CPU), else
 * in JavaScript (src/raster/flatten-rgba.ts) — the same bytes. `rgba` is read before the first await.
 */
export async function encodePngOver(
  rgba: Uint8Array,
  width: number,
  height: number,
  bg: readonly [number, number, number],
): Promise<Buffer> {
  const pixels = width * height;
  if (rgba.length !== pixels * 4) throw new RangeError(`encodePngOver: ${rgba.length} bytes for ${width}×${height}×4`);
  const k = filterKernel();
  if (!k) return encodePng(flattenRgbaOver(rgba, pixels, bg, threadScratch('pngFlat', pixels * 3)), width, height, 3);
  return pngInKernel(k, rgba, width, height, 4, bg);
}

/**
 * The PNG file of `pixels` made in the WebAssembly module (assembly/png-filter.ts `pngIdat`): flattened over
 * `bg` when given (RGBA in, RGB out), Sub-filtered and Huffman-coded a group of rows at a time
 * (assembly/deflate-huffman.ts: a zlib stream as zlib's level 1 Huffman-only makes, 2–3x faster).
 * Synchronous: the compression is not worth a trip to libuv's threads.
 */
function pngInKernel(
  k: FilterKernel,
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4,
  bg: readonly [number, number, number] | undefined,
): Buffer {
  const outChannels = bg ? 3 : channels;
  const [src, scratch, dst] = regions(k, pixels, k.pngScratchSize(width), k.pngIdatBound(width, height, outChannels));
  const flatten = bg ? 1 : 0;
  const length = k.pngIdat(src, width, height, channels, flatten, bg?.[0] ?? 0, bg?.[1] ?? 0, bg?.[2] ?? 0, scratch, dst);
  return pngFile(ihdr(width, height, outChannels), new Uint8Array(k.memory.buffer, dst, length));
}

/**
 * The PNG file of the filtered `scanlines`; `reused`: they lie in memory this thread writes again (the filter
 * module's, a scratch array), so an asynchronous compression takes a copy. In a worker thread the compression
 * runs on the thread itself (maps are drawn in the pool: handing it to libuv's threads would leave the worker
 * waiting); on the main thread it runs in libuv's pool.
 */
async function compress(scanlines: Uint8Array, reused: boolean, width: number, height: number, channels: 3 | 4): Promise<Buffer> {
  const header = ihdr(width, height, channels);
  const data = isMainThread
    ? await deflate(reused ? scanlines.slice() : scanlines, ZLIB_OPTIONS)
    : zlib.deflateSync(scanlines, ZLIB_OPTIONS);
  return pngFile(header, data);
}

/** The IHDR chunk's data (§11.2.2): size, bit depth 8, colour type 2 (RGB) or 6 (RGBA). */
function ihdr(width: number, height: number, channels: 3 | 4): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = channels === 4 ? 6 : 2;
  return header;
}

/** Signature, IHDR, one IDAT and IEND (§5.3: length, type, data, CRC over type and data) in one allocation. */
function pngFile(header: Uint8Array, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(PNG_SIGNATURE.length + 12 + header.length + 12 + data.length + 12);
  let at = PNG_SIGNATURE.copy(out, 0);
  for (const [type, body] of [
    ['IHDR', header],
    ['IDAT', data],
    ['IEND', new Uint8Array(0)],
  ] as const) {
    const start = at;
    at = out.writeUInt32BE(body.length, at);
    at += out.write(type, at, 'latin1');
    out.set(body, at);
    at += body.length;
    at = out.writeUInt32BE(zlib.crc32(out.subarray(start + 4, at)), at);
  }
  return out;
}
