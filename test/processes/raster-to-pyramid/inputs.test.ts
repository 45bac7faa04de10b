/**
 * raster-to-pyramid on other kinds of input (issue 3 "Reading rasters"): TIFF + TFW with `srs`, a float32
 * DTM, RGBA with alpha as mask, a JPEG-compressed GeoTIFF, north + south halves in one request. Variants are
 * made by GDAL from the synthetic map; each pyramid's bottom level is compared with gdalwarp -r cubic.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { skipUnlessCommands } from '../../helpers/env.js';
import type { TestServer } from '../../helpers/server.js';
import {
  bottomLevelId,
  compareWithReference,
  gdalReference,
  generate,
  hrefOf,
  makeInput,
  mosaicLevel,
  openPyramid,
  python,
  startPyramidServer,
  type LevelMosaic,
} from '../../helpers/pyramids.js';

const skip = skipUnlessCommands('gdalwarp', 'gdal_translate');
let s: TestServer;
let tmp: string;
let map: Awaited<ReturnType<typeof makeInput>>;
const common = { tms: 'PM', mask: true, width: 4, height: 4, compression: 'zip' };

before(async () => {
  if (skip) return;
  s = await startPyramidServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pyramid-inputs-'));
  map = await makeInput(s, 'map.tif');
});

after(async () => {
  await s?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Bottom level of pyramid `name` vs gdalwarp -r cubic of `src` (psnr.py rules); asserts ≥ 45 dB and IoU ≥ 0.99. */
async function assertBottomMatches(
  name: string,
  src: string,
  options: { srcNodata?: number; validNodata?: number } = {},
): Promise<LevelMosaic> {
  const reader = await openPyramid(s, name);
  const m = await mosaicLevel(reader, bottomLevelId(reader), 'PM');
  const ref = gdalReference(src, path.join(tmp, `${name}.tif`), m, 'EPSG:3857', { srcNodata: options.srcNodata });
  const q = compareWithReference(m, ref, options.validNodata);
  console.log(`${name}: level ${m.level} ${m.width}×${m.height}: ${JSON.stringify(q)}`);
  assert.ok(q.compared > 400_000, `${name}: ${q.compared} pixels compared`);
  assert.ok(q.psnr >= 45, `${name}: PSNR ${q.psnr.toFixed(2)} dB`);
  assert.ok(q.iou >= 0.99, `${name}: IoU ${q.iou}`);
  return m;
}

test('TIFF + TFW (no GeoKeys) with srs EPSG:2154 gives the GeoTIFF result', { skip }, async () => {
  const plain = path.join(s.inputRoot, 'plain.tif');
  execFileSync('gdal_translate', ['-q', '-co', 'PROFILE=BASELINE', '-co', 'TFW=YES', '-co', 'TILED=YES', map.path, plain]);
  assert.ok(existsSync(path.join(s.inputRoot, 'plain.tfw')));
  // GDAL keeps the CRS of a BASELINE TIFF in a .aux.xml sidecar: remove it, the TFW alone remains.
  await rm(`${plain}.aux.xml`, { force: true });
  assert.doesNotMatch(execFileSync('gdalinfo', [plain]).toString(), /PROJCRS|Lambert/, 'the TIFF carries no CRS');
  const { record } = await generate(s, { ...common, images: [{ href: hrefOf(plain) }], srs: 'EPSG:2154', nodata: 255, name: 'TFW' });
  assert.equal(record.status, 'READY');
  await assertBottomMatches('TFW', map.path, { srcNodata: 255, validNodata: 255 });
});

test('float32 DTM (1 band, GDAL_NODATA -99999) → TIFF_ZIP_FLOAT32, values as gdalwarp cubic', { skip }, async () => {
  const dtm = path.join(s.inputRoot, 'dtm.tif');
  python(
    `
import sys, numpy as np
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open(sys.argv[1])
b = src.GetRasterBand(1).ReadAsArray().astype(np.float32)
collar = b == 255
z = b * 2.5 + 100.125
z[collar] = -99999
out = gdal.GetDriverByName('GTiff').Create(sys.argv[2], src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Float32, ['TILED=YES', 'COMPRESS=DEFLATE'])
out.SetGeoTransform(src.GetGeoTransform()); out.SetProjection(src.GetProjection())
out.GetRasterBand(1).SetNoDataValue(-99999); out.GetRasterBand(1).WriteArray(z); out = None
`,
    map.path,
    dtm,
  );
  const { record } = await generate(s, { ...common, images: [{ href: hrefOf(dtm) }], name: 'DTM' });
  const infos = record.type_infos as Record<string, unknown>;
  assert.equal(infos.format, 'TIFF_ZIP_FLOAT32');
  assert.equal(infos.channels, 1);
  assert.deepEqual(infos.nodata, [-99999]);
  const reader = await openPyramid(s, 'DTM');
  assert.equal(reader.descriptor.raster_specifications.photometric, 'gray');
  const m = await mosaicLevel(reader, bottomLevelId(reader), 'PM');
  const ref = gdalReference(dtm, path.join(tmp, 'dtm-ref.tif'), m, 'EPSG:3857');
  assert.equal(ref.bands, 2);
  assert.equal(ref.dataType, 'Float32');
  const refValues = new Float32Array(ref.bytes.buffer.slice(ref.bytes.byteOffset, ref.bytes.byteOffset + ref.bytes.byteLength));
  const ours = m.pixels as Float32Array;
  let se = 0,
    n = 0,
    both = 0,
    any = 0,
    lo = Infinity,
    hi = -Infinity;
  for (let p = 0; p < m.width * m.height; p++) {
    const a = m.mask[p] !== 0,
      b = refValues[2 * p + 1] !== 0;
    if (!a) assert.equal(ours[p], -99999, 'nodata under mask 0');
    if (a || b) any++;
    if (!(a && b)) continue;
    both++;
    const d = ours[p] - refValues[2 * p];
    se += d * d;
    n++;
    lo = Math.min(lo, refValues[2 * p]);
    hi = Math.max(hi, refValues[2 * p]);
  }
  const psnr = 10 * Math.log10((hi - lo) ** 2 / (se / n));
  console.log(
    `DTM: level ${m.level}: PSNR over the value range ${lo}..${hi}: ${psnr.toFixed(2)} dB, IoU ${(both / any).toFixed(6)}, ${n} pixels`,
  );
  assert.ok(n > 400_000);
  assert.ok(psnr >= 45, `DTM PSNR ${psnr}`);
  assert.ok(both / any >= 0.99, `DTM IoU ${both / any}`);
});

test('RGBA: the alpha band is the mask (no nodata input)', { skip }, async () => {
  const rgba = path.join(s.inputRoot, 'rgba.tif');
  python(
    `
import sys, numpy as np
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open(sys.argv[1])
a = src.ReadAsArray()
alpha = np.where((a[0] == 255) & (a[1] == 255) & (a[2] == 255), 0, 255).astype(np.uint8)
out = gdal.GetDriverByName('GTiff').Create(sys.argv[2], src.RasterXSize, src.RasterYSize, 4, gdal.GDT_Byte, ['TILED=YES', 'COMPRESS=DEFLATE', 'ALPHA=YES'])
out.SetGeoTransform(src.GetGeoTransform()); out.SetProjection(src.GetProjection())
for i in range(3): out.GetRasterBand(i + 1).WriteArray(a[i])
out.GetRasterBand(4).WriteArray(alpha); out = None
`,
    map.path,
    rgba,
  );
  const { record } = await generate(s, { ...common, images: [{ href: hrefOf(rgba) }], name: 'RGBA' });
  const infos = record.type_infos as Record<string, unknown>;
  console.log(`RGBA: ${infos.format}, ${infos.channels} channels`);
  // GDAL honours the alpha band as the source mask (-dstalpha); so must we. Valid = mask only (no nodata test).
  await assertBottomMatches('RGBA', rgba);
});

test('JPEG-compressed GeoTIFF (YCbCr) source', { skip }, async () => {
  const jpeg = path.join(s.inputRoot, 'jpeg.tif');
  execFileSync('gdal_translate', [
    '-q',
    '-co',
    'COMPRESS=JPEG',
    '-co',
    'PHOTOMETRIC=YCBCR',
    '-co',
    'JPEG_QUALITY=92',
    '-co',
    'TILED=YES',
    map.path,
    jpeg,
  ]);
  assert.match(execFileSync('gdalinfo', [jpeg]).toString(), /COMPRESSION=YCbCr JPEG/);
  await generate(s, { ...common, images: [{ href: hrefOf(jpeg) }], nodata: 255, name: 'FROM_JPEG' });
  // Same decoded source pixels for GDAL and us (both libjpeg): the collar ringing is data for both.
  await assertBottomMatches('FROM_JPEG', jpeg, { srcNodata: 255, validNodata: 255 });
});

test('north + south halves in one request cover the full raster', { skip }, async () => {
  const north = await makeInput(s, 'north.tif', { part: 'north' });
  const south = await makeInput(s, 'south.tif', { part: 'south' });
  assert.ok(north.height < map.height && south.height < map.height);
  const { record } = await generate(s, { ...common, images: [{ href: north.href }, { href: south.href }], nodata: 255, name: 'HALVES' });
  const full = await generate(s, { ...common, images: [{ href: map.href }], nodata: 255, name: 'FULL' });
  assert.deepEqual(
    (record.type_infos as { levels: unknown }).levels,
    (full.record.type_infos as { levels: unknown }).levels,
    'same tile limits as the full raster',
  );
  const m = await assertBottomMatches('HALVES', map.path, { srcNodata: 255, validNodata: 255 });
  // Both halves contributed: data in the top and the bottom thirds of the mosaic.
  const third = Math.floor(m.height / 3) * m.width;
  assert.ok(m.mask.subarray(0, third).some((v) => v !== 0) && m.mask.subarray(2 * third).some((v) => v !== 0));
});
