import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { flattenRgbaOver } from '../../src/raster/flatten-rgba.js';
import { encodePng, encodePngOver, subFilter, subFilterWasm } from '../../src/raster/png-encoder.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalRead } from '../rok4/gdal-oracle.js';

const gdal = skipUnlessCommands('/usr/bin/python3');

/** Gradients, hashed noise and flat runs: every filter and match case has work. */
function image(width: number, height: number, channels: number): Uint8Array {
  const a = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const h = Math.imul((x * 73856093) ^ (y * 19349663), 0x27d4eb2d) >>> 24;
      for (let c = 0; c < channels; c++) a[(y * width + x) * channels + c] = x > width / 2 ? 200 : (x * 3 + y + 70 * c + (h & 31)) & 0xff;
    }
  return a;
}

/** The pixels GDAL decodes, pixel-interleaved (test/rok4/gdal-oracle.ts). */
function gdalPixels(file: string): Buffer {
  return gdalRead(file).bytes;
}

test('encodePng: RGB and RGBA maps of odd sizes decode to the same pixels in sharp (libspng) and GDAL (libpng)', {
  skip: gdal,
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'png-encoder-'));
  try {
    for (const [width, height, channels] of [
      [37, 19, 3],
      [512, 512, 3],
      [1, 1, 4],
      [300, 7, 4],
    ] as const) {
      const pixels = image(width, height, channels);
      const png = await encodePng(pixels, width, height, channels);
      const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([decoded.info.width, decoded.info.height, decoded.info.channels], [width, height, channels]);
      assert.ok(decoded.data.equals(pixels), `${width}×${height}×${channels}: sharp decodes the pixels`);
      const file = path.join(dir, `${width}x${height}x${channels}.png`);
      await writeFile(file, png);
      assert.ok(gdalPixels(file).equals(pixels), `${width}×${height}×${channels}: GDAL decodes the pixels`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('subFilter: filter type 1 on each row, the first pixel kept, then differences modulo 256', () => {
  const out = subFilter(Uint8Array.from([10, 20, 30, 5, 250, 40, 0, 0, 0, 1, 2, 3]), 2, 2, 3);
  assert.deepEqual([...out], [1, 10, 20, 30, 251, 230, 10, 1, 0, 0, 0, 1, 2, 3]);
});

test('encodePng refuses a buffer of the wrong size', async () => {
  await assert.rejects(encodePng(new Uint8Array(10), 2, 2, 3), /10 bytes for 2×2×3/);
});

test("the WebAssembly Sub filter gives the JavaScript filter's bytes (RGB, RGBA, rows shorter and longer than 16 bytes)", () => {
  for (const [width, height, channels] of [
    [1, 1, 3],
    [5, 3, 4],
    [37, 19, 3],
    [512, 512, 3],
    [300, 7, 4],
  ] as const) {
    const pixels = image(width, height, channels);
    const fast = subFilterWasm(pixels, width, height, channels);
    assert.ok(fast, 'the build ships dist/assembly/png-filter.wasm');
    assert.deepEqual(Buffer.from(fast), Buffer.from(subFilter(pixels, width, height, channels)), `${width}×${height}×${channels}`);
  }
});

test('an RGBA map flattened over its background in WebAssembly is the PNG of the JavaScript flattening, byte for byte', async () => {
  for (const [width, height] of [
    [1, 1],
    [37, 19],
    [512, 512],
  ] as const) {
    const rgba = image(width, height, 4);
    // Every alpha: opaque runs (the right half), transparent and partial ones.
    for (let p = 0; p < width * height; p++) if (p % 7 === 0) rgba[p * 4 + 3] = 255;
    for (const bg of [
      [255, 255, 255],
      [12, 200, 77],
    ] as const) {
      const ours = await encodePngOver(rgba, width, height, bg);
      const flat = flattenRgbaOver(rgba, width * height, bg, new Uint8Array(width * height * 3));
      assert.ok(ours.equals(await encodePng(flat, width, height, 3)), `${width}×${height} over ${bg.join(',')}`);
      const { data, info } = await sharp(ours).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, 3);
      assert.ok(data.equals(Buffer.from(flat)));
    }
  }
  await assert.rejects(encodePngOver(new Uint8Array(12), 2, 2, [0, 0, 0]), /12 bytes for 2×2×4/);
});
