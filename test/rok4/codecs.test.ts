import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { lzwDecode, lzwEncode } from '../../src/rok4/codec-lzw.js';
import { packBitsDecode, packBitsEncode } from '../../src/rok4/codec-packbits.js';
import { pngDecode, pngEncode } from '../../src/rok4/codec-png.js';
import { decodeTile, decodeTileSync, encodeTile, encodeTileSync } from '../../src/rok4/tile-codec.js';
import { skipUnlessCommands } from '../helpers/env.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
}

/** Mixed content: smooth gradient, flat areas, noise — exercises runs, literals and LZW table resets. */
function sample(length: number, seed = 1): Uint8Array {
  const rand = lcg(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const zone = Math.floor(i / 4096) % 3;
    out[i] = zone === 0 ? (i >> 4) & 0xff : zone === 1 ? 200 : rand();
  }
  return out;
}

test('LZW round trips on empty, tiny, constant, gradient and noisy data', () => {
  const cases = [new Uint8Array(0), Uint8Array.of(7), new Uint8Array(100000).fill(9), sample(262144, 3), sample(300001, 4)];
  for (const data of cases) {
    const encoded = lzwEncode(data);
    assert.deepEqual(lzwDecode(encoded, data.length), data, `length ${data.length}`);
  }
  // Constant data compresses well: the codes really grow past 9 bits.
  assert.ok(lzwEncode(new Uint8Array(100000).fill(9)).length < 2000);
});

test('LZW decoder reads tiles written by libtiff (GDAL COMPRESS=LZW)', { skip: skipUnlessCommands('gdal_translate') }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rok4-lzw-'));
  try {
    const raw = sample(256 * 256 * 3, 11);
    writeFileSync(path.join(dir, 'in.raw'), raw);
    writeFileSync(
      path.join(dir, 'in.hdr'),
      'ENVI\nsamples = 256\nlines = 256\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\ndata type = 1\ninterleave = bip\nbyte order = 0\n',
    );
    execFileSync('gdal_translate', [
      '-q',
      '-of',
      'GTiff',
      '-co',
      'COMPRESS=LZW',
      '-co',
      'TILED=YES',
      '-co',
      'INTERLEAVE=PIXEL',
      path.join(dir, 'in.raw'),
      path.join(dir, 'out.tif'),
    ]);
    const where = execFileSync('/usr/bin/python3', [
      '-c',
      'import sys\nfrom osgeo import gdal\nds=gdal.Open(sys.argv[1])\nb=ds.GetRasterBand(1)\nprint(b.GetMetadataItem("BLOCK_OFFSET_0_0","TIFF"), b.GetMetadataItem("BLOCK_SIZE_0_0","TIFF"))',
      path.join(dir, 'out.tif'),
    ])
      .toString()
      .trim()
      .split(' ')
      .map(Number);
    const tile = readFileSync(path.join(dir, 'out.tif')).subarray(where[0], where[0] + where[1]);
    assert.deepEqual(lzwDecode(tile, raw.length), raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PackBits: decodes the TIFF 6.0 example and round trips row by row', () => {
  const example = Buffer.from('FEAA02800 02AFDAA03800 02A22F7AA'.replace(/ /g, ''), 'hex');
  const expected = Buffer.from('AAAAAA80002AAAAAAAAA80002A22AAAAAAAAAAAAAAAAAAAA', 'hex');
  assert.deepEqual(Buffer.from(packBitsDecode(example, expected.length)), expected);
  const data = sample(256 * 256 * 4, 5);
  const encoded = packBitsEncode(data, 256 * 4);
  assert.deepEqual(packBitsDecode(encoded, data.length), data);
  // Rows are encoded separately: a constant image costs a run pair per 128 bytes of each row.
  assert.equal(packBitsEncode(new Uint8Array(300 * 2), 300).length, 2 * 2 * 3);
});

test("PNG: our files decode with sharp; sharp's filtered PNGs (all filters) decode with ours", async () => {
  for (let channels = 1; channels <= 4; channels++) {
    const pixels = sample(256 * 256 * channels, channels);
    const ours = pngEncode(pixels, 256, 256, channels);
    // IHDR colour type follows the channel count (§5.2).
    assert.equal(ours[25], [0, 0, 4, 2, 6][channels]);
    const viaSharp = await sharp(ours).raw().toBuffer({ resolveWithObject: true });
    if (channels >= 3) assert.deepEqual(new Uint8Array(viaSharp.data), pixels);
    assert.deepEqual(pngDecode(ours).pixels, pixels);
    const input = sharp(pixels, { raw: { width: 256, height: 256, channels: channels as 1 | 2 | 3 | 4 } });
    // libvips would widen gray to sRGB unless told otherwise.
    const filtered = await (channels <= 2 ? input.toColourspace('b-w') : input)
      .png({ adaptiveFiltering: true, compressionLevel: 9 })
      .toBuffer();
    const decoded = pngDecode(filtered);
    assert.equal(decoded.channels, channels);
    assert.deepEqual(decoded.pixels, pixels, `${channels} channels`);
  }
  const palette = await sharp(sample(64 * 64 * 3, 9), { raw: { width: 64, height: 64, channels: 3 } })
    .png({ palette: true, colours: 256, dither: 0 })
    .toBuffer();
  const viaSharp = await sharp(palette).raw().toBuffer();
  assert.deepEqual(Buffer.from(pngDecode(palette).pixels), viaSharp);
});

test('tile codecs: lossless formats round trip exactly, sync and async; float32 is little-endian', async () => {
  const spec = { width: 64, height: 32 };
  for (const compression of ['raw', 'zip', 'lzw', 'pkb', 'png'] as const) {
    for (let channels = 1; channels <= 4; channels++) {
      const pixels = sample(64 * 32 * channels, channels + 7);
      const full = { ...spec, channels, compression, sampleType: 'uint8' as const };
      const bytes = encodeTileSync(pixels, full);
      assert.deepEqual(decodeTileSync(bytes, full), pixels, `${compression} ${channels}`);
      assert.deepEqual(await decodeTile(await encodeTile(pixels, full), full), pixels);
    }
    if (compression === 'png') continue;
    const floats = Float32Array.from({ length: 64 * 32 }, (_, i) => (i % 7 === 0 ? -99999 : Math.sin(i / 50) * 1000 + i / 3));
    const full = { ...spec, channels: 1, compression, sampleType: 'float32' as const };
    const bytes = encodeTileSync(floats, full);
    assert.deepEqual(decodeTileSync(bytes, full), floats, compression);
    if (compression === 'raw') assert.equal(bytes.readFloatLE(4), floats[1]);
  }
  assert.throws(() => encodeTileSync(new Uint8Array(64 * 32 * 3), { ...spec, channels: 3, compression: 'jpg', sampleType: 'uint8' }));
  assert.throws(() => encodeTileSync(new Uint8Array(10), { ...spec, channels: 1, compression: 'zip', sampleType: 'uint8' }));
  await assert.rejects(() => encodeTile(new Uint8Array(64 * 32), { ...spec, channels: 1, compression: 'jpg', sampleType: 'uint8' }));
});

test('JPEG tiles are baseline JFIF 4:2:0 (SOF0, no progressive, standard tables) and decode close to the source', async () => {
  const width = 256;
  const height = 256;
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set([x, y, (x + y) >> 1], (y * width + x) * 3);
  for (const compression of ['jpg', 'jpg90'] as const) {
    const spec = { width, height, channels: 3, compression, sampleType: 'uint8' as const };
    const bytes = await encodeTile(pixels, spec);
    assert.deepEqual([...bytes.subarray(0, 4)], [0xff, 0xd8, 0xff, 0xe0], 'SOI then APP0 (JFIF)');
    assert.ok(bytes.includes(Buffer.from([0xff, 0xc0])), 'SOF0 baseline');
    assert.ok(!bytes.includes(Buffer.from([0xff, 0xc2])), 'not progressive');
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    // First component (Y) sampling factors 2x2, chroma 1x1: 4:2:0.
    assert.equal(bytes[sof + 11], 0x22);
    assert.equal(bytes[sof + 14], 0x11);
    const info = await sharp(bytes).metadata();
    assert.equal(info.isProgressive, false);
    const decoded = (await decodeTile(bytes, spec)) as Uint8Array;
    assert.ok(psnr(decoded, pixels) > 30, `${compression} PSNR ${psnr(decoded, pixels)}`);
  }
});

export function psnr(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
