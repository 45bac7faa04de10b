/**
 * Source pixel positions of a target grid that is axis-aligned in the source: every target column maps
 * to one source x and every target row to one source y (the same CRS, or EPSG:4326 onto Web Mercator,
 * whose x depends on longitude only and y on latitude only). The positions are then exactly separable,
 * which warp.ts resamples in two passes (warp-two-pass.ts), and exact per column and row rather than
 * interpolated.
 */
import { makePixelMapper, type ExactTransform, type GeoTransform, type SourceCoordinates, type TargetGrid } from './approx-transform.js';

/** Probes per axis of the alignment check (the grid's corners, edges and inside). */
const PROBES = 9;

/**
 * The separable positions when the transform is axis-aligned within `maxErrorPixels` (source pixels) at a
 * `PROBES × PROBES` grid of target pixels — a small part of approx-transform.ts's 0.125 px bound — or
 * undefined when it is not (a rotation, a conic projection against a geographic grid, a point that does not
 * transform). A column's x is the exact transform at the grid's middle row, a row's y at its middle column.
 * `into`: arrays to write into (at least `width × height` long) instead of new ones.
 */
export function axisAlignedTransform(
  exact: ExactTransform,
  target: TargetGrid,
  sourceGeoTransform: GeoTransform,
  maxErrorPixels = 0.01,
  into?: { srcX: Float32Array; srcY: Float32Array },
): SourceCoordinates | undefined {
  const { width, height } = target;
  if (width <= 0 || height <= 0) return undefined;
  const toSource = makePixelMapper(exact, target.geoTransform, sourceGeoTransform);
  const midI = (width - 1) / 2,
    midJ = (height - 1) / 2;

  // Probe grid plus the middle row and column through it: x along a column, y along a row, must not vary.
  const at = (k: number, size: number) => Math.round((k * (size - 1)) / (PROBES - 1));
  const pi = new Float64Array(PROBES * PROBES),
    pj = new Float64Array(PROBES * PROBES);
  for (let b = 0; b < PROBES; b++)
    for (let a = 0; a < PROBES; a++) {
      pi[b * PROBES + a] = at(a, width);
      pj[b * PROBES + a] = at(b, height);
    }
  toSource(pi, pj);
  for (let k = 0; k < pi.length; k++) if (!Number.isFinite(pi[k]) || !Number.isFinite(pj[k])) return undefined;
  for (let b = 1; b < PROBES; b++)
    for (let a = 0; a < PROBES; a++) {
      const k = b * PROBES + a;
      if (Math.abs(pi[k] - pi[a]) > maxErrorPixels) return undefined; // x drifts down a column
    }
  for (let b = 0; b < PROBES; b++)
    for (let a = 1; a < PROBES; a++) {
      const k = b * PROBES + a;
      if (Math.abs(pj[k] - pj[b * PROBES]) > maxErrorPixels) return undefined; // y drifts along a row
    }

  // x of every column on the middle row, y of every row on the middle column.
  const ci = new Float64Array(width),
    cj = new Float64Array(width).fill(midJ);
  for (let i = 0; i < width; i++) ci[i] = i;
  toSource(ci, cj);
  const ri = new Float64Array(height).fill(midI),
    rj = new Float64Array(height);
  for (let j = 0; j < height; j++) rj[j] = j;
  toSource(ri, rj);
  for (const v of [ci, rj]) for (let k = 0; k < v.length; k++) if (!Number.isFinite(v[k])) return undefined;

  const count = width * height;
  const reuse = into && into.srcX.length >= count && into.srcY.length >= count;
  const srcX = reuse ? into.srcX : new Float32Array(count),
    srcY = reuse ? into.srcY : new Float32Array(count);
  const row = Float32Array.from(ci);
  for (let j = 0; j < height; j++) {
    srcX.set(row, j * width);
    srcY.fill(rj[j], j * width, (j + 1) * width);
  }
  return { srcX, srcY, exactEvaluations: pi.length + width + height, separable: true };
}
