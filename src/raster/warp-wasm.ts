/**
 * The WebAssembly SIMD bicubic (assembly/warp-kernels.ts, built to dist/assembly/warp-kernels.wasm) behind
 * `warpCubic4` for 8-bit RGB: the pyramid's bottom level spends most of its CPU there (issue 16). Per call
 * the coordinates and the source region they reach are copied into the module's memory (a 256² tile at
 * 1.1–1.5 source pixels per target pixel: ~0.5 MB of coordinates and ~0.3 MB of source), the kernel
 * resamples every pixel whose sixteen taps are inside the source and valid, and returns the others, which
 * the JavaScript loop takes with the full rules (nodata, bilinear at the edges). ~2.5x faster than the
 * JavaScript loop for the same pixels; samples differ from it by at most 1 (Q14 weights). Also both passes
 * of the separable resampling (warp-two-pass.ts) of 8-bit RGB, which WMS maps in EPSG:4326 take (issue 10).
 *
 * One instance per thread (a module-level singleton: each worker thread has its own), its memory grown to
 * the largest call and kept.
 */
import type { WarpJob } from './warp-loops.js';
import { instantiateBuilt, memoryOf } from './wasm-module.js';

interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  coordinateBounds(sx: number, sy: number, count: number, dst: number): void;
  cubic4Rgb8(
    src: number,
    stride: number,
    rx0: number,
    ry0: number,
    W: number,
    H: number,
    mask: number,
    mstride: number,
    sx: number,
    sy: number,
    count: number,
    out: number,
    outMask: number,
    rest: number,
  ): number;
  twoPassRgb8(
    src: number,
    stride: number,
    span: number,
    colFirst: number,
    colW: number,
    width: number,
    hsum: number,
    rowFirst: number,
    rowW: number,
    tapsY: number,
    height: number,
    out: number,
  ): void;
}

/** Above this many bytes of source region a call stays in JavaScript (a tile scattered over the source). */
const MAX_REGION_BYTES = 64 << 20;

let kernels: Kernels | null | undefined;
let enabled = process.env.DALLAGE_WASM_WARP !== 'off';

function instance(): Kernels | null {
  // Not built (tsc alone) or no WebAssembly SIMD: null, and the JavaScript loop does everything.
  if (kernels === undefined) kernels = instantiateBuilt<Kernels>('warp-kernels.wasm');
  return kernels;
}

/** True when the WebAssembly kernels are loaded and in use (tests check the build ships them). */
export function wasmWarpAvailable(): boolean {
  return enabled && instance() !== null;
}

/**
 * Turns the WebAssembly path on or off in this thread (tests and benchmarks compare both; the environment
 * variable `DALLAGE_WASM_WARP=off` starts every thread with it off). Returns the previous setting.
 */
export function setWasmWarp(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

const align = (n: number) => (n + 15) & ~15;

/** Copies columns [x0, x1) of rows [y0, y1) of an RGB image `W` pixels wide to `at` in `memory`, rows packed. */
function copyRegion(memory: Uint8Array, at: number, data: Uint8Array, W: number, x0: number, x1: number, y0: number, y1: number): void {
  const stride = (x1 - x0) * 3;
  if (x0 === 0 && x1 === W) memory.set(data.subarray(y0 * stride, y1 * stride), at);
  else for (let y = y0; y < y1; y++) memory.set(data.subarray((y * W + x0) * 3, (y * W + x1) * 3), at + (y - y0) * stride);
}

/**
 * Resamples what it can of `job` (bicubic 4×4, 8-bit RGB, float32 coordinates) into `job.out` and
 * `job.outMask`, and returns the indices of the target pixels left to the caller — a view into the
 * module's memory, valid until the next call in this thread. Undefined when it did nothing (not
 * applicable, not available, or no coordinate inside the source): the caller does every pixel.
 */
export function cubic4Rgb8Wasm(job: WarpJob): Int32Array | undefined {
  const { data, W, H, C, mask, srcX, srcY, count: n } = job;
  if (
    !enabled ||
    C !== 3 ||
    !job.isByte ||
    !(data instanceof Uint8Array) ||
    !(srcX instanceof Float32Array) ||
    !(srcY instanceof Float32Array)
  )
    return undefined;
  const k = instance();
  if (!k) return undefined;
  const sx = align(k.heapBase()),
    sy = align(sx + n * 4),
    bounds = align(sy + n * 4);
  let f32 = new Float32Array(memoryOf(k.memory, bounds + 16));
  f32.set(srcX.subarray(0, n), sx >> 2);
  f32.set(srcY.subarray(0, n), sy >> 2);
  k.coordinateBounds(sx, sy, n, bounds);
  f32 = new Float32Array(k.memory.buffer, bounds, 4);
  // The taps of a position u lie in floor(u − 0.5) − 1 … floor(u − 0.5) + 2 (pixel-centre convention, warp-loops.ts).
  const rx0 = Math.max(0, Math.floor(f32[0] - 0.5) - 1),
    rx1 = Math.min(W, Math.floor(f32[1] - 0.5) + 3);
  const ry0 = Math.max(0, Math.floor(f32[2] - 0.5) - 1),
    ry1 = Math.min(H, Math.floor(f32[3] - 0.5) + 3);
  if (!(rx1 > rx0 && ry1 > ry0)) return undefined;
  const rw = rx1 - rx0,
    rh = ry1 - ry0,
    stride = rw * 3;
  if (rh * stride > MAX_REGION_BYTES) return undefined;
  const src = align(bounds + 16),
    msrc = align(src + rh * stride + 16),
    out = align(msrc + (mask ? rh * rw + 16 : 0)),
    outMask = align(out + n * 3 + 16),
    rest = align(outMask + n);
  const u8 = new Uint8Array(memoryOf(k.memory, rest + n * 4));
  copyRegion(u8, src, data, W, rx0, rx1, ry0, ry1);
  if (mask) for (let y = 0; y < rh; y++) u8.set(mask.subarray((ry0 + y) * W + rx0, (ry0 + y) * W + rx1), msrc + y * rw);
  const left = k.cubic4Rgb8(src, stride, rx0, ry0, W, H, mask ? msrc : 0, rw, sx, sy, n, out, outMask, rest);
  job.out.set(u8.subarray(out, out + n * 3));
  job.outMask.set(u8.subarray(outMask, outMask + n));
  return new Int32Array(k.memory.buffer, rest, left);
}

/** Per-axis taps of a separable resampling, as src/raster/warp-two-pass.ts computes them. */
export interface AxisWeights {
  /** First tap (source index) of each column (row). */
  first: Int32Array;
  /** `taps` weights per column (row), not normalised. */
  weights: Float64Array;
  /** Their sum per column (row). */
  sum: Float64Array;
}

/**
 * Both passes of `warpTwoPass` for 8-bit RGB in WebAssembly: the RGB of every target pixel whose column and
 * row are "full" (`colFull`, `rowFull`: the window inside the source), three bytes per pixel of the
 * `width × height` target — a view into the module's memory, valid until the next call in this thread. The
 * caller keeps the rules (masks, nodata, edges) and takes these samples for the pixels whose window is all
 * valid. Undefined when not applicable (not 8-bit RGB, more than eight horizontal taps, nothing full) or
 * not available. Samples are within 1 of the float64 passes (Q14 horizontal weights, float32 vertical).
 */
export function twoPassRgb8Wasm(
  job: WarpJob,
  width: number,
  height: number,
  cols: AxisWeights,
  tapsX: number,
  colFull: Uint8Array,
  rows: AxisWeights,
  tapsY: number,
  rowFull: Uint8Array,
): Uint8Array | undefined {
  const { data, W, C } = job;
  if (!enabled || C !== 3 || !job.isByte || !(data instanceof Uint8Array) || tapsX > 8) return undefined;
  const k = instance();
  if (!k) return undefined;
  // The source region the full columns and rows reach (whole windows: weights outside [from, to) are 0).
  let cx0 = W,
    cx1 = 0,
    ry0 = job.H,
    ry1 = 0;
  for (let i = 0; i < width; i++)
    if (colFull[i]) {
      cx0 = Math.min(cx0, cols.first[i]);
      cx1 = Math.max(cx1, cols.first[i] + tapsX);
    }
  for (let j = 0; j < height; j++)
    if (rowFull[j]) {
      ry0 = Math.min(ry0, rows.first[j]);
      ry1 = Math.max(ry1, rows.first[j] + tapsY);
    }
  if (!(cx1 > cx0 && ry1 > ry0)) return undefined;
  const rw = cx1 - cx0,
    span = ry1 - ry0,
    stride = rw * 3;
  if (span * stride > MAX_REGION_BYTES) return undefined;
  const base = align(k.heapBase());
  const colFirst = base,
    colW = align(colFirst + width * 4),
    rowFirst = align(colW + width * 16),
    rowW = align(rowFirst + height * 4),
    src = align(rowW + height * tapsY * 4),
    hsum = align(src + span * stride + 32),
    out = align(hsum + span * width * 16),
    end = out + width * height * 3 + 16;
  const buffer = memoryOf(k.memory, end);
  const i32 = new Int32Array(buffer),
    i16 = new Int16Array(buffer),
    f32 = new Float32Array(buffer),
    u8 = new Uint8Array(buffer);
  for (let i = 0; i < width; i++) {
    if (!colFull[i]) {
      i32[(colFirst >> 2) + i] = -1;
      continue;
    }
    i32[(colFirst >> 2) + i] = cols.first[i] - cx0;
    const w0 = i * tapsX,
      q0 = (colW >> 1) + i * 8,
      inv = 16384 / cols.sum[i];
    for (let t = 0; t < 8; t++) i16[q0 + t] = t < tapsX ? Math.round(cols.weights[w0 + t] * inv) : 0;
  }
  for (let j = 0; j < height; j++) {
    if (!rowFull[j]) {
      i32[(rowFirst >> 2) + j] = -1;
      continue;
    }
    i32[(rowFirst >> 2) + j] = rows.first[j] - ry0;
    const w0 = j * tapsY,
      inv = 1 / rows.sum[j];
    for (let m = 0; m < tapsY; m++) f32[(rowW >> 2) + w0 + m] = rows.weights[w0 + m] * inv;
  }
  copyRegion(u8, src, data, W, cx0, cx1, ry0, ry1);
  u8.fill(0, src + span * stride, src + span * stride + 32);
  k.twoPassRgb8(src, stride, span, colFirst, colW, width, hsum, rowFirst, rowW, tapsY, height, out);
  return new Uint8Array(k.memory.buffer, out, width * height * 3);
}
