/**
 * The WebAssembly SIMD bicubic (assembly/warp-kernels.ts, built to dist/assembly/warp-kernels.wasm) behind
 * `warpCubic4` for 8-bit RGB: the pyramid's bottom level spends most of its CPU there (issue 16). Per call
 * the coordinates and the source region they reach are copied into the module's memory (a 256² tile at
 * 1.1–1.5 source pixels per target pixel: ~0.5 MB of coordinates and ~0.3 MB of source), the kernel
 * resamples every pixel whose sixteen taps are inside the source and valid, and returns the others, which
 * the JavaScript loop takes with the full rules (nodata, bilinear at the edges). ~2.5x faster than the
 * JavaScript loop for the same pixels; samples differ from it by at most 1 (Q14 weights).
 *
 * One instance per thread (a module-level singleton: each worker thread has its own), its memory grown to
 * the largest call and kept.
 */
import { readFileSync } from 'node:fs';
import type { WarpJob } from './warp-loops.js';

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
}

/** Above this many bytes of source region a call stays in JavaScript (a tile scattered over the source). */
const MAX_REGION_BYTES = 64 << 20;

let kernels: Kernels | null | undefined;
let enabled = process.env.DALLAGE_WASM_WARP !== 'off';

function instance(): Kernels | null {
  if (kernels === undefined) {
    try {
      const bytes = readFileSync(new URL('../../assembly/warp-kernels.wasm', import.meta.url));
      kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Kernels;
    } catch {
      // Not built (tsc alone) or no WebAssembly SIMD: the JavaScript loop does everything.
      kernels = null;
    }
  }
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

function memoryOf(k: Kernels, bytes: number): ArrayBuffer {
  const missing = bytes - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  return k.memory.buffer;
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
  let f32 = new Float32Array(memoryOf(k, bounds + 16));
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
  const u8 = new Uint8Array(memoryOf(k, rest + n * 4));
  if (rw === W) u8.set(data.subarray(ry0 * stride, ry1 * stride), src);
  else for (let y = 0; y < rh; y++) u8.set(data.subarray(((ry0 + y) * W + rx0) * 3, ((ry0 + y) * W + rx1) * 3), src + y * stride);
  if (mask) for (let y = 0; y < rh; y++) u8.set(mask.subarray((ry0 + y) * W + rx0, (ry0 + y) * W + rx1), msrc + y * rw);
  const left = k.cubic4Rgb8(src, stride, rx0, ry0, W, H, mask ? msrc : 0, rw, sx, sy, n, out, outMask, rest);
  job.out.set(u8.subarray(out, out + n * 3));
  job.outMask.set(u8.subarray(outMask, outMask + n));
  return new Int32Array(k.memory.buffer, rest, left);
}
