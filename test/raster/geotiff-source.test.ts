import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile, copyFile, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalWindow as gdalWindowOf } from '../helpers/gdal-window.js';
import { closeRasterSources, describeRaster, openRasterWindows, RasterSourceError } from '../../src/raster/geotiff-source.js';
import { parseWorldFile } from '../../src/raster/tfw.js';

const skip = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
let dir = '';

/** Python (GDAL) that makes every fixture: a 700x500 gradient in EPSG:2154 and its variants. */
const MAKE_FIXTURES = `
import sys, numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
out = sys.argv[1]
W, H = 700, 500
srs = osr.SpatialReference(); srs.ImportFromEPSG(2154)
yy, xx = np.mgrid[0:H, 0:W]
rgb = np.stack([(xx * 255 // (W - 1)), (yy * 255 // (H - 1)), ((xx * 3 + yy * 7) % 256)]).astype(np.uint8)
def mem(nb, arrays, dtype=gdal.GDT_Byte):
    m = gdal.GetDriverByName('MEM').Create('', W, H, nb, dtype)
    m.SetGeoTransform([650000.0, 0.5, 0, 6860000.0, 0, -0.5]); m.SetProjection(srs.ExportToWkt())
    for b in range(nb): m.GetRasterBand(b + 1).WriteArray(arrays[b])
    return m
src = mem(3, rgb)
def tr(name, opts, s=src, **kw): gdal.Translate(f'{out}/{name}.tif', s, creationOptions=opts, **kw)
tr('none_striped', [])
tr('deflate_tiled', ['TILED=YES', 'COMPRESS=DEFLATE'])
tr('deflate_pred_striped', ['COMPRESS=DEFLATE', 'PREDICTOR=2'])
tr('lzw_pred_tiled', ['TILED=YES', 'COMPRESS=LZW', 'PREDICTOR=2'])
tr('lzw_striped', ['COMPRESS=LZW'])
tr('packbits_tiled', ['TILED=YES', 'COMPRESS=PACKBITS'])
tr('jpeg_ycbcr', ['TILED=YES', 'COMPRESS=JPEG', 'PHOTOMETRIC=YCBCR', 'JPEG_QUALITY=90'])
tr('bigtiff', ['TILED=YES', 'COMPRESS=DEFLATE', 'BIGTIFF=YES'])
tr('gray', ['TILED=YES', 'COMPRESS=DEFLATE'], bandList=[1])
tr('nodata', ['TILED=YES', 'COMPRESS=DEFLATE'], noData=0)
alpha = np.where((xx > 100) & (yy < 400), 255, 0).astype(np.uint8)
m4 = mem(4, [rgb[0], rgb[1], rgb[2], alpha]); m4.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
gdal.Translate(f'{out}/rgba.tif', m4, creationOptions=['TILED=YES', 'COMPRESS=DEFLATE'])
f = (xx * 1.25 + yy * 0.5).astype(np.float32); f[0:50, 0:60] = -99999
gdal.Translate(f'{out}/float32.tif', mem(1, [f], gdal.GDT_Float32), creationOptions=['TILED=YES', 'COMPRESS=DEFLATE', 'PREDICTOR=3'], noData=-99999)
gdal.SetConfigOption('GDAL_TIFF_INTERNAL_MASK', 'YES')
tr('mask', ['TILED=YES', 'COMPRESS=DEFLATE'])
ds = gdal.Open(f'{out}/mask.tif', 1); ds.CreateMaskBand(gdal.GMF_PER_DATASET)
m = np.zeros((H, W), np.uint8); m[100:300, 50:400] = 255; m[350:, 600:] = 255
ds.GetRasterBand(1).GetMaskBand().WriteArray(m); ds = None
tr('overviews', ['TILED=YES', 'COMPRESS=DEFLATE'])
ds = gdal.Open(f'{out}/overviews.tif', 1); ds.BuildOverviews('AVERAGE', [2, 4]); ds = None
tr('tfw', ['TILED=YES', 'PROFILE=BASELINE', 'TFW=YES'])
tr('pixelispoint', [], metadataOptions=['AREA_OR_POINT=Point'])
open(f'{out}/not-a-tiff.tif', 'w').write('hello, not a tiff')
tr('int16', [], outputType=gdal.GDT_Int16)
`;

function py(script: string, ...args: string[]): string {
  return execFileSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
}

function gdalWindow(file: string, x: number, y: number, width: number, height: number, ovr = -1) {
  return gdalWindowOf(file, { x, y, width, height }, dir, ovr);
}

function gdalGeoTransform(file: string): number[] {
  return JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8' })).geoTransform;
}

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'geotiff-source-'));
  py(MAKE_FIXTURES, dir);
});
after(async () => {
  await closeRasterSources();
  if (dir && !process.env.KEEP) await rm(dir, { recursive: true, force: true });
});

const LOSSLESS = [
  'none_striped',
  'deflate_tiled',
  'deflate_pred_striped',
  'lzw_pred_tiled',
  'lzw_striped',
  'packbits_tiled',
  'bigtiff',
  'gray',
  'nodata',
  'rgba',
  'mask',
  'overviews',
  'float32',
];
// Windows inside one block, across blocks, touching the right/bottom edges.
const WINDOWS: Array<[number, number, number, number]> = [
  [3, 5, 40, 30],
  [200, 230, 300, 120],
  [444, 290, 256, 210],
  [0, 0, 700, 500],
];

for (const name of LOSSLESS) {
  test(`${name}: georeferencing and windows equal GDAL's`, { skip }, async () => {
    const file = path.join(dir, `${name}.tif`);
    const info = await describeRaster(file);
    assert.deepEqual(info.geoTransform, gdalGeoTransform(file));
    assert.equal(info.crs.id, 'EPSG:2154');
    assert.deepEqual([info.width, info.height], [700, 500]);
    const reader = openRasterWindows(info);
    for (const [x, y, w, h] of WINDOWS) {
      const ours = await reader.read({ x, y, width: w, height: h });
      const gdal = await gdalWindow(file, x, y, w, h);
      const bytes = Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength);
      assert.ok(bytes.equals(gdal.data), `${name} window ${x},${y} ${w}x${h} differs from GDAL`);
      const expectedMask = gdal.mask;
      if (name === 'rgba') assert.ok(expectedMask.includes(0) || w !== 700, 'the RGBA fixture has transparent pixels');
      if (ours.mask)
        assert.deepEqual([...ours.mask].map((v) => (v ? 1 : 0)).join(''), [...expectedMask].join(''), `${name} mask ${x},${y}`);
      else
        assert.ok(
          expectedMask.every((v) => v === 1),
          `${name}: GDAL has a mask, we have none`,
        );
    }
  });
}

test('mask kinds and nodata', { skip }, async () => {
  assert.equal((await describeRaster(path.join(dir, 'deflate_tiled.tif'))).mask, 'none');
  const nd = await describeRaster(path.join(dir, 'nodata.tif'));
  assert.deepEqual([nd.mask, nd.nodata], ['nodata', [0, 0, 0]]);
  const a = await describeRaster(path.join(dir, 'rgba.tif'));
  assert.deepEqual([a.mask, a.alphaBand, a.bands], ['alpha', 3, 4]);
  const m = await describeRaster(path.join(dir, 'mask.tif'));
  assert.equal(m.mask, 'internal-mask');
  assert.equal(typeof m.maskIfd, 'number');
  const f = await describeRaster(path.join(dir, 'float32.tif'));
  assert.deepEqual([f.sampleType, f.nodata, f.mask], ['float32', [-99999], 'nodata']);
  // the option overrides the tag
  assert.deepEqual((await describeRaster(path.join(dir, 'deflate_tiled.tif'), { nodata: 255 })).nodata, [255, 255, 255]);
});

test('JPEG YCbCr windows within 2 grey levels of GDAL', { skip }, async () => {
  const file = path.join(dir, 'jpeg_ycbcr.tif');
  const info = await describeRaster(file);
  assert.deepEqual([info.compressionName, info.photometric], ['jpeg', 6]);
  const reader = openRasterWindows(info);
  for (const [x, y, w, h] of WINDOWS) {
    const ours = await reader.read({ x, y, width: w, height: h });
    const gdal = await gdalWindow(file, x, y, w, h);
    let maxDiff = 0;
    for (let i = 0; i < gdal.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours.data[i] - gdal.data[i]));
    assert.ok(maxDiff <= 2, `max diff ${maxDiff}`);
  }
});

test('overviews: sizes and pixels equal GDAL overviews', { skip }, async () => {
  const file = path.join(dir, 'overviews.tif');
  const info = await describeRaster(file);
  assert.deepEqual(
    info.overviews.map((o) => [o.width, o.height]),
    [
      [350, 250],
      [175, 125],
    ],
  );
  const reader = openRasterWindows(info);
  for (const ovr of [0, 1]) {
    const ours = await reader.read({ x: 10, y: 20, width: 150, height: 100, overview: ovr });
    const gdal = await gdalWindow(file, 10, 20, 150, 100, ovr);
    assert.ok(Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength).equals(gdal.data), `overview ${ovr}`);
  }
  await assert.rejects(reader.read({ x: 0, y: 0, width: 10, height: 10, overview: 2 }), RangeError);
  await assert.rejects(reader.read({ x: 690, y: 0, width: 20, height: 10 }), RangeError);
});

test('TIFF + TFW without GeoKeys: georef from the world file, CRS from the option', { skip }, async () => {
  const file = path.join(dir, 'tfw.tif');
  await assert.rejects(
    describeRaster(file),
    (e: unknown) => e instanceof RasterSourceError && e.code === 'NO_GEOREFERENCING' && /srs/.test(e.message),
  );
  const info = await describeRaster(file, { srs: 'EPSG:2154' });
  assert.equal(info.georefSource, 'worldfile');
  assert.deepEqual(info.geoTransform, [650000, 0.5, 0, 6860000, 0, -0.5]);
  assert.deepEqual(info.bbox, [650000, 6859750, 650350, 6860000]);
  // without the world file either: no georeferencing at all
  const bare = path.join(dir, 'bare.tif');
  await copyFile(file, bare);
  await assert.rejects(
    describeRaster(bare, { srs: 'EPSG:2154' }),
    (e: unknown) => e instanceof RasterSourceError && e.code === 'NO_GEOREFERENCING',
  );
});

test('PixelIsPoint: half-pixel shift as GDAL', { skip }, async () => {
  const file = path.join(dir, 'pixelispoint.tif');
  assert.deepEqual((await describeRaster(file)).geoTransform, gdalGeoTransform(file));
});

test('errors: not a TIFF, truncated, unsupported sample format, JPEG 2000 without codestream, unknown srs', { skip }, async () => {
  const code = (c: string) => (e: unknown) => e instanceof RasterSourceError && e.code === c;
  await assert.rejects(describeRaster(path.join(dir, 'not-a-tiff.tif')), code('NOT_A_TIFF'));
  const truncated = path.join(dir, 'truncated.tif');
  await copyFile(path.join(dir, 'deflate_tiled.tif'), truncated);
  await truncate(truncated, 200000);
  await assert.rejects(describeRaster(truncated), code('TRUNCATED'));
  await assert.rejects(
    describeRaster(path.join(dir, 'int16.tif')),
    (e: unknown) => code('UNSUPPORTED_SAMPLE_FORMAT')(e) && /int16/.test((e as Error).message),
  );
  const jp2 = path.join(dir, 'fake.jp2');
  await writeFile(jp2, Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]));
  await assert.rejects(describeRaster(jp2), (e: unknown) => code('TRUNCATED')(e) && /no codestream box/.test((e as Error).message));
  await assert.rejects(describeRaster(path.join(dir, 'deflate_tiled.tif'), { srs: 'EPSG:0' }), code('UNKNOWN_CRS'));
});

test('world file parsing converts pixel centres to corners', () => {
  assert.deepEqual(parseWorldFile('0.5\n0\n0\n-0.5\n650000.25\n6859999.75\n'), [650000, 0.5, 0, 6860000, 0, -0.5]);
  assert.equal(parseWorldFile('1\n2\n3\n'), undefined);
});

test('window readers of one raster share its file: one closing leaves it to the other, the last one closes it', { skip }, async () => {
  await closeRasterSources();
  const info = await describeRaster(path.join(dir, 'float32.tif')); // read by geotiff.js, which keeps the file open
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  const window = { x: 100, y: 100, width: 64, height: 32 };
  const a = openRasterWindows(info);
  const b = openRasterWindows(info);
  const fromA = await a.read(window);
  await b.read(window);
  assert.equal(fds(), before + 1, 'one file handle for both readers');
  // b's read in flight while a closes: the file stays open for b.
  const reading = b.read({ ...window, y: 200 });
  await a.close();
  await a.close(); // a second close changes nothing
  await reading;
  assert.equal(fds(), before + 1, 'a closed: the file is still open, for b');
  const fromB = await b.read(window);
  assert.deepEqual(fromB.data, fromA.data, 'the other reader still reads after the first closed');
  assert.equal(fds(), before + 1);
  await b.close();
  assert.equal(fds(), before, 'the last reader to close closes the file');
});
