import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, readFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fromFile } from 'geotiff';
import { GeoTiffWriter, writeGeoTiff, encodeIfd, horizontalPredict8, type GeoTiffWriterOptions } from '../../src/raster/geotiff-writer.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalRead } from '../rok4/gdal-oracle.js';

const gdal = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
const GT = [1150000, 12.5, 0, 6240000, 0, -12.5] as const;

/** A deterministic image: smooth gradients plus hashed noise, so that codecs have real work. */
function makeUint8(width: number, height: number, bands: number): Uint8Array {
  const a = new Uint8Array(width * height * bands);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const h = Math.imul((x * 73856093) ^ (y * 19349663), 0x27d4eb2d) >>> 24;
      for (let b = 0; b < bands; b++) {
        a[(y * width + x) * bands + b] = (x + 2 * y + 60 * b + (h & 15)) & 0xff;
      }
    }
  }
  return a;
}

function makeFloat(width: number, height: number): Float32Array {
  const a = new Float32Array(width * height);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.001) * 1234.5678 + (i % 97) * 0.125 - 50;
  return a;
}

/** Rows [r0, r1) of a pixel-interleaved image. */
function rowsOf<T extends Uint8Array | Float32Array>(img: T, width: number, bands: number, r0: number, r1: number): T {
  return img.subarray(r0 * width * bands, r1 * width * bands) as T;
}

function* strips<T extends Uint8Array | Float32Array>(img: T, width: number, height: number, bands: number, ts: number) {
  for (let r = 0; r < height; r += ts) yield rowsOf(img, width, bands, r, Math.min(height, r + ts));
}

/** The w×h block at (x0, y0), pixel-interleaved. */
function blockOf(img: Uint8Array, width: number, bands: number, x0: number, y0: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * bands);
  for (let y = 0; y < h; y++) out.set(img.subarray(((y0 + y) * width + x0) * bands, ((y0 + y) * width + x0 + w) * bands), y * w * bands);
  return out;
}

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem?: { wkt: string };
  metadata: { IMAGE_STRUCTURE?: Record<string, string> };
  bands: { block: [number, number]; type: string; noDataValue?: number | string; colorInterpretation: string }[];
}

function gdalinfo(file: string): GdalInfo {
  return JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8' })) as GdalInfo;
}

/** The pixels GDAL decodes, pixel-interleaved (test/rok4/gdal-oracle.ts). */
function gdalPixels(file: string): Buffer {
  return gdalRead(file).bytes;
}

function epsgOf(info: GdalInfo): number | undefined {
  const m = /ID\["EPSG",(\d+)\]\]\s*$/.exec(info.coordinateSystem?.wkt ?? '');
  return m ? Number(m[1]) : undefined;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'geotiff-writer-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const W = 600;
const H = 300; // neither is a multiple of the tile size: edge tiles are padded

for (const compression of ['none', 'deflate'] as const) {
  for (const bands of [1, 2, 3, 4]) {
    for (const predictor of compression === 'deflate' ? [false, true] : [false]) {
      const ts = bands === 3 ? 512 : 256;
      test(`uint8 ${bands} band(s), ${compression}${predictor ? ' + predictor' : ''}, tiles ${ts}: GDAL reads our georeferencing and pixels`, {
        skip: gdal,
      }, async () => {
        await withTmp(async (dir) => {
          const file = path.join(dir, 'a.tif');
          const img = makeUint8(W, H, bands);
          const res = await writeGeoTiff(
            file,
            { width: W, height: H, bands, compression, predictor, tileSize: ts, epsg: 2154, geoTransform: GT, nodata: 255 },
            strips(img, W, H, bands, ts),
          );
          assert.equal(res.bigTiff, false);
          const info = gdalinfo(file);
          assert.deepEqual(info.size, [W, H]);
          assert.deepEqual(info.geoTransform, [...GT]);
          assert.equal(epsgOf(info), 2154);
          assert.equal(info.metadata.IMAGE_STRUCTURE?.COMPRESSION, compression === 'deflate' ? 'DEFLATE' : undefined);
          assert.equal(info.metadata.IMAGE_STRUCTURE?.INTERLEAVE, bands > 1 ? 'PIXEL' : 'BAND');
          if (predictor) assert.equal(info.metadata.IMAGE_STRUCTURE?.PREDICTOR, '2');
          assert.equal(info.bands.length, bands);
          for (const b of info.bands) {
            assert.deepEqual(b.block, [ts, ts]);
            assert.equal(b.type, 'Byte');
            assert.equal(b.noDataValue, 255);
          }
          const interp = info.bands.map((b) => b.colorInterpretation);
          const expected = { 1: ['Gray'], 2: ['Gray', 'Alpha'], 3: ['Red', 'Green', 'Blue'], 4: ['Red', 'Green', 'Blue', 'Alpha'] }[bands];
          assert.deepEqual(interp, expected);
          assert.ok(gdalPixels(file).equals(Buffer.from(img)), 'GDAL decodes exactly our pixels');
        });
      });
    }
  }
}

test('float32, deflate + floating-point predictor, NaN nodata: exact pixels in GDAL and geotiff.js', { skip: gdal }, async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'f.tif');
    const img = makeFloat(W, H);
    img[5] = NaN;
    await writeGeoTiff(
      file,
      { width: W, height: H, bands: 1, sampleType: 'float32', predictor: true, epsg: 2154, geoTransform: GT, nodata: NaN },
      strips(img, W, H, 1, 256),
    );
    const info = gdalinfo(file);
    assert.equal(info.bands[0].type, 'Float32');
    assert.equal(info.bands[0].noDataValue, 'NaN');
    assert.equal(info.metadata.IMAGE_STRUCTURE?.PREDICTOR, '3');
    const bytes = gdalPixels(file);
    assert.ok(bytes.equals(Buffer.from(img.buffer)), 'GDAL decodes exactly our floats');
    const tiff = await fromFile(file);
    const image = await tiff.getImage();
    const [band] = (await image.readRasters()) as unknown as Float32Array[];
    assert.ok(Buffer.from(band.buffer, band.byteOffset, band.byteLength).equals(Buffer.from(img.buffer)), 'geotiff.js too');
  });
});

test('float32 uncompressed: exact', { skip: gdal }, async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'f.tif');
    const img = makeFloat(W, H);
    await writeGeoTiff(
      file,
      { width: W, height: H, bands: 1, sampleType: 'float32', compression: 'none', tileSize: 512 },
      strips(img, W, H, 1, 512),
    );
    assert.ok(gdalPixels(file).equals(Buffer.from(img.buffer)));
    assert.equal(gdalinfo(file).coordinateSystem, undefined, 'no GeoKeys when no EPSG is given');
  });
});

test('tiles written one by one in any order, edge tiles given unpadded', { skip: gdal }, async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'o.tif');
    const bands = 3;
    const img = makeUint8(W, H, bands);
    const writer = await GeoTiffWriter.create(file, { width: W, height: H, bands, epsg: 2154, geoTransform: GT });
    assert.equal(writer.tilesAcross, 3);
    assert.equal(writer.tilesDown, 2);
    const order = [
      [2, 1],
      [0, 0],
      [1, 1],
      [2, 0],
      [0, 1],
      [1, 0],
    ];
    for (const [c, r] of order) {
      const w = Math.min(256, W - c * 256);
      const h = Math.min(256, H - r * 256);
      await writer.writeTile(c, r, blockOf(img, W, bands, c * 256, r * 256, w, h));
    }
    await writer.close();
    assert.ok(gdalPixels(file).equals(Buffer.from(img)));
  });
});

test('geotiff.js reads our deflate + predictor RGB tiles', async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'g.tif');
    const img = makeUint8(W, H, 3);
    await writeGeoTiff(file, { width: W, height: H, bands: 3, predictor: true, epsg: 2154, geoTransform: GT }, strips(img, W, H, 3, 256));
    const image = await (await fromFile(file)).getImage();
    assert.equal(image.getWidth(), W);
    assert.deepEqual(image.getOrigin(), [GT[0], GT[3], 0]);
    assert.deepEqual(image.getResolution(), [12.5, -12.5, 0]);
    assert.equal(image.getGeoKeys()?.ProjectedCSTypeGeoKey, 2154);
    const data = (await image.readRasters({ interleave: true })) as unknown as Uint8Array;
    assert.ok(Buffer.from(data).equals(Buffer.from(img)));
  });
});

test('a geographic EPSG code gets GeographicTypeGeoKey', { skip: gdal }, async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'g.tif');
    const img = makeUint8(300, 200, 1);
    const gt = [8.5, 0.001, 0, 43.1, 0, -0.001] as const;
    await writeGeoTiff(file, { width: 300, height: 200, bands: 1, epsg: 4326, geoTransform: gt }, strips(img, 300, 200, 1, 256));
    const info = gdalinfo(file);
    assert.equal(epsgOf(info), 4326);
    assert.deepEqual(info.geoTransform, [...gt]);
    const image = await (await fromFile(file)).getImage();
    assert.equal(image.getGeoKeys()?.GeographicTypeGeoKey, 4326);
    assert.equal(image.getGeoKeys()?.GTModelTypeGeoKey, 2);
    assert.equal(image.getGeoKeys()?.GTRasterTypeGeoKey, 1);
  });
});

test('forced BigTIFF: header II+, GDAL and geotiff.js read it', { skip: gdal }, async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'b.tif');
    const img = makeUint8(W, H, 3);
    const res = await writeGeoTiff(
      file,
      { width: W, height: H, bands: 3, bigTiff: true, epsg: 2154, geoTransform: GT, nodata: 0 },
      strips(img, W, H, 3, 256),
    );
    assert.equal(res.bigTiff, true);
    const head = (await readFile(file)).subarray(0, 4);
    assert.deepEqual([...head], [0x49, 0x49, 43, 0]);
    const info = gdalinfo(file);
    assert.deepEqual(info.geoTransform, [...GT]);
    assert.equal(epsgOf(info), 2154);
    assert.equal(info.bands[0].noDataValue, 0);
    assert.ok(gdalPixels(file).equals(Buffer.from(img)));
    const data = (await (await (await fromFile(file)).getImage()).readRasters({ interleave: true })) as unknown as Uint8Array;
    assert.ok(Buffer.from(data).equals(Buffer.from(img)));
  });
});

/** PSNR over all samples. */
function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

/** Smooth content: JPEG should keep it within a few levels. */
function smooth(width: number, height: number, bands: number): Uint8Array {
  const a = new Uint8Array(width * height * bands);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let b = 0; b < bands; b++) {
        a[(y * width + x) * bands + b] = 128 + 100 * Math.sin(x / 40 + b) * Math.cos(y / 55 - b);
      }
    }
  }
  return a;
}

for (const [bands, sub] of [
  [3, '4:2:0'],
  [3, '4:4:4'],
  [1, '4:2:0'],
] as const) {
  test(`JPEG ${bands} band(s) ${bands === 3 ? sub : ''}: GDAL decodes colours close to ours`, { skip: gdal }, async () => {
    await withTmp(async (dir) => {
      const file = path.join(dir, 'j.tif');
      const img = smooth(W, H, bands);
      await writeGeoTiff(
        file,
        { width: W, height: H, bands, compression: 'jpeg', jpegQuality: 90, jpegChromaSubsampling: sub, epsg: 2154, geoTransform: GT },
        strips(img, W, H, bands, 256),
      );
      const info = gdalinfo(file);
      assert.equal(info.metadata.IMAGE_STRUCTURE?.COMPRESSION, bands === 3 ? 'YCbCr JPEG' : 'JPEG');
      assert.deepEqual(
        info.bands.map((b) => b.colorInterpretation),
        bands === 3 ? ['Red', 'Green', 'Blue'] : ['Gray'],
      );
      const decoded = new Uint8Array(gdalPixels(file));
      const q = psnr(decoded, img);
      assert.ok(q > 38, `PSNR ${q.toFixed(1)} dB`);
    });
  });
}

test('writer errors: a tile twice, a missing tile, wrong sizes and options; the partial file is removed', async () => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'e.tif');
    const opts: GeoTiffWriterOptions = { width: 300, height: 300, bands: 1 };
    const writer = await GeoTiffWriter.create(file, opts);
    await writer.writeTile(0, 0, new Uint8Array(256 * 256));
    await assert.rejects(writer.writeTile(0, 0, new Uint8Array(256 * 256)), /already written/);
    await assert.rejects(writer.writeTile(1, 0, new Uint8Array(100)), /samples/);
    await assert.rejects(writer.writeTile(2, 0, new Uint8Array(256 * 256)), /outside/);
    await assert.rejects(writer.writeTile(1, 1, new Float32Array(44 * 44)), /Uint8Array/);
    await assert.rejects(writer.close(), /never written/);
    await assert.rejects(access(file));
    await assert.rejects(GeoTiffWriter.create(file, { width: 10, height: 10, bands: 3, sampleType: 'float32' }), /1 band/);
    await assert.rejects(GeoTiffWriter.create(file, { width: 10, height: 10, bands: 4, compression: 'jpeg' }), /JPEG/);
    await assert.rejects(GeoTiffWriter.create(file, { width: 10, height: 10, bands: 1, geoTransform: [0, 1, 0.1, 0, 0, -1] }), /north-up/);
    await assert.rejects(access(file));
  });
});

test('IFD entries are sorted by tag, out-of-line values word aligned and pointed at', () => {
  const bytes = encodeIfd(
    [
      { tag: 33550, type: 12, values: [1, 2, 0] },
      { tag: 256, type: 4, values: [7] },
      { tag: 42113, type: 2, values: '255' },
    ],
    1000,
    false,
  );
  const v = new DataView(bytes.buffer);
  assert.equal(v.getUint16(0, true), 3);
  assert.deepEqual([v.getUint16(2, true), v.getUint16(14, true), v.getUint16(26, true)], [256, 33550, 42113]);
  assert.equal(v.getUint32(2 + 8, true), 7, 'inline LONG');
  const ptr = v.getUint32(14 + 8, true);
  assert.equal(ptr, 1000 + 2 + 3 * 12 + 4);
  assert.equal(v.getFloat64(ptr - 1000 + 8, true), 2);
  assert.deepEqual([...bytes.subarray(26 + 8, 26 + 12)], [0x32, 0x35, 0x35, 0], 'short ASCII inline');
});

test('horizontal predictor differences each band with its left neighbour', () => {
  const src = Uint8Array.from([10, 20, 15, 25, 5, 30, /* row 2 */ 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...horizontalPredict8(src, 3, 2, 2)], [10, 20, 5, 5, 246, 5, 1, 2, 2, 2, 2, 2]);
});
