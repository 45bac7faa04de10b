// approximateTransform against the exact transform, pixel by pixel (DESIGN §6: error below 1/8 pixel,
// exact transform on a coarse grid only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import proj4 from 'proj4';
import {
  approximateTransform,
  makePixelMapper,
  type ExactTransform,
  type GeoTransform,
  type TargetGrid,
} from '../../src/raster/approx-transform.js';

const L93 =
  '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs';
const MERC = '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs';
const WGS84 = '+proj=longlat +datum=WGS84 +no_defs';

function exactOf(from: string, to: string): ExactTransform {
  const t = proj4(from, to);
  return (xs, ys) => {
    for (let k = 0; k < xs.length; k++) {
      const p = t.forward([xs[k], ys[k]]);
      xs[k] = p[0];
      ys[k] = p[1];
    }
  };
}

/** Largest Euclidean distance (source pixels) between the approximation and the exact map, every pixel. */
function maxError(
  exact: ExactTransform,
  target: TargetGrid,
  sourceGt: GeoTransform,
  approx: { srcX: Float32Array; srcY: Float32Array },
): number {
  const map = makePixelMapper(exact, target.geoTransform, sourceGt);
  let worst = 0;
  const is = new Float64Array(target.width),
    js = new Float64Array(target.width);
  for (let j = 0; j < target.height; j++) {
    for (let i = 0; i < target.width; i++) {
      is[i] = i;
      js[i] = j;
    }
    map(is, js);
    for (let i = 0; i < target.width; i++) {
      const o = j * target.width + i;
      const e = Math.hypot(approx.srcX[o] - is[i], approx.srcY[o] - js[i]);
      assert.ok(Number.isFinite(e), `finite at ${i},${j}`);
      if (e > worst) worst = e;
    }
  }
  return worst;
}

test('Lambert-93 source, Web Mercator target (1024², 150 m pixels over southern France): error ≤ 1/8 px', (t) => {
  const target: TargetGrid = { width: 1024, height: 1024, geoTransform: [300000, 150, 0, 5500000, 0, -150] };
  const sourceGt: GeoTransform = [600000, 50, 0, 6500000, 0, -50];
  const exact = exactOf(MERC, L93);
  const approx = approximateTransform(exact, target, sourceGt);
  const err = maxError(exact, target, sourceGt, approx);
  t.diagnostic(`max error ${err.toFixed(4)} px, ${approx.exactEvaluations} exact evaluations for ${1024 * 1024} pixels`);
  assert.ok(err <= 0.125, `max error ${err}`);
  assert.ok(approx.exactEvaluations < (1024 * 1024) / 100, `${approx.exactEvaluations} evaluations`);
});

test('geographic source, Lambert-93 target (1024², 500 m pixels): error ≤ 1/8 px', (t) => {
  const target: TargetGrid = { width: 1024, height: 1024, geoTransform: [400000, 500, 0, 6900000, 0, -500] };
  const sourceGt: GeoTransform = [-5, 0.004, 0, 52, 0, -0.004];
  const exact = exactOf(L93, WGS84);
  const approx = approximateTransform(exact, target, sourceGt);
  const err = maxError(exact, target, sourceGt, approx);
  t.diagnostic(`max error ${err.toFixed(4)} px, ${approx.exactEvaluations} exact evaluations`);
  assert.ok(err <= 0.125, `max error ${err}`);
  assert.ok(approx.exactEvaluations < (1024 * 1024) / 50, `${approx.exactEvaluations} evaluations`);
});

test('a tighter bound subdivides more and stays within it', () => {
  const target: TargetGrid = { width: 512, height: 512, geoTransform: [400000, 500, 0, 6900000, 0, -500] };
  const sourceGt: GeoTransform = [-5, 0.004, 0, 52, 0, -0.004];
  const exact = exactOf(L93, WGS84);
  const loose = approximateTransform(exact, target, sourceGt, 0.125);
  const tight = approximateTransform(exact, target, sourceGt, 0.01);
  assert.ok(tight.exactEvaluations > loose.exactEvaluations);
  assert.ok(maxError(exact, target, sourceGt, tight) <= 0.01);
});

test('a 4096² slab (zoom-13 Web Mercator over Lambert-93 10 m source) costs < 40,000 exact evaluations', (t) => {
  const res = 19.109257071294063;
  const target: TargetGrid = {
    width: 4096,
    height: 4096,
    geoTransform: [-20037508.342789244 + 4300 * 256 * res, res, 0, 20037508.342789244 - 2900 * 256 * res, 0, -res],
  };
  const sourceGt: GeoTransform = [800000, 10, 0, 6600000, 0, -10];
  let calls = 0;
  const exactInner = exactOf(MERC, L93);
  const exact: ExactTransform = (xs, ys) => {
    calls += xs.length;
    exactInner(xs, ys);
  };
  const approx = approximateTransform(exact, target, sourceGt);
  t.diagnostic(`${calls} exact evaluations for ${4096 * 4096} pixels`);
  assert.equal(calls, approx.exactEvaluations);
  assert.ok(calls < 40_000, `${calls} evaluations`);
  // Spot check against the exact map on a sparse set of pixels.
  const map = makePixelMapper(exactInner, target.geoTransform, sourceGt);
  const is = new Float64Array(64 * 64),
    js = new Float64Array(64 * 64);
  for (let k = 0; k < is.length; k++) {
    is[k] = ((k % 64) * 65 + 7) % 4096;
    js[k] = (Math.floor(k / 64) * 63 + 3) % 4096;
  }
  const ci = is.slice(),
    cj = js.slice();
  map(is, js);
  for (let k = 0; k < is.length; k++) {
    const o = cj[k] * 4096 + ci[k];
    assert.ok(Math.hypot(approx.srcX[o] - is[k], approx.srcY[o] - js[k]) <= 0.125);
  }
});

test('an affine (same CRS) transform is exact with the coarse grid alone, pixel-corner convention', () => {
  const target: TargetGrid = { width: 100, height: 60, geoTransform: [1000, 2, 0, 5000, 0, -2] };
  const sourceGt: GeoTransform = [990, 1, 0, 5010, 0, -1];
  const approx = approximateTransform(() => {}, target, sourceGt);
  // Target pixel (0,0) centre = (1001, 4999) → source pixel-corner coordinates (11, 11).
  assert.equal(approx.srcX[0], 11);
  assert.equal(approx.srcY[0], 11);
  // Target pixel (99, 59) centre = (1199, 4881) → (209, 129).
  assert.equal(approx.srcX[59 * 100 + 99], 209);
  assert.equal(approx.srcY[59 * 100 + 99], 129);
  // 3 × 2 grid nodes (steps of 64 plus the last column/row) and 5 probes in each of the 2 cells.
  assert.equal(approx.exactEvaluations, 6 + 2 * 5);
});

test('points outside the exact transform domain are NaN, the others are filled', () => {
  const target: TargetGrid = { width: 200, height: 100, geoTransform: [0, 1, 0, 100, 0, -1] };
  const sourceGt: GeoTransform = [0, 1, 0, 100, 0, -1];
  const exact: ExactTransform = (xs) => {
    for (let k = 0; k < xs.length; k++) if (xs[k] > 120) xs[k] = NaN;
  };
  const approx = approximateTransform(exact, target, sourceGt);
  for (let j = 0; j < 100; j++) {
    for (let i = 0; i < 200; i++) {
      const x = approx.srcX[j * 200 + i];
      if (i + 0.5 > 120) assert.ok(Number.isNaN(x), `NaN at ${i},${j}`);
      else assert.equal(x, i + 0.5, `value at ${i},${j}`);
    }
  }
});
