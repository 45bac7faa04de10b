/**
 * JPEG 2000 sources against GDAL (JP2OpenJPEG driver), which makes every file here and is the pixel
 * oracle: windows at full resolution and at reduced resolution levels equal GDAL's decode of the same
 * window (lossless and lossy files), georeferencing equals gdalinfo's (GeoJP2, GMLJP2, .j2w), a large
 * JP2 is never decoded whole, and the decoder loads in worker threads.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { skipUnlessCommands } from '../helpers/env.js';
import { closeRasterSources, describeRaster, openRasterWindows, RasterSourceError } from '../../src/raster/geotiff-source.js';
import { openJpegMemoryBytes } from '../../src/raster/jp2-decoder.js';

const skip = skipUnlessCommands('gdal_translate', 'gdalinfo', '/usr/bin/python3');
let dir = '';

/** A 2600x1900 RGB pattern in EPSG:2154 (tiles of 512: partial tiles at the right and bottom), as JP2 variants. */
const MAKE_FIXTURES = `
import sys, numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
out = sys.argv[1]
W, H = 2600, 1900
srs = osr.SpatialReference(); srs.ImportFromEPSG(2154)
yy, xx = np.mgrid[0:H, 0:W]
bands = [((xx * (b + 1) // 7 + yy // 5 + (xx * yy) % 13 * b) % 256).astype(np.uint8) for b in range(3)]
alpha = np.where(xx > 300, 255, 0).astype(np.uint8)
def mem(arrays, gt=[650000.0, 0.5, 0, 6860000.0, 0, -0.5], s=srs):
    m = gdal.GetDriverByName('MEM').Create('', W, H, len(arrays), gdal.GDT_Byte)
    m.SetGeoTransform(gt)
    if s is not None: m.SetProjection(s.ExportToWkt())
    for i, a in enumerate(arrays): m.GetRasterBand(i + 1).WriteArray(a)
    return m
rgb = mem(bands)
tiles = ['BLOCKXSIZE=512', 'BLOCKYSIZE=512']
lossless = ['REVERSIBLE=YES', 'QUALITY=100'] + tiles
def jp2(name, src, opts): gdal.Translate(f'{out}/{name}', src, format='JP2OpenJPEG', creationOptions=opts)
jp2('geojp2.jp2', rgb, lossless + ['GeoJP2=YES', 'GMLJP2=NO'])
jp2('gmljp2.jp2', rgb, lossless + ['GeoJP2=NO', 'GMLJP2=YES'])
jp2('lossy.jp2', rgb, ['QUALITY=20'] + tiles)
jp2('gray.jp2', mem(bands[:1]), lossless)
# Tiles of 200x150 (not powers of two) and 5 levels: most tile origins would change the wavelet's parity.
jp2('odd-tiles.jp2', rgb, ['REVERSIBLE=YES', 'QUALITY=100', 'BLOCKXSIZE=200', 'BLOCKYSIZE=150', 'RESOLUTIONS=6'])
jp2('plain.jp2', rgb, lossless + ['GeoJP2=NO', 'GMLJP2=NO'])
jp2('rgba.jp2', mem(bands + [alpha]), lossless)
wgs = osr.SpatialReference(); wgs.ImportFromEPSG(4326)
jp2('gml4326.jp2', mem(bands, [2.0, 0.0005, 0, 48.0, 0, -0.0005], wgs), lossless + ['GeoJP2=NO', 'GMLJP2=YES'])
gdal.Translate(f'{out}/same.tif', rgb, creationOptions=['TILED=YES', 'COMPRESS=DEFLATE'])
`;

function py(script: string, ...args: string[]): string {
  return execFileSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
}

/** GDAL's decode of a window (pixel-interleaved), at overview `ovr` (GDAL's index, -1 = full resolution). */
async function gdalWindow(file: string, x: number, y: number, w: number, h: number, ovr = -1): Promise<Buffer> {
  const out = path.join(dir, 'gdal-window.raw');
  const args = ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BIP', '-srcwin', x, y, w, h, file, out].map(String);
  if (ovr >= 0) args.unshift('-oo', `OVERVIEW_LEVEL=${ovr}`);
  execFileSync('gdal_translate', args);
  return readFile(out);
}

function gdalInfo(file: string): { geoTransform: number[]; size: number[]; bands: unknown[] } {
  return JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8' }));
}

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof RasterSourceError && e.code === c && (!re || re.test(e.message));

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'jp2-source-'));
  py(MAKE_FIXTURES, dir);
});
after(async () => {
  await closeRasterSources();
  if (dir && !process.env.KEEP) await rm(dir, { recursive: true, force: true });
});

// Inside one tile, across tiles, touching the right and bottom edges, the whole level.
const WINDOWS: Array<[number, number, number, number]> = [
  [3, 5, 40, 30],
  [500, 490, 700, 300],
  [1530, 1020, 1070, 880],
];

for (const name of ['geojp2.jp2', 'lossy.jp2', 'gray.jp2', 'odd-tiles.jp2']) {
  test(`${name}: windows at full and reduced resolutions equal GDAL's decode`, { skip }, async () => {
    const file = path.join(dir, name);
    const info = await describeRaster(file, { fallbackSrs: 'EPSG:2154' });
    const gdal = gdalInfo(file);
    assert.deepEqual([info.width, info.height, info.bands], [...gdal.size, gdal.bands.length]);
    assert.equal(info.format, 'jp2');
    assert.equal(info.compressionName, 'jpeg2000');
    assert.deepEqual([info.blockWidth, info.blockHeight], name === 'odd-tiles.jp2' ? [200, 150] : [512, 512]);
    assert.ok(info.overviews.length >= 2, 'resolution levels are overviews');
    const reader = openRasterWindows(info);
    try {
      for (const [x, y, w, h] of [...WINDOWS, [0, 0, info.width, info.height] as [number, number, number, number]]) {
        const win = await reader.read({ x, y, width: w, height: h });
        assert.ok(
          Buffer.from(win.data.buffer, win.data.byteOffset, win.data.length).equals(await gdalWindow(file, x, y, w, h)),
          `window ${x},${y} ${w}x${h}`,
        );
      }
      // GDAL exposes the levels whose tiles stay large enough; ours are all of them.
      const gdalLevels = (gdal.bands[0] as { overviews?: unknown[] }).overviews?.length ?? 0;
      assert.ok(gdalLevels >= 1);
      for (const [i, ov] of info.overviews.entries()) {
        if (i >= gdalLevels) break;
        assert.deepEqual([ov.width, ov.height], [Math.ceil(info.width / 2 ** (i + 1)), Math.ceil(info.height / 2 ** (i + 1))]);
        const windows: Array<[number, number, number, number]> = [
          [0, 0, ov.width, ov.height],
          [Math.floor(ov.width / 3), Math.floor(ov.height / 4), Math.ceil(ov.width / 2), Math.ceil(ov.height / 2)],
        ];
        for (const [x, y, w, h] of windows) {
          const win = await reader.read({ x, y, width: w, height: h, overview: i });
          assert.ok(
            Buffer.from(win.data.buffer, win.data.byteOffset, win.data.length).equals(await gdalWindow(file, x, y, w, h, i)),
            `overview ${i} window ${x},${y} ${w}x${h}`,
          );
        }
      }
    } finally {
      await reader.close();
    }
  });
}

test('lossless JP2: the same pixels as the GeoTIFF it was made from', { skip }, async () => {
  const jp2 = openRasterWindows(await describeRaster(path.join(dir, 'geojp2.jp2')));
  const tif = openRasterWindows(await describeRaster(path.join(dir, 'same.tif')));
  const req = { x: 700, y: 300, width: 1200, height: 900 };
  assert.deepEqual((await jp2.read(req)).data, (await tif.read(req)).data);
});

test('georeferencing: GeoJP2, GMLJP2 (projected and geographic), world file + declared srs, as gdalinfo', { skip }, async () => {
  const geo = await describeRaster(path.join(dir, 'geojp2.jp2'));
  assert.equal(geo.georefSource, 'geojp2');
  assert.equal(geo.crs.id, 'EPSG:2154');
  assert.deepEqual(geo.geoTransform, gdalInfo(path.join(dir, 'geojp2.jp2')).geoTransform);

  const gml = await describeRaster(path.join(dir, 'gmljp2.jp2'));
  assert.equal(gml.georefSource, 'gmljp2');
  assert.equal(gml.crs.id, 'EPSG:2154');
  assert.deepEqual(gml.geoTransform, gdalInfo(path.join(dir, 'gmljp2.jp2')).geoTransform);

  const wgs = await describeRaster(path.join(dir, 'gml4326.jp2'));
  assert.equal(wgs.crs.id, 'EPSG:4326');
  const expected = gdalInfo(path.join(dir, 'gml4326.jp2')).geoTransform;
  for (const [i, v] of wgs.geoTransform.entries()) assert.ok(Math.abs(v - expected[i]) < 1e-9, `geotransform[${i}] ${v} vs ${expected[i]}`);

  const plain = path.join(dir, 'plain.jp2');
  await assert.rejects(describeRaster(plain), code('NO_GEOREFERENCING', /plain\.jp2.*\.j2w/));
  await writeFile(path.join(dir, 'plain.j2w'), '0.5\n0\n0\n-0.5\n650000.25\n6859999.75\n');
  await assert.rejects(describeRaster(plain), code('NO_GEOREFERENCING', /no CRS/));
  const world = await describeRaster(plain, { fallbackSrs: 'EPSG:2154' });
  assert.equal(world.georefSource, 'worldfile');
  assert.equal(world.crs.id, 'EPSG:2154');
  assert.deepEqual(world.geoTransform, [650000, 0.5, 0, 6860000, 0, -0.5]);
});

test('errors name the file: truncated codestream, 4 components', { skip }, async () => {
  const truncated = path.join(dir, 'truncated.jp2');
  await copyFile(path.join(dir, 'geojp2.jp2'), truncated);
  const size = (await readFile(truncated)).length;
  await truncate(truncated, Math.floor(size * 0.6));
  await assert.rejects(describeRaster(truncated), code('TRUNCATED', /truncated\.jp2 is truncated/));
  await assert.rejects(describeRaster(path.join(dir, 'rgba.jp2')), code('UNSUPPORTED_SAMPLE_FORMAT', /rgba\.jp2 has 4 component/));
});

test('a window of a large JP2 decodes only its tiles: the decoder memory stays small', { skip }, async () => {
  // 16384 x 16384 gray: decoded whole, OpenJPEG would hold 1 GiB (4 bytes a sample).
  const big = path.join(dir, 'big.jp2');
  py(
    `
import sys, numpy as np
from osgeo import gdal
gdal.UseExceptions()
W = H = 16384
m = gdal.GetDriverByName('MEM').Create('', W, H, 1, gdal.GDT_Byte)
x = np.arange(W, dtype=np.uint32)[None, :]
for y0 in range(0, H, 1024):
    y = np.arange(y0, y0 + 1024, dtype=np.uint32)[:, None]
    m.GetRasterBand(1).WriteArray(((x // 3 + y // 5) % 256).astype(np.uint8), 0, y0)
gdal.Translate(sys.argv[1], m, format='JP2OpenJPEG', creationOptions=['QUALITY=5'])
`,
    big,
  );
  await writeFile(path.join(dir, 'big.j2w'), '1\n0\n0\n-1\n0.5\n-0.5\n');
  const info = await describeRaster(big, { srs: 'EPSG:2154' });
  const reader = openRasterWindows(info);
  const win = await reader.read({ x: 9000, y: 7000, width: 300, height: 300 });
  assert.ok(Buffer.from(win.data.buffer, win.data.byteOffset, win.data.length).equals(await gdalWindow(big, 9000, 7000, 300, 300)));
  const low = info.overviews.length - 1;
  const ov = info.overviews[low];
  const lowWin = await reader.read({ x: 0, y: 0, width: ov.width, height: ov.height, overview: low });
  assert.ok(
    Buffer.from(lowWin.data.buffer, lowWin.data.byteOffset, lowWin.data.length).equals(
      await gdalWindow(big, 0, 0, ov.width, ov.height, low),
    ),
  );
  await reader.close();
  const wasm = await openJpegMemoryBytes();
  assert.ok(wasm > 0 && wasm < 128 * 1024 * 1024, `WebAssembly memory ${wasm} bytes (a whole decode needs over 1 GiB)`);
});

test('worker threads load their own decoder and read the same pixels', { skip }, async () => {
  const file = path.join(dir, 'lossy.jp2');
  const info = await describeRaster(file);
  const req = { x: 400, y: 700, width: 900, height: 600 };
  const expected = (await openRasterWindows(info).read(req)).data;
  const source = new URL('../../src/raster/geotiff-source.js', import.meta.url).href;
  const script = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { openRasterWindows } = await import(${JSON.stringify(source)});
    const win = await openRasterWindows(workerData.info).read(workerData.req);
    parentPort.postMessage(win.data);
  `;
  const run = () =>
    new Promise<Uint8Array>((resolve, reject) => {
      const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(script)}`), { workerData: { info, req } });
      w.once('message', (m: Uint8Array) => {
        resolve(m);
        void w.terminate();
      });
      w.once('error', reject);
    });
  const results = await Promise.all([run(), run()]);
  for (const r of results) assert.deepEqual(r, expected);
});
