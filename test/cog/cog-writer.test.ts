/**
 * COG writer proofs (issue 12), GDAL as the oracle: GDAL's validator, our structure check, pixels of
 * IFD 0 against the source, overviews against GDAL's AVERAGE overview of the level above, mask against
 * the source's validity; BigTIFF forced on a small file; atomic write through Storage.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCog, type CogOptions } from '../../src/cog/cog-writer.js';
import { describeRaster } from '../../src/raster/geotiff-source.js';
import { writeGeoTiff } from '../../src/raster/geotiff-writer.js';
import { FileStorage } from '../../src/storage/file.js';
import { PiscinaPool } from '../../src/workers/pool.js';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { checkCogStructure } from './cog-structure.js';

const gdal = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
const CHECK = path.resolve('test', 'cog', 'check_cog.py');

interface LevelStats {
  max: number;
  psnr: number;
  n: number;
  mask_agreement: number;
}
interface GdalCheck {
  validator: { errors: string[]; warnings: string[] };
  levels: [number, number][];
  geotransform: number[];
  srs_epsg: string | null;
  nodata: number | null;
  mask_flags: number;
  structure: Record<string, string>;
  mask_agreement: number;
  full: { max: number; psnr: number; n: number };
  overviews: LevelStats[];
}

function gdalCheck(cog: string, source: string): GdalCheck {
  return JSON.parse(execFileSync('/usr/bin/python3', [CHECK, cog, source], { encoding: 'utf8', maxBuffer: 1 << 26 })) as GdalCheck;
}

/** Smooth RGB (JPEG q90 reaches ≥ 38 dB on it) with an elliptic nodata hole and a nodata border. */
function* smoothStrips(width: number, height: number, tile: number): Generator<Uint8Array> {
  for (let r0 = 0; r0 < height; r0 += tile) {
    const rows = Math.min(tile, height - r0);
    const out = new Uint8Array(width * rows * 3);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < width; x++) {
        const Y = r0 + y,
          i = (y * width + x) * 3;
        const hole = ((x - width * 0.6) / (width * 0.15)) ** 2 + ((Y - height * 0.4) / (height * 0.2)) ** 2 < 1;
        if (hole || x < 40 || Y > height - 30) {
          out.fill(0, i, i + 3);
          continue;
        }
        out[i] = 30 + Math.round((200 * x) / width);
        out[i + 1] = 30 + Math.round((200 * Y) / height);
        out[i + 2] = 128 + Math.round(60 * Math.sin(x / 90) * Math.cos(Y / 70));
      }
    }
    yield out;
  }
}

function* demStrips(width: number, height: number, tile: number): Generator<Float32Array> {
  for (let r0 = 0; r0 < height; r0 += tile) {
    const rows = Math.min(tile, height - r0);
    const out = new Float32Array(width * rows);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < width; x++) {
        const Y = r0 + y;
        out[y * width + x] = x + Y < 300 ? -9999 : 850 + 120 * Math.sin(x / 57) * Math.cos(Y / 43) + 0.001 * x * Y;
      }
    }
    yield out;
  }
}

describe('COG writer', { skip: gdal }, () => {
  let dir: string;
  let pool: PiscinaPool;
  let map: string, smooth: string, dem: string, rgba: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cog-test-'));
    pool = new PiscinaPool({ threads: 2 });
    map = path.join(dir, 'map.tif');
    await makeSyntheticMap({ width: 1500, height: 1100, pixelSize: 50, path: map, nodataTag: true });
    smooth = path.join(dir, 'smooth.tif');
    await writeGeoTiff(
      smooth,
      {
        width: 1300,
        height: 900,
        bands: 3,
        tileSize: 256,
        epsg: 32631,
        crsKind: 'projected',
        geoTransform: [500000, 10, 0, 5000000, 0, -10],
        nodata: 0,
      },
      smoothStrips(1300, 900, 256),
    );
    dem = path.join(dir, 'dem.tif');
    await writeGeoTiff(
      dem,
      {
        width: 700,
        height: 600,
        bands: 1,
        sampleType: 'float32',
        tileSize: 256,
        epsg: 2154,
        crsKind: 'projected',
        geoTransform: [700000, 25, 0, 6600000, 0, -25],
        nodata: -9999,
      },
      demStrips(700, 600, 256),
    );
    // RGBA: the map with its nodata turned into alpha, by GDAL.
    rgba = path.join(dir, 'rgba.tif');
    execFileSync('gdal_translate', [
      '-q',
      '-a_nodata',
      'none',
      '-b',
      '1',
      '-b',
      '2',
      '-b',
      '3',
      '-b',
      'mask',
      '-co',
      'ALPHA=YES',
      '-co',
      'TILED=YES',
      map,
      rgba,
    ]);
  });
  after(async () => {
    await pool.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cog(source: string, name: string, options: CogOptions) {
    const out = path.join(dir, name);
    const result = await writeCog(await describeRaster(source), options, { path: out }, { pool });
    return {
      out,
      result,
      gdal: gdalCheck(out, source),
      structure: checkCogStructure(out, options.blockSize ?? 512, options.overviews !== undefined),
    };
  }

  function assertConforms(c: Awaited<ReturnType<typeof cog>>) {
    assert.deepEqual(c.gdal.validator.errors, [], 'GDAL validator errors');
    assert.deepEqual(c.gdal.validator.warnings, [], 'GDAL validator warnings');
    assert.deepEqual(c.structure.problems, [], 'structure problems');
    assert.equal(c.gdal.structure.LAYOUT, 'COG');
  }

  test('JPEG q90 + mask on a smooth raster: valid COG, ≥ 38 dB, mask = source validity, no nodata value', async () => {
    const c = await cog(smooth, 'smooth-jpeg.tif', { compression: 'jpeg', quality: 90, blockSize: 256 });
    assertConforms(c);
    assert.equal(c.result.validity, 'mask');
    assert.equal(c.gdal.nodata, null, 'a nodata value under JPEG breaks the mask (cog.md §0.3)');
    assert.equal(c.gdal.mask_flags, 2, 'per-dataset mask');
    assert.equal(c.structure.maskIfds, c.structure.imageIfds);
    assert.equal(c.gdal.structure.COMPRESSION, 'YCbCr JPEG');
    assert.equal(c.gdal.mask_agreement, 1);
    assert.ok(c.gdal.full.psnr >= 38, `IFD 0 PSNR ${c.gdal.full.psnr.toFixed(2)} dB`);
    assert.deepEqual(c.gdal.levels, [
      [1300, 900],
      [650, 450],
      [325, 225],
      [162, 112],
    ]);
    assert.deepEqual(c.gdal.geotransform, [500000, 10, 0, 5000000, 0, -10]);
    assert.equal(c.gdal.srs_epsg, '32631');
    for (const [k, o] of c.gdal.overviews.entries()) {
      // Lossy both sides (our overview and the decoded level above GDAL averages): PSNR, not ±1.
      assert.ok(o.psnr >= 38, `overview ${k + 1} vs GDAL average of the level above: ${o.psnr.toFixed(2)} dB`);
      assert.ok(o.mask_agreement >= 0.999, `overview ${k + 1} mask agreement ${o.mask_agreement}`);
    }
  });

  test('JPEG q90 on the scanned map: same PSNR as gdal_translate -of COG QUALITY=90, mask exact', async () => {
    const c = await cog(map, 'map-jpeg.tif', { compression: 'jpeg', quality: 90 });
    assertConforms(c);
    const ref = path.join(dir, 'map-gdal-jpeg.tif');
    execFileSync('gdal_translate', ['-q', '-of', 'COG', '-co', 'COMPRESS=JPEG', '-co', 'QUALITY=90', map, ref]);
    const theirs = gdalCheck(ref, map);
    assert.equal(c.gdal.mask_agreement, 1);
    assert.ok(c.gdal.full.psnr >= theirs.full.psnr - 0.5, `ours ${c.gdal.full.psnr.toFixed(2)} dB, GDAL ${theirs.full.psnr.toFixed(2)} dB`);
    assert.ok(theirs.mask_agreement < 1, 'GDAL keeps nodata under JPEG and its mask drifts (cog.md §0.3): the fixture shows it');
  });

  test('DEFLATE + predictor: lossless IFD 0, nodata kept, overviews = GDAL AVERAGE of the level above ±1', async () => {
    const c = await cog(map, 'map-deflate.tif', { compression: 'deflate', blockSize: 256 });
    assertConforms(c);
    assert.equal(c.result.validity, 'nodata');
    assert.equal(c.gdal.nodata, 255);
    assert.equal(c.gdal.structure.PREDICTOR, '2');
    assert.equal(c.gdal.full.max, 0);
    assert.equal(c.gdal.mask_agreement, 1);
    assert.deepEqual(c.gdal.levels, [
      [1500, 1100],
      [750, 550],
      [375, 275],
      [187, 137],
    ]);
    // 375 → 187 included: GDAL's windows are 2.005 px wide there, ours follow them (overview-resample.ts).
    for (const [k, o] of c.gdal.overviews.entries()) {
      assert.ok(o.max <= 1, `overview ${k + 1}: max diff ${o.max}`);
      assert.equal(o.mask_agreement, 1, `overview ${k + 1} mask agreement`);
    }
  });

  test('LZW and WebP lossless: exact pixels; WebP lossy: mask IFD', async () => {
    const lzw = await cog(map, 'map-lzw.tif', { compression: 'lzw' });
    assertConforms(lzw);
    assert.equal(lzw.gdal.structure.COMPRESSION, 'LZW');
    assert.equal(lzw.gdal.full.max, 0);
    const webpLossless = await cog(map, 'map-webp-ll.tif', { compression: 'webp', quality: 100 });
    assertConforms(webpLossless);
    assert.equal(webpLossless.gdal.full.max, 0);
    assert.equal(webpLossless.result.validity, 'nodata');
    const webp = await cog(map, 'map-webp.tif', { compression: 'webp', quality: 90 });
    assertConforms(webp);
    assert.equal(webp.result.validity, 'mask');
    assert.equal(webp.gdal.mask_agreement, 1);
    assert.ok(webp.gdal.full.psnr >= 30, `WebP q90 ${webp.gdal.full.psnr.toFixed(2)} dB`);
  });

  test('RGBA source: alpha becomes a mask IFD, 3 bands kept', async () => {
    const c = await cog(rgba, 'rgba-deflate.tif', { compression: 'deflate' });
    assertConforms(c);
    assert.equal(c.result.validity, 'mask');
    assert.equal(c.gdal.mask_agreement, 1);
    assert.equal(c.gdal.full.max, 0);
  });

  test('float32 DTM: DEFLATE + floating-point predictor (3), exact, nodata kept', async () => {
    const c = await cog(dem, 'dem.tif', { compression: 'deflate', blockSize: 256 });
    assertConforms(c);
    assert.equal(c.gdal.structure.PREDICTOR, '3');
    assert.equal(c.gdal.nodata, -9999);
    assert.equal(c.gdal.full.max, 0);
    assert.equal(c.gdal.mask_agreement, 1);
    for (const o of c.gdal.overviews) assert.ok(o.max <= 1e-3, `overview diff ${o.max}`);
  });

  test('maxZoomLevel → number of overviews; BigTIFF forced on a small file', async () => {
    const one = await cog(smooth, 'one-ovr.tif', { compression: 'deflate', blockSize: 256, overviews: 1 });
    assertConforms(one);
    assert.deepEqual(one.gdal.levels, [
      [1300, 900],
      [650, 450],
    ]);
    const none = await cog(smooth, 'no-ovr.tif', { compression: 'deflate', blockSize: 256, overviews: 0 });
    assert.deepEqual(none.gdal.levels, [[1300, 900]]);
    const big = await cog(smooth, 'big.tif', { compression: 'jpeg', blockSize: 256, bigTiff: true });
    assertConforms(big);
    assert.equal(big.structure.bigTiff, true);
    assert.equal(readFileSync(big.out).readUInt16LE(2), 43);
    assert.equal(big.gdal.mask_agreement, 1);
    assert.ok(big.gdal.full.psnr >= 38);
  });

  test('through Storage: atomic (nothing visible on abort, no scratch left)', async () => {
    const root = path.join(dir, 'store');
    const storage = new FileStorage(root);
    const tmpDir = mkdtempSync(path.join(dir, 'scratch-'));
    const info = await describeRaster(map);
    const r = await writeCog(info, { compression: 'jpeg', blockSize: 256 }, { storage, key: 'catalogs/c1/a.tif' }, { pool, tmpDir });
    assert.equal(await storage.size('catalogs/c1/a.tif'), r.bytes);
    assert.deepEqual(readdirSync(tmpDir), []);
    const controller = new AbortController();
    await assert.rejects(
      writeCog(
        info,
        { compression: 'jpeg', blockSize: 256 },
        { storage, key: 'catalogs/c1/b.tif' },
        { pool, tmpDir, signal: controller.signal, onProgress: () => controller.abort() },
      ),
    );
    assert.equal(await storage.exists('catalogs/c1/b.tif'), false);
    assert.deepEqual(readdirSync(path.join(root, 'catalogs', 'c1')), ['a.tif']);
    assert.deepEqual(readdirSync(tmpDir), []);
  });

  test('the source GDAL_METADATA is carried into IFD 0', async () => {
    const meta = path.join(dir, 'meta.tif');
    execFileSync('gdal_translate', ['-q', '-mo', 'ORIGIN=scan-42', smooth, meta]);
    const c = await cog(meta, 'meta-cog.tif', { compression: 'deflate', blockSize: 256 });
    assertConforms(c);
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', c.out], { encoding: 'utf8' })) as {
      metadata: Record<string, Record<string, string>>;
    };
    assert.equal(info.metadata['']?.ORIGIN, 'scan-42');
  });

  test('bad options are refused before any work', async () => {
    const info = await describeRaster(dem);
    await assert.rejects(writeCog(info, { compression: 'jpeg' }, { path: path.join(dir, 'x.tif') }, { pool }), /8-bit/);
    await assert.rejects(
      writeCog(await describeRaster(map), { compression: 'deflate', blockSize: 300 as 256 }, { path: path.join(dir, 'x.tif') }, { pool }),
      /256 or 512/,
    );
  });
});
