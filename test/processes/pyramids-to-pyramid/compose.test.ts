import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compose } from '../../../processes/pyramids-to-pyramid/compose.js';

const nodata = [255, 255, 255];
const rgb = (...px: number[][]) => new Uint8Array(px.flat());

test('TOP with masks: each pixel comes from the first input that has data there (rok4.md §9.4)', () => {
  const top = { pixels: rgb([10, 10, 10], [20, 20, 20], [255, 255, 255]), mask: new Uint8Array([255, 0, 0]), channels: 3 };
  const below = { pixels: rgb([90, 90, 90], [80, 80, 80], [255, 255, 255]), mask: new Uint8Array([255, 255, 0]), channels: 3 };
  const r = compose('TOP', [top, below], 3, 'uint8', nodata, 3);
  assert.deepEqual([...r.pixels], [10, 10, 10, 80, 80, 80, 255, 255, 255]);
  assert.deepEqual([...r.mask], [255, 255, 0]);
});

test('TOP without masks: the first input wins everywhere it has tiles, its nodata frame included', () => {
  const top = { pixels: rgb([10, 10, 10], [255, 255, 255]), channels: 3 };
  const below = { pixels: rgb([90, 90, 90], [80, 80, 80]), channels: 3 };
  const r = compose('TOP', [top, below], 3, 'uint8', nodata, 2);
  assert.deepEqual([...r.pixels], [10, 10, 10, 255, 255, 255]);
  assert.deepEqual([...r.mask], [255, 255]);
});

test('REPLACE keeps only the first input', () => {
  const top = { pixels: rgb([10, 10, 10], [0, 0, 0]), mask: new Uint8Array([255, 0]), channels: 3 };
  const below = { pixels: rgb([90, 90, 90], [80, 80, 80]), mask: new Uint8Array([255, 255]), channels: 3 };
  const r = compose('REPLACE', [top, below], 3, 'uint8', nodata, 2);
  assert.deepEqual([...r.pixels], [10, 10, 10, 255, 255, 255]);
  assert.deepEqual([...r.mask], [255, 0]);
});

test('MULTIPLY multiplies where both have data', () => {
  const top = { pixels: rgb([128, 255, 0]), mask: new Uint8Array([255]), channels: 3 };
  const below = { pixels: rgb([200, 100, 50]), mask: new Uint8Array([255]), channels: 3 };
  const r = compose('MULTIPLY', [top, below], 3, 'uint8', nodata, 1);
  assert.deepEqual([...r.pixels], [Math.floor((200 * 128) / 255), 100, 0]);
});

test('ALPHATOP blends RGBA by alpha and treats white as transparent', () => {
  const top = { pixels: new Uint8Array([0, 0, 0, 128, 255, 255, 255, 255]), mask: new Uint8Array([255, 255]), channels: 4 };
  const below = { pixels: new Uint8Array([200, 200, 200, 255, 50, 60, 70, 255]), mask: new Uint8Array([255, 255]), channels: 4 };
  const r = compose('ALPHATOP', [top, below], 4, 'uint8', [255, 255, 255, 0], 2);
  const a = 128 / 255;
  assert.equal(r.pixels[0], Math.floor((a * 0 + 1 * 200 * (1 - a)) / 1));
  assert.equal(r.pixels[3], 255);
  assert.deepEqual([...r.pixels.slice(4)], [50, 60, 70, 255]);
});

test('inputs with other channel counts are converted (gray under RGB)', () => {
  const top = { pixels: rgb([1, 2, 3]), mask: new Uint8Array([0]), channels: 3 };
  const gray = { pixels: new Uint8Array([77]), mask: new Uint8Array([255]), channels: 1 };
  const r = compose('TOP', [top, gray], 3, 'uint8', nodata, 1);
  assert.deepEqual([...r.pixels], [77, 77, 77]);
});
