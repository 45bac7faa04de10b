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

export type SampleType = 'uint8' | 'float32';

export interface RasterImage {
  /** Pixel-interleaved samples, `width × height × channels`. */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
  /** One byte per pixel, 0 = no data. Absent = every pixel is data. */
  mask?: Uint8Array;
  sampleType: SampleType;
}

export interface WarpCoordinates {
  /** Source pixel-corner positions of every target pixel centre (row-major); NaN = no source. */
  srcX: Float32Array | Float64Array;
  srcY: Float32Array | Float64Array;
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
  let sumX = 0, sumY = 0, n = 0;
  for (let j = 0; j + 1 < height; j += stepJ) {
    for (let i = 0; i + 1 < width; i += stepI) {
      const o = j * width + i;
      const x0 = srcX[o], y0 = srcY[o];
      const xi = srcX[o + 1], yi = srcY[o + 1];
      const xj = srcX[o + width], yj = srcY[o + width];
      const rx = Math.abs(xi - x0) + Math.abs(xj - x0);
      const ry = Math.abs(yi - y0) + Math.abs(yj - y0);
      if (!Number.isFinite(rx) || !Number.isFinite(ry)) continue;
      sumX += rx; sumY += ry; n++;
    }
  }
  if (n === 0) return { x: 1, y: 1 };
  return { x: sumX / n, y: sumY / n };
}

/** Resamples `src` at `coords` with `kernel`. See the module comment for the rules. */
export function warp(req: WarpRequest): WarpResult {
  const { src, coords, dst, nodata } = req;
  const W = src.width, H = src.height, C = src.channels;
  const data = src.data;
  const mask = src.mask;
  const count = dst.width * dst.height;
  if (coords.srcX.length < count || coords.srcY.length < count) throw new RangeError('coords are smaller than the target');
  if (data.length < W * H * C) throw new RangeError('source data is smaller than width × height × channels');
  if (mask && mask.length < W * H) throw new RangeError('source mask is smaller than width × height');
  if (nodata.length < C) throw new RangeError(`nodata needs ${C} values`);
  const isByte = src.sampleType === 'uint8';
  const out = isByte ? new Uint8Array(count * C) : new Float32Array(count * C);
  const outMask = new Uint8Array(count);
  const srcX = coords.srcX, srcY = coords.srcY;

  const writeNodata = (o: number): void => {
    for (let c = 0; c < C; c++) out[o * C + c] = nodata[c];
  };

  if (req.kernel === 'nn') {
    for (let o = 0; o < count; o++) {
      const sx = srcX[o], sy = srcY[o];
      // The negated test also rejects NaN.
      if (!(sx >= 0 && sx < W && sy >= 0 && sy < H)) { writeNodata(o); continue; }
      const p = (sy | 0) * W + (sx | 0);
      if (mask !== undefined && mask[p] === 0) { writeNodata(o); continue; }
      for (let c = 0; c < C; c++) out[o * C + c] = data[p * C + c];
      outMask[o] = 255;
    }
    return { data: out, mask: outMask };
  }

  const kernel = KERNELS[req.kernel];
  if (!kernel) throw new RangeError(`unknown resampling kernel '${req.kernel}'`);
  const weightOf = kernel.weight;
  const scale = req.scale ?? estimateScale(coords, dst.width, dst.height);
  const widenX = scale.x > WIDEN_ABOVE_RATIO;
  const widenY = scale.y > WIDEN_ABOVE_RATIO;
  const ratioX = widenX ? scale.x : 1;
  const ratioY = widenY ? scale.y : 1;
  const invRatioX = 1 / ratioX, invRatioY = 1 / ratioY;
  // Taps per axis: source indices floor(u) - half + 1 … floor(u) + half.
  const halfX = widenX ? Math.ceil(kernel.radius * ratioX) : kernel.radius;
  const halfY = widenY ? Math.ceil(kernel.radius * ratioY) : kernel.radius;
  const tapsX = 2 * halfX, tapsY = 2 * halfY;
  const cubicFallback = req.kernel === 'bicubic' && !widenX && !widenY;

  // Scratch buffers reused for every pixel: no allocation in the loop.
  const wx = new Float64Array(tapsX);
  const wy = new Float64Array(tapsY);
  const acc = new Float64Array(C);
  const row = new Float64Array(C);
  const lx = new Float64Array(2), ly = new Float64Array(2);

  for (let o = 0; o < count; o++) {
    const sx = srcX[o], sy = srcY[o];
    if (!(sx >= 0 && sx < W && sy >= 0 && sy < H)) { writeNodata(o); continue; }
    if (mask !== undefined && mask[(sy | 0) * W + (sx | 0)] === 0) { writeNodata(o); continue; }

    // Continuous position in pixel-centre units: source pixel k sits at distance k - u.
    const u = sx - 0.5, v = sy - 0.5;
    const ix = Math.floor(u), iy = Math.floor(v);
    const fx = u - ix, fy = v - iy;
    const x0 = ix - halfX + 1, y0 = iy - halfY + 1;

    let sumWx = 0, sumWy = 0;
    if (cubicFallback) {
      // Keys a = −0.5 at distances 1+f, f, 1−f, 2−f: the four weights sum to 1.
      cubicWeights(fx, wx); cubicWeights(fy, wy); sumWx = 1; sumWy = 1;
    } else {
      for (let t = 0; t < tapsX; t++) { const w = weightOf((t - halfX + 1 - fx) * invRatioX); wx[t] = w; sumWx += w; }
      for (let t = 0; t < tapsY; t++) { const w = weightOf((t - halfY + 1 - fy) * invRatioY); wy[t] = w; sumWy += w; }
    }

    let full = x0 >= 0 && y0 >= 0 && x0 + tapsX <= W && y0 + tapsY <= H;
    if (full && mask !== undefined && tapsX === 4 && tapsY === 4) {
      const r0 = y0 * W + x0, r1 = r0 + W, r2 = r1 + W, r3 = r2 + W;
      // Any zero byte makes the product zero (mask values are 0..255, the product fits a double exactly).
      full = mask[r0] * mask[r0 + 1] * mask[r0 + 2] * mask[r0 + 3] * mask[r1] * mask[r1 + 1] * mask[r1 + 2] * mask[r1 + 3] !== 0 &&
        mask[r2] * mask[r2 + 1] * mask[r2 + 2] * mask[r2 + 3] * mask[r3] * mask[r3 + 1] * mask[r3 + 2] * mask[r3 + 3] !== 0;
    } else if (full && mask !== undefined) {
      for (let m = 0; m < tapsY && full; m++) {
        const r = (y0 + m) * W + x0;
        for (let t = 0; t < tapsX; t++) if (mask[r + t] === 0) { full = false; break; }
      }
    }

    const base = o * C;
    if (full && tapsX === 4 && tapsY === 4) {
      // Hot path (bicubic, no widening, all 16 taps valid): separable, weights in locals.
      const inv = 1 / (sumWx * sumWy);
      const a0 = wx[0] * inv, a1 = wx[1] * inv, a2 = wx[2] * inv, a3 = wx[3] * inv;
      const b0 = wy[0], b1 = wy[1], b2 = wy[2], b3 = wy[3];
      const rowStride = W * C;
      const p0 = (y0 * W + x0) * C, p1 = p0 + rowStride, p2 = p1 + rowStride, p3 = p2 + rowStride;
      const C2 = 2 * C, C3 = 3 * C;
      for (let c = 0; c < C; c++) {
        const val =
          b0 * (a0 * data[p0 + c] + a1 * data[p0 + C + c] + a2 * data[p0 + C2 + c] + a3 * data[p0 + C3 + c]) +
          b1 * (a0 * data[p1 + c] + a1 * data[p1 + C + c] + a2 * data[p1 + C2 + c] + a3 * data[p1 + C3 + c]) +
          b2 * (a0 * data[p2 + c] + a1 * data[p2 + C + c] + a2 * data[p2 + C2 + c] + a3 * data[p2 + C3 + c]) +
          b3 * (a0 * data[p3 + c] + a1 * data[p3 + C + c] + a2 * data[p3 + C2 + c] + a3 * data[p3 + C3 + c]);
        if (isByte) out[base + c] = val <= 0 ? 0 : val >= 255 ? 255 : val + 0.5;
        else out[base + c] = val;
      }
      outMask[o] = 255;
      continue;
    }
    if (full && tapsX === 2 && tapsY === 2) {
      // Hot path (bilinear, no widening, all 4 taps valid).
      const inv = 1 / (sumWx * sumWy);
      const a0 = wx[0] * inv, a1 = wx[1] * inv, b0 = wy[0], b1 = wy[1];
      const p0 = (y0 * W + x0) * C, p1 = p0 + W * C;
      for (let c = 0; c < C; c++) {
        const val = b0 * (a0 * data[p0 + c] + a1 * data[p0 + C + c]) + b1 * (a0 * data[p1 + c] + a1 * data[p1 + C + c]);
        if (isByte) out[base + c] = val <= 0 ? 0 : val >= 255 ? 255 : val + 0.5;
        else out[base + c] = val;
      }
      outMask[o] = 255;
      continue;
    }

    for (let c = 0; c < C; c++) acc[c] = 0;
    let total: number;
    if (full && C === 3) {
      // Separable, RGB in locals (the widened kernels spend their time here).
      let r = 0, g = 0, b = 0;
      for (let m = 0; m < tapsY; m++) {
        let rr = 0, gg = 0, bb = 0;
        let p = ((y0 + m) * W + x0) * 3;
        for (let t = 0; t < tapsX; t++, p += 3) {
          const w = wx[t];
          rr += w * data[p]; gg += w * data[p + 1]; bb += w * data[p + 2];
        }
        const w = wy[m];
        r += w * rr; g += w * gg; b += w * bb;
      }
      acc[0] = r; acc[1] = g; acc[2] = b;
      total = sumWx * sumWy;
    } else if (full && C === 1) {
      let v = 0;
      for (let m = 0; m < tapsY; m++) {
        let vv = 0;
        const p = (y0 + m) * W + x0;
        for (let t = 0; t < tapsX; t++) vv += wx[t] * data[p + t];
        v += wy[m] * vv;
      }
      acc[0] = v;
      total = sumWx * sumWy;
    } else if (full) {
      // Separable: horizontal pass per row, then the row weight.
      for (let m = 0; m < tapsY; m++) {
        for (let c = 0; c < C; c++) row[c] = 0;
        let p = ((y0 + m) * W + x0) * C;
        for (let t = 0; t < tapsX; t++) {
          const w = wx[t];
          for (let c = 0; c < C; c++) row[c] += w * data[p + c];
          p += C;
        }
        const w = wy[m];
        for (let c = 0; c < C; c++) acc[c] += w * row[c];
      }
      total = sumWx * sumWy;
    } else if (cubicFallback) {
      // Bilinear over the valid pixels of the 2×2 neighbourhood (GDAL's 4-sample cubic does the same).
      lx[0] = 1 - fx; lx[1] = fx; ly[0] = 1 - fy; ly[1] = fy;
      total = 0;
      for (let m = 0; m < 2; m++) {
        const yy = iy + m;
        if (yy < 0 || yy >= H) continue;
        for (let t = 0; t < 2; t++) {
          const xx = ix + t;
          if (xx < 0 || xx >= W) continue;
          const q = yy * W + xx;
          if (mask !== undefined && mask[q] === 0) continue;
          const w = lx[t] * ly[m];
          total += w;
          for (let c = 0; c < C; c++) acc[c] += w * data[q * C + c];
        }
      }
    } else {
      // Generic: only valid taps inside the source, weights renormalised.
      total = 0;
      const mStart = Math.max(0, -y0), mEnd = Math.min(tapsY, H - y0);
      const tStart = Math.max(0, -x0), tEnd = Math.min(tapsX, W - x0);
      for (let m = mStart; m < mEnd; m++) {
        const r = (y0 + m) * W + x0;
        const wym = wy[m];
        for (let t = tStart; t < tEnd; t++) {
          const q = r + t;
          if (mask !== undefined && mask[q] === 0) continue;
          const w = wx[t] * wym;
          total += w;
          for (let c = 0; c < C; c++) acc[c] += w * data[q * C + c];
        }
      }
    }

    if (!(total > MIN_WEIGHT)) { writeNodata(o); continue; }
    const inv = 1 / total;
    if (isByte) {
      for (let c = 0; c < C; c++) {
        const val = acc[c] * inv;
        // Round half up, clamp (a Uint8Array store truncates).
        out[base + c] = val <= 0 ? 0 : val >= 255 ? 255 : val + 0.5;
      }
    } else {
      for (let c = 0; c < C; c++) out[base + c] = acc[c] * inv;
    }
    outMask[o] = 255;
  }
  return { data: out, mask: outMask };
}

/** Catmull-Rom weights of the taps at offsets −1, 0, 1, 2 from floor(u), for the fraction f. */
function cubicWeights(f: number, w: Float64Array): void {
  const f2 = f * f, f3 = f2 * f;
  w[0] = -0.5 * f3 + f2 - 0.5 * f;
  w[1] = 1.5 * f3 - 2.5 * f2 + 1;
  w[2] = -1.5 * f3 + 2 * f2 + 0.5 * f;
  w[3] = 0.5 * f3 - 0.5 * f2;
}
