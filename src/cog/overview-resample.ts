/**
 * Overview pixels as GDAL computes its AVERAGE overviews (issue 12 "each overview matches GDAL's
 * average overview of the level above"): destination pixel i covers the source interval
 * [i·r, (i+1)·r) with r = source size / overview size, each source pixel weighted by its overlap,
 * invalid pixels left out, the result rounded for 8-bit samples. With r = 2 this is the plain mean of
 * a 2×2 block; with an odd-sized source (375 → 187, r = 2.005) the windows drift as GDAL's do, so
 * our overview stays where readers place it (they scale the full extent to the overview size).
 */

/** Source pixels and weights of each destination pixel along one axis. */
export interface AxisWindows {
  start: Int32Array;
  count: Uint8Array;
  /** `weights[i * 4 + k]`: weight of source `start[i] + k` (a window spans at most 4 source pixels here). */
  weights: Float64Array;
}

export function axisWindows(srcSize: number, dstSize: number, dstStart: number, dstCount: number): AxisWindows {
  const r = srcSize / dstSize;
  const start = new Int32Array(dstCount);
  const count = new Uint8Array(dstCount);
  const weights = new Float64Array(dstCount * 4);
  for (let i = 0; i < dstCount; i++) {
    const a = (dstStart + i) * r;
    const b = Math.min(srcSize, (dstStart + i + 1) * r);
    const s0 = Math.floor(a);
    const s1 = Math.min(srcSize, Math.ceil(b));
    start[i] = s0;
    let n = 0;
    for (let s = s0; s < s1 && n < 4; s++) {
      const w = Math.min(s + 1, b) - Math.max(s, a);
      weights[i * 4 + n++] = w > 1e-9 ? w : 0;
    }
    count[i] = n;
  }
  return { start, count, weights };
}

export interface ResampleInput {
  /** Source rows [firstRow, firstRow + rows) of a level `width × height`, pixel-interleaved. */
  data: Uint8Array | Float32Array;
  mask?: Uint8Array;
  width: number;
  height: number;
  firstRow: number;
  rows: number;
  channels: number;
}

/** Consecutive source rows [firstRow, firstRow + rows) of a level, as one strip delivered them. */
export interface RowPart {
  data: Uint8Array | Float32Array;
  mask?: Uint8Array;
  firstRow: number;
  rows: number;
}

/**
 * Source rows of an overview strip as the strips of the level above delivered them, in row order (the
 * COG writer moves them to the task instead of copying them into one buffer: src/cog/cog-writer.ts).
 */
export interface PartedInput {
  parts: RowPart[];
  width: number;
  height: number;
  channels: number;
}

/**
 * {@link resampleRows} of rows held in parts: the 2 × 2 path reads the parts in place (each source row pair
 * lies in one part when parts start and end on even rows, as strips of even height do); otherwise the parts
 * are joined first.
 */
export function resamplePartedRows(
  src: PartedInput,
  dstWidth: number,
  dstHeight: number,
  dstRow: number,
  dstRows: number,
  fill: number,
): { data: Uint8Array | Float32Array; mask?: Uint8Array } {
  const pairsInParts =
    src.parts.length === 1 || src.parts.every((p) => p.firstRow % 2 === 0 && (p.rows % 2 === 0 || p.firstRow + p.rows === src.height));
  if (src.parts[0].data instanceof Uint8Array && src.width === 2 * dstWidth && src.height === 2 * dstHeight && pairsInParts)
    return halveParts(src, dstWidth, dstRow, dstRows, fill);
  return resampleRowsWeighted(joinParts(src), dstWidth, dstHeight, dstRow, dstRows, fill);
}

/** The parts as one {@link ResampleInput} (a copy, unless there is one part). */
export function joinParts(src: PartedInput): ResampleInput {
  const { parts, width, channels } = src;
  const firstRow = parts[0].firstRow;
  const rows = parts[parts.length - 1].firstRow + parts[parts.length - 1].rows - firstRow;
  const common = { width, height: src.height, channels, firstRow, rows };
  if (parts.length === 1) return { ...common, data: parts[0].data, ...(parts[0].mask ? { mask: parts[0].mask } : {}) };
  const rowLen = width * channels;
  const data = parts[0].data instanceof Float32Array ? new Float32Array(rows * rowLen) : new Uint8Array(rows * rowLen);
  const mask = parts[0].mask ? new Uint8Array(rows * width) : undefined;
  for (const p of parts) {
    data.set(p.data.subarray(0, p.rows * rowLen), (p.firstRow - firstRow) * rowLen);
    if (mask && p.mask) mask.set(p.mask.subarray(0, p.rows * width), (p.firstRow - firstRow) * width);
  }
  return { ...common, data, ...(mask ? { mask } : {}) };
}

/**
 * Rows [dstRow, dstRow + dstRows) of the overview `dstWidth × dstHeight` of `src`. `src` must hold
 * every source row those rows need ({@link sourceRowsFor}). Pixels without any valid source pixel get
 * `fill` and mask 0; the output mask is present when the input has one.
 */
export function resampleRows(
  src: ResampleInput,
  dstWidth: number,
  dstHeight: number,
  dstRow: number,
  dstRows: number,
  fill: number,
): { data: Uint8Array | Float32Array; mask?: Uint8Array } {
  return resamplePartedRows(
    { parts: [src], width: src.width, height: src.height, channels: src.channels },
    dstWidth,
    dstHeight,
    dstRow,
    dstRows,
    fill,
  );
}

/**
 * {@link resampleRows} when the level above is exactly twice the overview each way (every level of a
 * power-of-two-sized COG, most of any other): each pixel is the mean of its 2 × 2 valid source pixels,
 * every weight 1. The same expression as the weighted loop (`floor(sum / n + 0.5)` on the same integers),
 * so the same bytes, without the per-pixel weight lookups (the overview pass cost ~2 s per worker on M).
 */
export function halveBytes(
  src: ResampleInput & { data: Uint8Array },
  dstWidth: number,
  dstRow: number,
  dstRows: number,
  fill: number,
): { data: Uint8Array; mask?: Uint8Array } {
  return halveParts({ parts: [src], width: src.width, height: src.height, channels: src.channels }, dstWidth, dstRow, dstRows, fill);
}

/** {@link halveBytes} over rows held in parts; a row pair must lie in one part. */
function halveParts(
  src: PartedInput,
  dstWidth: number,
  dstRow: number,
  dstRows: number,
  fill: number,
): { data: Uint8Array; mask?: Uint8Array } {
  const { width, channels: C, parts } = src;
  const out = new Uint8Array(dstWidth * dstRows * C);
  const outMask = parts[0].mask ? new Uint8Array(dstWidth * dstRows) : undefined;
  const sums = new Int32Array(C);
  let k = 0;
  for (let j = 0; j < dstRows; j++) {
    const y = 2 * (dstRow + j);
    while (k < parts.length - 1 && y >= parts[k].firstRow + parts[k].rows) k++;
    const part = parts[k];
    const data = part.data as Uint8Array;
    const mask = part.mask;
    const y0 = y - part.firstRow;
    if (y0 < 0 || y0 + 2 > part.rows) throw new RangeError(`overview row ${dstRow + j} needs source rows the strip does not hold`);
    const top = y0 * width;
    const bottom = top + width;
    for (let i = 0; i < dstWidth; i++) {
      const o = (j * dstWidth + i) * C;
      const p00 = top + 2 * i;
      const p10 = bottom + 2 * i;
      if (!mask || (mask[p00] !== 0 && mask[p00 + 1] !== 0 && mask[p10] !== 0 && mask[p10 + 1] !== 0)) {
        // All four valid (most pixels of a masked level too): no per-pixel bookkeeping.
        const a = p00 * C,
          b = a + C,
          c0 = p10 * C,
          d = c0 + C;
        // floor(sum / 4 + 0.5) on non-negative integers, as a shift.
        for (let c = 0; c < C; c++) out[o + c] = (data[a + c] + data[b + c] + data[c0 + c] + data[d + c] + 2) >> 2;
        if (outMask) outMask[j * dstWidth + i] = 255;
        continue;
      }
      let n = 0;
      sums.fill(0);
      for (let q = 0; q < 4; q++) {
        const p = (q < 2 ? p00 : p10) + (q & 1);
        if (mask[p] === 0) continue;
        n++;
        for (let c = 0; c < C; c++) sums[c] += data[p * C + c];
      }
      if (n === 0) {
        for (let c = 0; c < C; c++) out[o + c] = fill;
        continue; // outMask stays 0
      }
      for (let c = 0; c < C; c++) out[o + c] = Math.floor(sums[c] / n + 0.5);
      outMask![j * dstWidth + i] = 255;
    }
  }
  return { data: out, ...(outMask ? { mask: outMask } : {}) };
}

/** {@link resampleRows} for any ratio and sample type: windows weighted by their overlap. */
export function resampleRowsWeighted(
  src: ResampleInput,
  dstWidth: number,
  dstHeight: number,
  dstRow: number,
  dstRows: number,
  fill: number,
): { data: Uint8Array | Float32Array; mask?: Uint8Array } {
  const { data, mask, width, channels: C } = src;
  const xw = axisWindows(width, dstWidth, 0, dstWidth);
  const yw = axisWindows(src.height, dstHeight, dstRow, dstRows);
  const isByte = data instanceof Uint8Array;
  const out = isByte ? new Uint8Array(dstWidth * dstRows * C) : new Float32Array(dstWidth * dstRows * C);
  const outMask = mask ? new Uint8Array(dstWidth * dstRows) : undefined;
  const sums = new Float64Array(C);
  for (let j = 0; j < dstRows; j++) {
    const y0 = yw.start[j] - src.firstRow;
    const ny = yw.count[j];
    if (y0 < 0 || y0 + ny > src.rows) throw new RangeError(`overview row ${dstRow + j} needs source rows the strip does not hold`);
    for (let i = 0; i < dstWidth; i++) {
      const x0 = xw.start[i],
        nx = xw.count[i];
      let wsum = 0;
      sums.fill(0);
      for (let ky = 0; ky < ny; ky++) {
        const wy = yw.weights[j * 4 + ky];
        if (wy === 0) continue;
        const row = (y0 + ky) * width;
        for (let kx = 0; kx < nx; kx++) {
          const p = row + x0 + kx;
          if (mask && mask[p] === 0) continue;
          const w = wy * xw.weights[i * 4 + kx];
          if (w === 0) continue;
          wsum += w;
          const b = p * C;
          for (let c = 0; c < C; c++) sums[c] += w * data[b + c];
        }
      }
      const o = (j * dstWidth + i) * C;
      if (wsum === 0) {
        for (let c = 0; c < C; c++) out[o + c] = fill;
        if (outMask) outMask[j * dstWidth + i] = 0;
        continue;
      }
      for (let c = 0; c < C; c++) out[o + c] = isByte ? Math.floor(sums[c] / wsum + 0.5) : sums[c] / wsum;
      if (outMask) outMask[j * dstWidth + i] = 255;
    }
  }
  return { data: out, ...(outMask ? { mask: outMask } : {}) };
}

/** Source rows [first, end) that overview rows [dstRow, dstRow + dstRows) read. */
export function sourceRowsFor(srcHeight: number, dstHeight: number, dstRow: number, dstRows: number): [number, number] {
  const r = srcHeight / dstHeight;
  return [Math.floor(dstRow * r), Math.min(srcHeight, Math.ceil((dstRow + dstRows) * r))];
}
