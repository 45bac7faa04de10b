import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { deflateImageBytes } from '../../src/raster/geotiff-writer.js';

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let h = seed;
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i;
    out[i] = (h >>> 24) & 0x3f; // 6 bits of entropy: compressible by the entropy coder only
  }
  return out;
}

test('deflateImageBytes: noisy tiles keep the run-length result, repetitive ones the full-matching one; both are plain zlib', async () => {
  const noisy = noise(512 * 512 * 3, 7);
  // A map-like tile: a 37-byte hatching repeated, with flat runs (long matches at distances > 1).
  const motif = noise(37, 11);
  const hatched = new Uint8Array(512 * 512 * 3);
  for (let i = 0; i < hatched.length; i++) hatched[i] = i % 1536 < 600 ? motif[i % 37] : 0;

  for (const [name, tile] of [
    ['noisy', noisy],
    ['hatched', hatched],
  ] as const) {
    const out = await deflateImageBytes(tile, 6);
    assert.ok(Buffer.from(zlib.inflateSync(out)).equals(Buffer.from(tile)), `${name}: inflates back`);
    const rle = zlib.deflateSync(tile, { level: 6, strategy: zlib.constants.Z_RLE });
    const full = zlib.deflateSync(tile, { level: 6 });
    if (name === 'noisy') assert.equal(out.length, rle.length, 'noisy: the run-length result');
    else {
      assert.ok(full.length < rle.length / 2, 'the hatched tile needs long matches');
      assert.equal(out.length, full.length, 'hatched: the full-matching result');
    }
  }
});
