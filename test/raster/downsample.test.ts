// Upper-level rules of specs/rok4.md §8.5 (merge4tiff) on hand-made blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { average2x2, assembleQuadrants, fillFromBackground } from '../../src/raster/downsample.js';

// One 4×2 RGB image = two 2×2 blocks; pixels listed row by row.
function rgb(pixels: number[][]): Uint8Array {
  return Uint8Array.from(pixels.flat());
}

test('masked average: data pixels only, truncated for uint8; mask floor(mean) (rok4) or any (simplified)', () => {
  // Block A: 3 data pixels (10,20,30), (11,21,31), (13,23,34) + one nodata (255); block B: all data.
  const data = rgb([
    [10, 20, 30],
    [11, 21, 31],
    [1, 2, 3],
    [2, 3, 4],
    [13, 23, 34],
    [255, 255, 255],
    [3, 4, 5],
    [4, 5, 7],
  ]);
  const mask = Uint8Array.of(255, 255, 255, 255, 255, 0, 255, 255);
  const img = { data, mask, width: 4, height: 2, channels: 3, sampleType: 'uint8' as const };
  const r = average2x2(img, true, [255, 255, 255]);
  // A: (34/3, 64/3, 95/3) = (11.33, 21.33, 31.67) → 11, 21, 31; B: (10/4, 14/4, 19/4) → 2, 3, 4.
  assert.deepEqual(Array.from(r.data), [11, 21, 31, 2, 3, 4]);
  assert.deepEqual(Array.from(r.mask), [191, 255]); // floor(765 / 4)
  const any = average2x2(img, true, [255, 255, 255], 'any');
  assert.deepEqual(Array.from(any.data), [11, 21, 31, 2, 3, 4]);
  assert.deepEqual(Array.from(any.mask), [255, 255]);
});

test('block without data: top-left pixel (rok4) or nodata (any), mask 0', () => {
  const data = rgb([
    [250, 251, 252],
    [1, 1, 1],
    [9, 9, 9],
    [9, 9, 9],
  ]);
  const img = { data, mask: new Uint8Array(4), width: 2, height: 2, channels: 3, sampleType: 'uint8' as const };
  const r = average2x2(img, true, [255, 255, 255]);
  assert.deepEqual(Array.from(r.data), [250, 251, 252]);
  assert.deepEqual(Array.from(r.mask), [0]);
  const any = average2x2(img, true, [255, 255, 255], 'any');
  assert.deepEqual(Array.from(any.data), [255, 255, 255]);
  assert.deepEqual(Array.from(any.mask), [0]);
});

test('mask values decay with the rok4 rule around an isolated data pixel: 255 → 63 → 15', () => {
  const level0 = { data: new Uint8Array(16), mask: new Uint8Array(16), width: 4, height: 4, channels: 1, sampleType: 'uint8' as const };
  level0.mask[0] = 255;
  level0.data[0] = 100;
  const level1 = average2x2(level0, true, [0]);
  assert.deepEqual(Array.from(level1.mask), [63, 0, 0, 0]);
  assert.equal(level1.data[0], 100);
  const level2 = average2x2({ ...level1, width: 2, height: 2, channels: 1, sampleType: 'uint8' }, true, [0]);
  assert.deepEqual(Array.from(level2.mask), [15]);
  assert.equal(level2.data[0], 100);
});

test('without masks: plain mean of the four pixels, nodata included, truncated', () => {
  const data = rgb([
    [255, 255, 255],
    [0, 1, 2],
    [0, 0, 0],
    [3, 3, 3],
  ]);
  const mask = Uint8Array.of(0, 255, 255, 255); // ignored when useMask is false
  const r = average2x2({ data, mask, width: 2, height: 2, channels: 3, sampleType: 'uint8' }, false, [255, 255, 255]);
  // (258/4, 259/4, 260/4) = (64.5, 64.75, 65) → 64, 64, 65
  assert.deepEqual(Array.from(r.data), [64, 64, 65]);
  const noMask = average2x2({ data, width: 2, height: 2, channels: 3, sampleType: 'uint8' }, false, [255, 255, 255]);
  assert.deepEqual(Array.from(noMask.mask), [255]);
});

test('float32: exact means (no truncation), nodata-free blocks only', () => {
  const data = Float32Array.of(1.5, -2.25, 100, -99999);
  const mask = Uint8Array.of(255, 255, 255, 0);
  const r = average2x2({ data, mask, width: 2, height: 2, channels: 1, sampleType: 'float32' }, true, [-99999]);
  assert.ok(r.data instanceof Float32Array);
  assert.equal(r.data[0], Math.fround((1.5 - 2.25 + 100) / 3));
  const plain = average2x2({ data: Float32Array.of(1, 2, 3, 5), width: 2, height: 2, channels: 1, sampleType: 'float32' }, false, [-99999]);
  assert.equal(plain.data[0], 2.75);
});

test('assembleQuadrants: row copies in TL, TR, BL, BR order; missing child = nodata + mask 0; no mask = 255', () => {
  const w = 2,
    h = 2,
    C = 2;
  const child = (v: number): Uint8Array => Uint8Array.from({ length: w * h * C }, (_, k) => v + k);
  const tl = { data: child(0), mask: Uint8Array.of(255, 0, 255, 255) };
  const tr = { data: child(100) }; // no mask
  const br = { data: child(200), mask: Uint8Array.of(1, 2, 3, 4) };
  const r = assembleQuadrants([tl, tr, null, br], w, h, C, 'uint8', [9, 8]);
  assert.deepEqual(
    Array.from(r.data),
    [0, 1, 2, 3, 100, 101, 102, 103, 4, 5, 6, 7, 104, 105, 106, 107, 9, 8, 9, 8, 200, 201, 202, 203, 9, 8, 9, 8, 204, 205, 206, 207],
  );
  assert.deepEqual(Array.from(r.mask), [255, 0, 255, 255, 255, 255, 255, 255, 0, 0, 1, 2, 0, 0, 3, 4]);
  const f = assembleQuadrants([null, null, null, null], 1, 1, 1, 'float32', [-99999]);
  assert.ok(f.data instanceof Float32Array);
  assert.deepEqual(Array.from(f.data), [-99999, -99999, -99999, -99999]);
});

test('background rule: background pixel and mask where the subsampled mask is 0', () => {
  const image = { data: Uint8Array.of(1, 1, 2, 2, 3, 3), mask: Uint8Array.of(255, 0, 0) };
  const background = { data: Uint8Array.of(7, 7, 8, 8, 9, 9), mask: Uint8Array.of(255, 255, 0) };
  const r = fillFromBackground(image, background, 2);
  assert.equal(r, image);
  assert.deepEqual(Array.from(r.data), [1, 1, 8, 8, 9, 9]);
  assert.deepEqual(Array.from(r.mask), [255, 255, 0]);
  const full = fillFromBackground({ data: Uint8Array.of(1, 2), mask: Uint8Array.of(0, 255) }, { data: Uint8Array.of(5, 6) }, 1);
  assert.deepEqual(Array.from(full.data), [5, 2]);
  assert.deepEqual(Array.from(full.mask), [255, 255]);
});
