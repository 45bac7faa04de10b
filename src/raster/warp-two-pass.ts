/**
 * Two-pass (horizontal, then vertical) form of warp-loops.ts's `warpSeparable`, for coordinates that are
 * separable: every target column has one source x and every target row one source y (the target grid is
 * axis-aligned in the source — same CRS, or EPSG:4326 onto Web Mercator, whose x depends on longitude only
 * and y on latitude only). A widened kernel then costs tapsX + tapsY multiply-adds per pixel instead of
 * tapsX × tapsY, and its weights are evaluated once per column and once per row instead of per pixel.
 *
 * Results are bit-identical to `warpSeparable`: a row sum Σ wx·v is formed in the same order (left to right,
 * in float64) and kept, then Σ wy·rowSum and the same normalisation and rounding — the one-pass loop does the
 * same arithmetic per pixel. Pixels whose window is not all valid and inside the source take the same
 * per-pixel path as there (`accumulateValid`). For 8-bit RGB with up to eight horizontal taps both passes
 * run in WebAssembly instead (warp-wasm.ts `twoPassRgb8Wasm`): samples within 1, masks identical.
 */
import { cubicWeight, linearWeight } from './kernels.js';
import { accumulateValid, storeAccumulated, windowValid, writeNodata, type WarpJob } from './warp-loops.js';
import { twoPassRgb8Wasm } from './warp-wasm.js';

/**
 * Whether `srcX`/`srcY` (`width × height`, row-major) are separable: each column's x equal to row 0's, each
 * row's y equal to column 0's. Exact equality (a NaN is unequal to itself, so it fails), so that the
 * two-pass result is the one-pass one.
 */
export function separableCoordinates(srcX: ArrayLike<number>, srcY: ArrayLike<number>, width: number, height: number): boolean {
  for (let j = 0; j < height; j++) {
    const o = j * width;
    const y = srcY[o];
    for (let i = 0; i < width; i++) if (srcX[o + i] !== srcX[i] || srcY[o + i] !== y) return false;
  }
  return true;
}

/** Per-axis tap weights of every column (or row): what `warpSeparable` computes per pixel. */
interface AxisTaps {
  /** 1 when the position lies inside the source (0 ≤ s < size). */
  inside: Uint8Array;
  /** Source pixel containing the position (`s | 0`), for the mask test of the pixel itself. */
  cell: Int32Array;
  /** First tap (source index), `floor(s - 0.5) - half + 1`. */
  first: Int32Array;
  /** Non-zero taps [from, to) within the `taps` weights. */
  from: Int32Array;
  to: Int32Array;
  sum: Float64Array;
  /** `taps` weights per position. */
  weights: Float64Array;
}

function axisTaps(
  positions: ArrayLike<number>,
  stride: number,
  n: number,
  size: number,
  half: number,
  invRatio: number,
  kernelId: number,
  weightOf: (x: number) => number,
): AxisTaps {
  const taps = 2 * half;
  const a: AxisTaps = {
    inside: new Uint8Array(n),
    cell: new Int32Array(n),
    first: new Int32Array(n),
    from: new Int32Array(n),
    to: new Int32Array(n),
    sum: new Float64Array(n),
    weights: new Float64Array(n * taps),
  };
  for (let k = 0; k < n; k++) {
    const s = positions[k * stride];
    if (!(s >= 0 && s < size)) continue;
    a.inside[k] = 1;
    a.cell[k] = s | 0;
    const u = s - 0.5;
    const iu = Math.floor(u);
    const f = u - iu;
    a.first[k] = iu - half + 1;
    const w0 = k * taps;
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      // The same expression and calls as warpSeparable, so the same weights.
      const d = (t - half + 1 - f) * invRatio;
      const w = kernelId === 2 ? cubicWeight(d) : kernelId === 1 ? linearWeight(d) : weightOf(d);
      a.weights[w0 + t] = w;
      sum += w;
    }
    a.sum[k] = sum;
    let from = 0,
      to = taps;
    while (from < to && a.weights[w0 + from] === 0) from++;
    while (to > from && a.weights[w0 + to - 1] === 0) to--;
    a.from[k] = from;
    a.to[k] = to;
  }
  return a;
}

/** Row sums of the horizontal pass, kept between calls (a 512² map needs ~10 MB; a worker draws one at a time). */
let rowSums = new Float64Array(0);

/**
 * `warpSeparable` for separable coordinates (see {@link separableCoordinates}); `width × height` is the target.
 */
export function warpTwoPass(
  job: WarpJob,
  weightOf: (x: number) => number,
  halfX: number,
  halfY: number,
  invRatioX: number,
  invRatioY: number,
  minWeight: number,
  width: number,
  height: number,
): void {
  const { data, W, H, C, mask, blocks, srcX, srcY, out, outMask, isByte } = job;
  const tapsX = 2 * halfX,
    tapsY = 2 * halfY;
  const kernelId = weightOf === cubicWeight ? 2 : weightOf === linearWeight ? 1 : 0;
  const cols = axisTaps(srcX, 1, width, W, halfX, invRatioX, kernelId, weightOf);
  const rows = axisTaps(srcY, width, height, H, halfY, invRatioY, kernelId, weightOf);

  // A column (row) whose whole window lies inside the source can be "full"; only those use row sums.
  const colFull = new Uint8Array(width);
  for (let i = 0; i < width; i++) colFull[i] = cols.inside[i] && cols.first[i] >= 0 && cols.first[i] + tapsX <= W ? 1 : 0;
  const rowFull = new Uint8Array(height);
  let r0 = H,
    r1 = 0;
  for (let j = 0; j < height; j++) {
    if (!(rows.inside[j] && rows.first[j] >= 0 && rows.first[j] + tapsY <= H)) continue;
    rowFull[j] = 1;
    r0 = Math.min(r0, rows.first[j] + rows.from[j]);
    r1 = Math.max(r1, rows.first[j] + rows.to[j]);
  }

  // 8-bit RGB: both passes of the full pixels in WebAssembly (samples within 1 of the loops below, which
  // then only apply the rules: masks, nodata, edges). GetMap in EPSG:4326 spends its warp here (issue 10).
  const fast = twoPassRgb8Wasm(job, width, height, cols, tapsX, colFull, rows, tapsY, rowFull);

  // Horizontal pass: Σ wx·v over the non-zero taps of every full column, for every source row used.
  const span = fast ? 0 : Math.max(0, r1 - r0);
  const rowLength = width * C;
  if (rowSums.length < span * rowLength) rowSums = new Float64Array(span * rowLength);
  const sums = rowSums;
  for (let r = r0; r < r0 + span; r++) {
    const line = (r - r0) * rowLength;
    const srcLine = r * W;
    for (let i = 0; i < width; i++) {
      if (!colFull[i]) continue;
      const w0 = i * tapsX;
      const tA = cols.from[i],
        tB = cols.to[i];
      const p = (srcLine + cols.first[i] + tA) * C;
      const q = line + i * C;
      if (C === 3) {
        let rr = 0,
          gg = 0,
          bb = 0;
        for (let t = tA, s = p; t < tB; t++, s += 3) {
          const w = cols.weights[w0 + t];
          rr += w * data[s];
          gg += w * data[s + 1];
          bb += w * data[s + 2];
        }
        sums[q] = rr;
        sums[q + 1] = gg;
        sums[q + 2] = bb;
      } else {
        for (let c = 0; c < C; c++) {
          let v = 0;
          for (let t = tA, s = p + c; t < tB; t++, s += C) v += cols.weights[w0 + t] * data[s];
          sums[q + c] = v;
        }
      }
    }
  }

  // Vertical pass, pixel by pixel, with warpSeparable's rules.
  const wx = new Float64Array(tapsX),
    wy = new Float64Array(tapsY);
  const acc = new Float64Array(C);
  for (let j = 0; j < height; j++) {
    const o0 = j * width;
    if (!rows.inside[j]) {
      for (let i = 0; i < width; i++) writeNodata(job, o0 + i);
      continue;
    }
    const y0 = rows.first[j],
      mA = rows.from[j],
      mB = rows.to[j],
      sumWy = rows.sum[j];
    const wy0 = j * tapsY;
    const maskRow = rows.cell[j] * W;
    // A full row of an unmasked source: runs of full columns are the WebAssembly samples as they are.
    const fastRow = fast !== undefined && mask === undefined && rowFull[j] === 1;
    for (let i = 0; i < width; i++) {
      const o = o0 + i;
      if (fastRow && colFull[i] === 1 && cols.sum[i] * sumWy > minWeight) {
        let end = i + 1;
        while (end < width && colFull[end] === 1 && cols.sum[end] * sumWy > minWeight) end++;
        (out as Uint8Array).set(fast.subarray(o * 3, (o0 + end) * 3), o * 3);
        outMask.fill(255, o, o0 + end);
        i = end - 1;
        continue;
      }
      if (!cols.inside[i] || (mask !== undefined && mask[maskRow + cols.cell[i]] === 0)) {
        writeNodata(job, o);
        continue;
      }
      const x0 = cols.first[i];
      let full = rowFull[j] === 1 && colFull[i] === 1;
      if (full && blocks !== undefined) full = windowValid(blocks, mask!, W, x0, y0, tapsX, tapsY);
      if (!full) {
        for (let t = 0; t < tapsX; t++) wx[t] = cols.weights[i * tapsX + t];
        for (let t = 0; t < tapsY; t++) wy[t] = rows.weights[wy0 + t];
        storeAccumulated(job, o, acc, accumulateValid(job, acc, wx, wy, x0, y0, cols.from[i], cols.to[i], mA, mB), minWeight);
        continue;
      }
      const total = cols.sum[i] * sumWy;
      if (!(total > minWeight)) {
        writeNodata(job, o);
        continue;
      }
      const base = o * C;
      if (fast) {
        out[base] = fast[base];
        out[base + 1] = fast[base + 1];
        out[base + 2] = fast[base + 2];
        outMask[o] = 255;
        continue;
      }
      const inv = 1 / total;
      let p = (y0 + mA - r0) * rowLength + i * C;
      if (C === 3) {
        let r = 0,
          g = 0,
          b = 0;
        for (let m = mA; m < mB; m++, p += rowLength) {
          const w = rows.weights[wy0 + m];
          r += w * sums[p];
          g += w * sums[p + 1];
          b += w * sums[p + 2];
        }
        r *= inv;
        g *= inv;
        b *= inv;
        if (isByte) {
          out[base] = r <= 0 ? 0 : r >= 255 ? 255 : r + 0.5;
          out[base + 1] = g <= 0 ? 0 : g >= 255 ? 255 : g + 0.5;
          out[base + 2] = b <= 0 ? 0 : b >= 255 ? 255 : b + 0.5;
        } else {
          out[base] = r;
          out[base + 1] = g;
          out[base + 2] = b;
        }
      } else {
        for (let c = 0; c < C; c++) {
          let v = 0;
          for (let m = mA, q = p + c; m < mB; m++, q += rowLength) v += rows.weights[wy0 + m] * sums[q];
          v *= inv;
          if (isByte) out[base + c] = v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5;
          else out[base + c] = v;
        }
      }
      outMask[o] = 255;
    }
  }
}
