import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { flattenRgbaOver } from '../../src/raster/flatten-rgba.js';
import { encodePng, encodePngOver, subFilter, subFilterWasm, zlibHuffmanWasm } from '../../src/raster/png-encoder.js';
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

/**
 * Symbol i repeated fib(i + 3) times (2, 3, 5, 8…), shuffled: for 19 symbols, 28,654 bytes (one block) whose
 * Huffman code is a chain 19 bits deep (every sum of the lighter ones, the end-of-block code included, stays
 * below the next weight: no tie lets the tree balance), so the coder must limit it to 15.
 */
function fibonacciBytes(symbols: number): Uint8Array {
  const runs: number[] = [2, 3];
  while (runs.length < symbols) runs.push(runs[runs.length - 1] + runs[runs.length - 2]);
  const out = new Uint8Array(runs.reduce((a, b) => a + b, 0));
  let at = 0;
  runs.forEach((n, symbol) => {
    out.fill(symbol * 7, at, at + n);
    at += n;
  });
  let h = 7;
  for (let i = out.length - 1; i > 0; i--) {
    h = (Math.imul(h, 1103515245) + 12345) >>> 0;
    const j = h % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('the WebAssembly Huffman coder writes zlib streams that zlib inflates (Adler-32 checked) for every kind of input', () => {
  const noise = new Uint8Array(100_000);
  let h = 1;
  for (let i = 0; i < noise.length; i++) noise[i] = (h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i) >>> 24;
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.from([42])],
    ['one symbol repeated (a lone code gets a partner)', new Uint8Array(70_000).fill(9)],
    ['noise (blocks stored)', noise],
    ['Fibonacci frequencies (codes limited to 15 bits)', fibonacciBytes(19)],
    ['one block exactly', subFilter(image(128, 85, 3), 128, 85, 3).subarray(0, 32768)],
    ['one byte over a block', subFilter(image(128, 86, 3), 128, 86, 3).subarray(0, 32769)],
    ['a 512² RGB map', subFilter(image(512, 512, 3), 512, 512, 3)],
  ];
  for (const [name, bytes] of cases) {
    const stream = zlibHuffmanWasm(bytes);
    assert.ok(stream, 'the build ships dist/assembly/png-filter.wasm');
    assert.deepEqual(zlib.inflateSync(stream), Buffer.from(bytes), name);
    // Never much larger than zlib's own Huffman-only stream: the same method, blocks of the same order.
    const theirs = zlib.deflateSync(bytes, { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY });
    assert.ok(stream.length <= theirs.length * 1.01 + 16, `${name}: ${stream.length} bytes, zlib ${theirs.length}`);
  }
});
