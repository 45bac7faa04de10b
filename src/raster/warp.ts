/**
 * Resampling of a source image onto a target grid, given the source position of every target pixel
 * (from approx-transform.ts). Specs/rok4.md §8.4 (bottom level), DESIGN §6. Pure function over typed
 * arrays; runs in worker threads, one target slab at a time.
 *
 * Rules, chosen to match `gdalwarp -r <kernel> -dstalpha` (our oracle):
 * - A target pixel is valid when its sample position lies inside the source, the source pixel that
 *   contains it is valid (mask ≠ 0), and the valid kernel weights sum to more than 1e-6 (GDAL's
 *   general-case warp kernel skips a target pixel whose "centre" source pixel is invalid, and drops a
 *   sample whose accumulated weight is below 1e-6).
 * - Invalid or out-of-source taps are left out of the weights, which are renormalised.
 * - Downsampling (ratio > 1/0.95 source pixels per target pixel, GDAL's threshold) widens the kernel:
 *   support radius × ratio, weight = kernel(distance / ratio). Nearest neighbour is never widened.
 * - Bicubic without widening falls back to bilinear where any of its 4×4 taps is invalid or outside
 *   the source (as GDAL's 4-sample cubic does): no overshoot from renormalised negative lobes at edges.
 * - uint8 results are rounded half up and clamped to 0..255; float32 results are neither.
 */
import { KERNELS, type KernelName } from './kernels.js';
import { maskBlocks, warpCubic4, warpNearest, warpSeparable, type MaskBlocks, type WarpJob } from './warp-loops.js';
import { separableCoordinates, warpTwoPass } from './warp-two-pass.js';

export { maskBlocks, type MaskBlocks } from './warp-loops.js';

export type SampleType = 'uint8' | 'float32';

export interface RasterImage {
  /** Pixel-interleaved samples, `width × height × channels`. */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
  /** One byte per pixel, 0 = no data. Absent = every pixel is data. */
  mask?: Uint8Array;
  /**
   * `maskBlocks(mask, width, height)` when the caller warps the same source several times (tile by
   * tile): computed once instead of per call. Ignored without `mask`.
   */
  maskBlocks?: MaskBlocks;
  sampleType: SampleType;
}

export interface WarpCoordinates {
  /** Source pixel-corner positions of every target pixel centre (row-major); NaN = no source. */
  srcX: Float32Array | Float64Array;
  srcY: Float32Array | Float64Array;
  /** True when known to be separable (one x per column, one y per row): not scanned again. */
  separable?: boolean;
}

export interface WarpRequest {
  src: RasterImage;
  coords: WarpCoordinates;
  dst: { width: number; height: number };
  kernel: KernelName;
  /** Value written in every channel of invalid target pixels (one per channel). */
  nodata: readonly number[];
  /**
   * Source pixels per target pixel along the source x and y axes. Estimated from `coords` when
   * absent (see `estimateScale`). Values ≤ 1/0.95 mean no widening.
   */
  scale?: { x: number; y: number };
  /**
   * Source pixels per target pixel above which the kernel is widened (anti-aliasing). Default GDAL's
   * 1/0.95. A caller may raise it where the aliasing of a slight downsampling does not matter more
   * than speed (the 4×4 path is ~2.5x cheaper than a widened one).
   */
  widenAbove?: number;
  /**
   * Separable coordinates (one source x per target column, one source y per target row) are resampled in
   * two passes (warp-two-pass.ts), with the same result. `false` keeps the per-pixel loop (tests compare them).
   */
  twoPass?: boolean;
  /**
   * Arrays to write the result into (at least `dst.width × dst.height` pixels) instead of new ones: a caller
   * that consumes the result before its next warp (a WMS map strip) spares the allocation.
   */
  into?: WarpResult;
}

export interface WarpResult {
  /** Same sample type and channel count as the source, `dst.width × dst.height × channels`. */
  data: Uint8Array | Float32Array;
  /** 255 = data, 0 = no data (data holds `nodata` there). */
  mask: Uint8Array;
}

/** GDAL widens the kernel only when the scale (target/source) is below 0.95. */
const WIDEN_ABOVE_RATIO = 1 / 0.95;
/** GDAL's minimum accumulated weight for a sample to count. */
const MIN_WEIGHT = 1e-6;

/**
 * Mean source pixels per target pixel, estimated from finite differences of `coords` on a sparse
 * sample. Along source x: |∂x/∂i| + |∂x/∂j| — the width of a target pixel's footprint projected on
 * the source x axis, which is what GDAL's ratio of source window to target window size amounts to.
 */
export function estimateScale(coords: WarpCoordinates, width: number, height: number): { x: number; y: number } {
  const { srcX, srcY } = coords;
  const stepI = Math.max(1, Math.floor(width / 16));
  const stepJ = Math.max(1, Math.floor(height / 16));
  let sumX = 0,
    sumY = 0,
    n = 0;
  for (let j = 0; j + 1 < height; j += stepJ) {
    for (let i = 0; i + 1 < width; i += stepI) {
      const o = j * width + i;
      const x0 = srcX[o],
        y0 = srcY[o];
      const xi = srcX[o + 1],
        yi = srcY[o + 1];
      const xj = srcX[o + width],
        yj = srcY[o + width];
      const rx = Math.abs(xi - x0) + Math.abs(xj - x0);
      const ry = Math.abs(yi - y0) + Math.abs(yj - y0);
      if (!Number.isFinite(rx) || !Number.isFinite(ry)) continue;
      sumX += rx;
      sumY += ry;
      n++;
    }
  }
  if (n === 0) return { x: 1, y: 1 };
  return { x: sumX / n, y: sumY / n };
}

/**
 * Source pixels per target pixel along the source x and y axes, without the inflation a rotation
 * between the grids adds to {@link estimateScale}: along source x, the length of the gradient of x,
 * √((∂x/∂i)² + (∂x/∂j)²) — for a grid rotated by θ at scale s, s, where the projected footprint is
 * s(|cos θ| + |sin θ|) (7 % more for Lambert-93 against Web Mercator's 4–5°). A downsampling stays a
 * downsampling: a 3x reduction still measures 3, so the kernel still widens.
 */
export function estimateRealScale(coords: WarpCoordinates, width: number, height: number): { x: number; y: number } {
  const { srcX, srcY } = coords;
  const stepI = Math.max(1, Math.floor(width / 16));
  const stepJ = Math.max(1, Math.floor(height / 16));
  let sumX = 0,
    sumY = 0,
    n = 0;
  for (let j = 0; j + 1 < height; j += stepJ) {
    for (let i = 0; i + 1 < width; i += stepI) {
      const o = j * width + i;
      const dxi = srcX[o + 1] - srcX[o],
        dxj = srcX[o + width] - srcX[o];
      const dyi = srcY[o + 1] - srcY[o],
        dyj = srcY[o + width] - srcY[o];
      const rx = Math.hypot(dxi, dxj);
      const ry = Math.hypot(dyi, dyj);
      if (!Number.isFinite(rx) || !Number.isFinite(ry)) continue;
      sumX += rx;
      sumY += ry;
      n++;
    }
  }
  if (n === 0) return { x: 1, y: 1 };
  return { x: sumX / n, y: sumY / n };
}

/** Resamples `src` at `coords` with `kernel`. See the module comment for the rules. */
export function warp(req: WarpRequest): WarpResult {
  const { src, coords, dst, nodata } = req;
  const W = src.width,
    H = src.height,
    C = src.channels;
  const data = src.data;
  const mask = src.mask;
  const count = dst.width * dst.height;
  if (coords.srcX.length < count || coords.srcY.length < count) throw new RangeError('coords are smaller than the target');
  if (data.length < W * H * C) throw new RangeError('source data is smaller than width × height × channels');
  if (mask && mask.length < W * H) throw new RangeError('source mask is smaller than width × height');
  if (nodata.length < C) throw new RangeError(`nodata needs ${C} values`);
  const isByte = src.sampleType === 'uint8';
  const reuse =
    req.into !== undefined &&
    req.into.data instanceof (isByte ? Uint8Array : Float32Array) &&
    req.into.data.length >= count * C &&
    req.into.mask.length >= count;
  const out = reuse ? req.into!.data.subarray(0, count * C) : isByte ? new Uint8Array(count * C) : new Float32Array(count * C);
  const outMask = reuse ? req.into!.mask.subarray(0, count).fill(0) : new Uint8Array(count);
  const job: WarpJob = {
    data,
    W,
    H,
    C,
    mask,
    blocks: undefined,
    srcX: coords.srcX,
    srcY: coords.srcY,
    count,
    out,
    outMask,
    isByte,
    nodata,
  };

  if (req.kernel === 'nn') {
    warpNearest(job);
    return { data: out, mask: outMask };
  }

  const kernel = KERNELS[req.kernel];
  if (!kernel) throw new RangeError(`unknown resampling kernel '${req.kernel}'`);
  const scale = req.scale ?? estimateScale(coords, dst.width, dst.height);
  const widenAbove = req.widenAbove ?? WIDEN_ABOVE_RATIO;
  const widenX = scale.x > widenAbove;
  const widenY = scale.y > widenAbove;
  const ratioX = widenX ? scale.x : 1;
  const ratioY = widenY ? scale.y : 1;
  // Taps per axis: source indices floor(u) - half + 1 … floor(u) + half.
  const halfX = widenX ? Math.ceil(kernel.radius * ratioX) : kernel.radius;
  const halfY = widenY ? Math.ceil(kernel.radius * ratioY) : kernel.radius;
  if (mask !== undefined) {
    // A block table for the "all taps valid" test; no mask at all when no pixel is masked.
    job.blocks = src.maskBlocks ?? maskBlocks(mask, W, H);
    if (job.blocks === undefined) job.mask = undefined;
  }
  if (req.kernel === 'bicubic' && !widenX && !widenY) warpCubic4(job, MIN_WEIGHT);
  else if (
    req.twoPass !== false &&
    // warpSeparable's unrolled 2×2 and 4×4 cases normalise differently: they keep the one-pass loop.
    !(halfX === 1 && halfY === 1) &&
    !(halfX === 2 && halfY === 2) &&
    (coords.separable === true || separableCoordinates(coords.srcX, coords.srcY, dst.width, dst.height))
  )
    warpTwoPass(job, kernel.weight, halfX, halfY, 1 / ratioX, 1 / ratioY, MIN_WEIGHT, dst.width, dst.height);
  else warpSeparable(job, kernel.weight, halfX, halfY, 1 / ratioX, 1 / ratioY, MIN_WEIGHT);
  return { data: out, mask: outMask };
}
