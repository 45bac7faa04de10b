import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHalf, recycleHalves } from '../../../processes/raster-to-pyramid/spare-arrays.js';
import type { SlabSpec } from '../../../src/pyramid/slab-encoder.js';

const spec = { sampleType: 'uint8', channels: 3, nodata: [255, 0, 7] } as unknown as SlabSpec;

function dirty(pixels: number) {
  return { data: new Uint8Array(pixels * 3).fill(42), mask: new Uint8Array(pixels).fill(200) };
}

test('a recycled half comes back as a new one: nodata in every pixel, mask 0', () => {
  const old = dirty(64);
  recycleHalves([old, null]);
  const half = newHalf(spec, 64);
  assert.equal(half.data.buffer, old.data.buffer, 'the spare is used');
  for (let p = 0; p < 64; p++) assert.deepEqual([...half.data.subarray(p * 3, p * 3 + 3)], [255, 0, 7]);
  assert.ok(half.mask.every((v) => v === 0));
  // None left: the next one is new, and filled the same way.
  const fresh = newHalf(spec, 64);
  assert.notEqual(fresh.data.buffer, old.data.buffer);
  assert.deepEqual([...fresh.data.subarray(0, 3)], [255, 0, 7]);
});

test('halves sharing a buffer, views into a larger one, or of another size are not handed out', () => {
  const shared = new ArrayBuffer(64 * 4);
  const sharing = { data: new Uint8Array(shared, 0, 64 * 3), mask: new Uint8Array(shared, 64 * 3, 64) };
  const a = dirty(64);
  const twice = { data: a.data, mask: new Uint8Array(64) };
  recycleHalves([sharing, a, twice]);
  const first = newHalf(spec, 64);
  assert.equal(first.data.buffer, a.data.buffer, 'the whole one is kept');
  const second = newHalf(spec, 64);
  assert.notEqual(second.data.buffer, a.data.buffer, 'a buffer is never handed out twice');
  assert.notEqual(second.data.buffer, shared);
  recycleHalves([dirty(16)]);
  assert.equal(newHalf(spec, 64).data.length, 64 * 3, 'a spare of another size is not taken');
});
