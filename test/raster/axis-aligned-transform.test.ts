// Separable source positions for grids axis-aligned in the source (EPSG:4326 maps over Web Mercator levels,
// same-CRS maps): exact per column and row, refused for rotated grids, and the same map as the general path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { approximateTransform, makePixelMapper, type GeoTransform } from '../../src/raster/approx-transform.js';
import { axisAlignedTransform } from '../../src/raster/axis-aligned-transform.js';
import { createTransform } from '../../src/raster/crs.js';
import { warp } from '../../src/raster/warp.js';

const CELL = 19.109257071294063; // PM level 13
/** A 0.1° map of 512² over Corsica (the bench's maps) and the level-13 window under it. */
const MAP = { width: 512, height: 512, geoTransform: [9.1, 0.1 / 512, 0, 42.2, 0, -0.1 / 512] as GeoTransform };
const WINDOW: GeoTransform = [1012000, CELL, 0, 5190100, 0, -CELL];

test('EPSG:4326 over Web Mercator: separable positions within 0.01 px of the exact transform at every pixel', () => {
  const exact = createTransform('EPSG:4326', 'EPSG:3857');
  const got = axisAlignedTransform(exact, MAP, WINDOW);
  assert.ok(got, 'a latitude/longitude grid is axis-aligned in Web Mercator');
  const n = MAP.width * MAP.height;
  const is = new Float64Array(n),
    js = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    is[k] = k % MAP.width;
    js[k] = Math.floor(k / MAP.width);
  }
  makePixelMapper(exact, MAP.geoTransform, WINDOW)(is, js);
  let max = 0;
  for (let k = 0; k < n; k++) max = Math.max(max, Math.abs(got.srcX[k] - is[k]), Math.abs(got.srcY[k] - js[k]));
  assert.ok(max < 0.01, `max error ${max} px`);
  // Same CRS: exact too.
  assert.ok(
    axisAlignedTransform(createTransform('EPSG:3857', 'EPSG:3857'), { ...MAP, geoTransform: [1012000, 25, 0, 5190100, 0, -25] }, WINDOW),
  );
});

test('a grid rotated in the source (Lambert-93 map over Web Mercator) is refused', () => {
  const exact = createTransform('EPSG:2154', 'EPSG:3857');
  const l93 = { width: 512, height: 512, geoTransform: [1170000, 22, 0, 6180000, 0, -22] as GeoTransform };
  const window: GeoTransform = [1000000, CELL, 0, 5200000, 0, -CELL];
  assert.equal(axisAlignedTransform(exact, l93, window), undefined);
});

test('the two-pass map equals the general path’s (approximate transform, per-pixel loop) within 1 level', () => {
  const exact = createTransform('EPSG:4326', 'EPSG:3857');
  const W = 600,
    H = 800,
    C = 3;
  // A smooth pattern with detail at the kernel's scale, and a masked hole.
  const data = new Uint8Array(W * H * C);
  const mask = new Uint8Array(W * H).fill(255);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) data[(y * W + x) * C + c] = 128 + 100 * Math.sin(x / (3 + c) + y / 5) * Math.cos(y / 7);
      if ((x - 300) ** 2 + (y - 400) ** 2 < 40 ** 2) mask[y * W + x] = 0;
    }
  const src = { data, width: W, height: H, channels: C, mask, sampleType: 'uint8' as const };
  const dst = { width: MAP.width, height: MAP.height };
  const fast = warp({ src, coords: axisAlignedTransform(exact, MAP, WINDOW)!, dst, kernel: 'bicubic', nodata: [0, 0, 0] });
  const general = warp({
    src,
    coords: approximateTransform(exact, MAP, WINDOW),
    dst,
    kernel: 'bicubic',
    nodata: [0, 0, 0],
    twoPass: false,
  });
  let maskDiff = 0,
    max = 0,
    valid = 0;
  for (let p = 0; p < dst.width * dst.height; p++) {
    if (fast.mask[p] !== general.mask[p]) {
      maskDiff++;
      continue;
    }
    if (!fast.mask[p]) continue;
    valid++;
    for (let c = 0; c < C; c++) max = Math.max(max, Math.abs(fast.data[p * C + c] - general.data[p * C + c]));
  }
  assert.ok(valid > 0.8 * dst.width * dst.height, `${valid} valid pixels`);
  // Positions differ by < 0.125 px (the approximation's bound) at most: only pixels on the hole's rim may flip.
  assert.ok(maskDiff < 100, `${maskDiff} pixels differ in validity`);
  assert.ok(max <= 1, `max |diff| ${max} levels`);
});
