/**
 * Upper pyramid levels from their children (specs/rok4.md §8.5, ROK4 `merge4tiff`, quad-tree TMS):
 * join the four child slabs into one image twice their size, halve it with a 2×2 average, and, for
 * updates, take background pixels where the result has no data. Pure functions over typed arrays.
 */
import type { SampleType } from './warp.js';

export interface Slab {
  /** Pixel-interleaved samples, `width × height × channels`. */
  data: Uint8Array | Float32Array;
  /** One byte per pixel, 0 = no data; absent = every pixel is data (mask 255). */
  mask?: Uint8Array;
}

export interface SlabImage extends Slab {
  width: number;
  height: number;
  channels: number;
  sampleType: SampleType;
}

export interface MaskedImage {
  data: Uint8Array | Float32Array;
  mask: Uint8Array;
}

/**
 * How the output mask of a 2×2 block is derived:
 * - `'rok4'` (default): floor of the mean of the four mask values, byte-identical to merge4tiff (mask
 *   values decay 255 → 63 → 15 → 3 → 0 around isolated data pixels);
 * - `'any'`: 255 when any of the four pixels is data, else 0 — the compatible simplification of §8.5
 *   (readers only test mask ≠ 0), which never drops a pixel that holds averaged data.
 */
export type MaskRule = 'rok4' | 'any';

function newSamples(sampleType: SampleType, length: number): Uint8Array | Float32Array {
  return sampleType === 'uint8' ? new Uint8Array(length) : new Float32Array(length);
}

/**
 * Halves an image with ROK4's 2×2 rule (§8.5). Output is `floor(width/2) × floor(height/2)`.
 * - `useMask`: each channel = sum of the block's data pixels (mask ≠ 0) / their count, truncated for
 *   uint8 (floor), exact for float32; a block without data takes its top-left pixel (a nodata value);
 * - without masks: plain mean of the four pixels, nodata included, truncated for uint8;
 * - output mask per `maskRule`; a missing input mask counts as 255 everywhere.
 * A block without data (with `useMask`) gets its top-left pixel under `'rok4'` (byte-identical to
 * merge4tiff, which relies on that pixel holding nodata), `nodata` under `'any'`.
 */
export function average2x2(image: SlabImage, useMask: boolean, nodata: readonly number[], maskRule: MaskRule = 'rok4'): MaskedImage {
  const { data, mask, width, height, channels: C, sampleType } = image;
  const ow = width >> 1,
    oh = height >> 1;
  const out = newSamples(sampleType, ow * oh * C);
  const outMask = new Uint8Array(ow * oh);
  const isByte = sampleType === 'uint8';
  const rowStride = width * C;
  const sums = new Float64Array(C);

  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const p00 = 2 * y * width + 2 * x; // top-left pixel index
      const p10 = p00 + 1,
        p01 = p00 + width,
        p11 = p01 + 1;
      const m00 = mask ? mask[p00] : 255,
        m10 = mask ? mask[p10] : 255;
      const m01 = mask ? mask[p01] : 255,
        m11 = mask ? mask[p11] : 255;
      const o = y * ow + x;
      outMask[o] = maskRule === 'rok4' ? (m00 + m10 + m01 + m11) >> 2 : (m00 | m10 | m01 | m11) !== 0 ? 255 : 0;
      const d00 = p00 * C,
        d10 = d00 + C,
        d01 = d00 + rowStride,
        d11 = d01 + C;
      const ob = o * C;
      if (!useMask) {
        for (let c = 0; c < C; c++) {
          const mean = (data[d00 + c] + data[d10 + c] + data[d01 + c] + data[d11 + c]) / 4;
          out[ob + c] = isByte ? Math.floor(mean) : mean;
        }
        continue;
      }
      let n = 0;
      sums.fill(0);
      if (m00 !== 0) {
        n++;
        for (let c = 0; c < C; c++) sums[c] += data[d00 + c];
      }
      if (m10 !== 0) {
        n++;
        for (let c = 0; c < C; c++) sums[c] += data[d10 + c];
      }
      if (m01 !== 0) {
        n++;
        for (let c = 0; c < C; c++) sums[c] += data[d01 + c];
      }
      if (m11 !== 0) {
        n++;
        for (let c = 0; c < C; c++) sums[c] += data[d11 + c];
      }
      if (n === 0) {
        // §8.5: ROK4 copies the block's top-left pixel (nodata in slabs written by ROK4 or by us);
        // with the 'any' rule we write nodata itself, since nothing there is data.
        if (maskRule === 'rok4') for (let c = 0; c < C; c++) out[ob + c] = data[d00 + c];
        else for (let c = 0; c < C; c++) out[ob + c] = nodata[c];
        continue;
      }
      for (let c = 0; c < C; c++) {
        const mean = sums[c] / n;
        out[ob + c] = isByte ? Math.floor(mean) : mean;
      }
    }
  }
  return { data: out, mask: outMask };
}

/**
 * Joins four child slabs, each `width × height`, into one `2·width × 2·height` image (§8.5:
 * children (2c,2r) top-left, (2c+1,2r) top-right, (2c,2r+1) bottom-left, (2c+1,2r+1) bottom-right).
 * A `null` child is nodata with mask 0; a child without mask gets mask 255. Row copies only.
 */
export function assembleQuadrants(
  children: readonly [Slab | null, Slab | null, Slab | null, Slab | null],
  width: number,
  height: number,
  channels: number,
  sampleType: SampleType,
  nodata: readonly number[],
): MaskedImage {
  const W = 2 * width,
    C = channels;
  const out = newSamples(sampleType, W * 2 * height * C);
  const outMask = new Uint8Array(W * 2 * height);
  const childRow = width * C;
  let nodataRow: Uint8Array | Float32Array | undefined;
  for (let q = 0; q < 4; q++) {
    const child = children[q];
    const ox = (q & 1) * width,
      oy = (q >> 1) * height;
    if (child === null) {
      if (!nodataRow) {
        nodataRow = newSamples(sampleType, childRow);
        for (let i = 0; i < width; i++) for (let c = 0; c < C; c++) nodataRow[i * C + c] = nodata[c];
      }
      for (let y = 0; y < height; y++) out.set(nodataRow, ((oy + y) * W + ox) * C);
      continue; // mask already 0
    }
    if (child.data.length < width * height * C) throw new RangeError(`child ${q} is smaller than ${width}×${height}×${C}`);
    for (let y = 0; y < height; y++) {
      const s = y * childRow;
      out.set(child.data.subarray(s, s + childRow), ((oy + y) * W + ox) * C);
      const d = (oy + y) * W + ox;
      if (child.mask) outMask.set(child.mask.subarray(y * width, (y + 1) * width), d);
      else outMask.fill(255, d, d + width);
    }
  }
  return { data: out, mask: outMask };
}

/**
 * Update background rule (§8.5 last bullet, §8.7): where `image.mask` is 0, take the background's
 * pixel and mask value (255 where the background has no mask); elsewhere keep the image. Modifies
 * `image` in place and returns it.
 */
export function fillFromBackground(image: MaskedImage, background: Slab, channels: number): MaskedImage {
  const { data, mask } = image;
  const C = channels;
  const n = mask.length;
  if (background.data.length < n * C) throw new RangeError('background is smaller than the image');
  for (let p = 0; p < n; p++) {
    if (mask[p] !== 0) continue;
    const b = p * C;
    for (let c = 0; c < C; c++) data[b + c] = background.data[b + c];
    mask[p] = background.mask ? background.mask[p] : 255;
  }
  return image;
}
