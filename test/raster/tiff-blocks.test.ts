/**
 * TIFF blocks decoded without libvips (src/raster/tiff-blocks.ts), against GDAL's pixels, on each of the
 * three paths a window can take: the main thread (asynchronous reads, a buffer per block), a worker thread
 * with libdeflate (synchronous, the thread's scratch) and a worker thread without it (node:zlib on libuv's
 * pool). Layouts it does not take are left to libvips; a damaged block is named, never read as zeros.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { mkdtemp, rm, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';
import { fromFile } from 'geotiff';
import { skipUnlessAvailable, skipUnlessCommands } from '../helpers/env.js';
import { gdalWindow as gdalWindowOf } from '../helpers/gdal-window.js';
import { blockLayoutOf, readBlockWindow, TiffBlockError } from '../../src/raster/tiff-blocks.js';
import { inflateIntoSync, libdeflateAvailable } from '../../src/raster/inflate.js';
import { closeRasterSources, describeRaster, openRasterWindows } from '../../src/raster/geotiff-source.js';

const skip = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
const skipNative = skip || skipUnlessAvailable(libdeflateAvailable(), 'libdeflate (Debian libdeflate0)');
let dir = '';

/** 300 × 203 px (odd, so edge blocks are partial), noisy enough that the codecs do real work. */
const MAKE_FIXTURES = `
import sys, numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
out = sys.argv[1]
srs = osr.SpatialReference(); srs.ImportFromEPSG(2154)
W, H = 300, 203
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:H, 0:W]
base = np.stack([(xx * 255 // (W - 1)), (yy * 255 // (H - 1)), ((xx * 3 + yy * 7) % 256)]).astype(np.int32)
rgb = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
def mem(arrays, dtype=gdal.GDT_Byte):
    m = gdal.GetDriverByName('MEM').Create('', W, H, len(arrays), dtype)
    m.SetGeoTransform([650000.0, 0.5, 0, 6860000.0, 0, -0.5]); m.SetProjection(srs.ExportToWkt())
    for b, a in enumerate(arrays): m.GetRasterBand(b + 1).WriteArray(a)
    return m
src = mem(list(rgb))
def tr(name, opts, s=src, **kw): gdal.Translate(f'{out}/{name}.tif', s, creationOptions=opts, **kw)
tr('none_tiled', ['TILED=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=32'])
tr('none_striped', ['BLOCKYSIZE=7'])
tr('none_one_strip', ['BLOCKYSIZE=203'])
tr('tile_full_width', ['TILED=YES', 'COMPRESS=DEFLATE', 'BLOCKXSIZE=256', 'BLOCKYSIZE=64'], srcWin=[0, 0, 256, 203])
tr('deflate_tiled', ['TILED=YES', 'COMPRESS=DEFLATE', 'BLOCKXSIZE=48', 'BLOCKYSIZE=80'])
tr('deflate_pred_striped', ['COMPRESS=DEFLATE', 'PREDICTOR=2', 'BLOCKYSIZE=16'])
tr('deflate_pred_tiled', ['TILED=YES', 'COMPRESS=DEFLATE', 'PREDICTOR=2', 'ZLEVEL=9'])
tr('lzw_pred_tiled', ['TILED=YES', 'COMPRESS=LZW', 'PREDICTOR=2', 'BLOCKXSIZE=32', 'BLOCKYSIZE=32'])
tr('lzw_striped', ['COMPRESS=LZW', 'BLOCKYSIZE=50'])
tr('packbits_tiled', ['TILED=YES', 'COMPRESS=PACKBITS', 'BLOCKXSIZE=16', 'BLOCKYSIZE=16'])
tr('bigtiff', ['TILED=YES', 'COMPRESS=DEFLATE', 'BIGTIFF=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64'])
tr('gray', ['TILED=YES', 'COMPRESS=DEFLATE', 'PREDICTOR=2', 'BLOCKXSIZE=32', 'BLOCKYSIZE=16'], bandList=[1])
alpha = np.where((xx > 40) & (yy < 150), 255, 0).astype(np.uint8)
m4 = mem([rgb[0], rgb[1], rgb[2], alpha]); m4.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
gdal.Translate(f'{out}/rgba.tif', m4, creationOptions=['TILED=YES', 'COMPRESS=DEFLATE', 'PREDICTOR=2', 'BLOCKXSIZE=64', 'BLOCKYSIZE=32'])
# A sparse file: the blocks never written have no bytes (offset and count 0); GDAL reads them as 0.
d = gdal.GetDriverByName('GTiff').Create(f'{out}/sparse.tif', W, H, 3, gdal.GDT_Byte, ['TILED=YES', 'COMPRESS=DEFLATE', 'SPARSE_OK=TRUE', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64'])
d.SetGeoTransform([650000.0, 0.5, 0, 6860000.0, 0, -0.5]); d.SetProjection(srs.ExportToWkt())
for b in range(3): d.GetRasterBand(b + 1).WriteArray(rgb[b][64:128, 128:192], 128, 64)
d = None
tr('overviews', ['TILED=YES', 'COMPRESS=DEFLATE', 'BLOCKXSIZE=32', 'BLOCKYSIZE=32'])
ds = gdal.Open(f'{out}/overviews.tif', 1); ds.BuildOverviews('AVERAGE', [2, 4]); ds = None
# Layouts left to libvips.
tall = gdal.GetDriverByName('MEM').Create('', 40, 1100, 3, gdal.GDT_Byte)
tall.SetGeoTransform([650000.0, 0.5, 0, 6860000.0, 0, -0.5]); tall.SetProjection(srs.ExportToWkt())
gdal.Translate(f'{out}/tall_deflate_strip.tif', tall, creationOptions=['COMPRESS=DEFLATE', 'BLOCKYSIZE=1100'])
tr('jpeg_ycbcr', ['TILED=YES', 'COMPRESS=JPEG', 'PHOTOMETRIC=YCBCR'])
tr('planar', ['TILED=YES', 'COMPRESS=DEFLATE', 'INTERLEAVE=BAND'])
tr('uint16', ['TILED=YES'], outputType=gdal.GDT_UInt16)
tr('minisblack_inverted', ['PHOTOMETRIC=MINISWHITE'], bandList=[1])
pal = mem([rgb[0]]); ct = gdal.ColorTable()
for i in range(256): ct.SetColorEntry(i, (i, 255 - i, i // 2, 255))
pal.GetRasterBand(1).SetRasterColorTable(ct)
gdal.Translate(f'{out}/palette.tif', pal)
`;

function py(script: string, ...args: string[]): string {
  return execFileSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
}

async function gdalWindow(file: string, w: Window, ovr = -1): Promise<Buffer> {
  return (await gdalWindowOf(file, w, dir, ovr)).data;
}

interface Window {
  x: number;
  y: number;
  width: number;
  height: number;
}

// Inside one block, across blocks, on the right and bottom edges, the whole image.
const WINDOWS: Window[] = [
  { x: 3, y: 5, width: 10, height: 6 },
  { x: 37, y: 21, width: 150, height: 99 },
  { x: 211, y: 150, width: 89, height: 53 },
  { x: 0, y: 0, width: 300, height: 203 },
];

const TAKEN = [
  'none_tiled',
  'none_striped',
  'none_one_strip',
  'deflate_tiled',
  'deflate_pred_striped',
  'deflate_pred_tiled',
  'lzw_pred_tiled',
  'lzw_striped',
  'packbits_tiled',
  'bigtiff',
  'gray',
  'rgba',
  'sparse',
  'overviews',
];

async function layoutOf(file: string, ifd = 0) {
  const tiff = await fromFile(file);
  try {
    return await blockLayoutOf(await tiff.getImage(ifd));
  } finally {
    tiff.close();
  }
}

/** Reads `windows` of `file` in a worker thread, with `env` as its environment (DALLAGE_LIBDEFLATE=off). */
function inWorker(
  file: string,
  ifd: number,
  windows: Window[],
  env: NodeJS.ProcessEnv,
): Promise<{ native: boolean; windows: Uint8Array[] }> {
  const blocks = new URL('../../src/raster/tiff-blocks.js', import.meta.url).href;
  const inflate = new URL('../../src/raster/inflate.js', import.meta.url).href;
  const geotiff = import.meta.resolve('geotiff');
  const script = `
    import { workerData, parentPort } from 'node:worker_threads';
    import { openSync, closeSync } from 'node:fs';
    const { blockLayoutOf, readBlockWindow } = await import(${JSON.stringify(blocks)});
    const { libdeflateAvailable } = await import(${JSON.stringify(inflate)});
    const { fromFile } = await import(${JSON.stringify(geotiff)});
    const tiff = await fromFile(workerData.file);
    const layout = await blockLayoutOf(await tiff.getImage(workerData.ifd));
    const fd = openSync(workerData.file, 'r');
    const windows = [];
    for (const w of workerData.windows) windows.push(await readBlockWindow(fd, layout, w));
    closeSync(fd);
    parentPort.postMessage({ native: libdeflateAvailable(), windows });
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(script)}`), { workerData: { file, ifd, windows }, env });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

before(() => {
  if (skip) return;
  return mkdtemp(path.join(os.tmpdir(), 'tiff-blocks-')).then((d) => {
    dir = d;
    py(MAKE_FIXTURES, dir);
  });
});
after(async () => {
  await closeRasterSources();
  if (dir && !process.env.KEEP) await rm(dir, { recursive: true, force: true });
});

for (const name of TAKEN) {
  test(`${name}: decoded here, windows equal GDAL's on the main thread`, { skip }, async () => {
    const file = path.join(dir, `${name}.tif`);
    const layout = await layoutOf(file);
    assert.ok(layout, `${name} is a layout tiff-blocks.ts decodes`);
    if (name === 'sparse') assert.ok(Array.from(layout.counts, Number).includes(0), 'the sparse fixture has blocks without bytes');
    const fd = openSync(file, 'r');
    try {
      for (const w of WINDOWS) {
        const ours = await readBlockWindow(fd, layout, w);
        assert.ok(Buffer.from(ours).equals(await gdalWindow(file, w)), `${name} window ${JSON.stringify(w)}`);
      }
    } finally {
      closeSync(fd);
    }
  });
}

test('worker threads: libdeflate (synchronous, scratch buffers) and node:zlib give GDAL’s samples', { skip: skipNative }, async () => {
  for (const name of TAKEN) {
    const file = path.join(dir, `${name}.tif`);
    const expected = await Promise.all(WINDOWS.map((w) => gdalWindow(file, w)));
    const native = await inWorker(file, 0, WINDOWS, process.env);
    const zlib = await inWorker(file, 0, WINDOWS, { ...process.env, DALLAGE_LIBDEFLATE: 'off' });
    assert.equal(native.native, true);
    assert.equal(zlib.native, false);
    for (let i = 0; i < WINDOWS.length; i++) {
      assert.ok(Buffer.from(native.windows[i]).equals(expected[i]), `${name} window ${i} with libdeflate`);
      assert.ok(Buffer.from(zlib.windows[i]).equals(expected[i]), `${name} window ${i} with node:zlib`);
    }
  }
});

test('libdeflate: the exact length, a short stream (the caller checks it), a stream longer than the block (its head, as libtiff)', {
  skip: skipNative,
}, () => {
  const stream = deflateSync(Buffer.alloc(1000, 7));
  const out = new Uint8Array(1001);
  assert.equal(inflateIntoSync(stream, out.subarray(0, 1000)), 1000);
  assert.ok(out.subarray(0, 1000).every((v) => v === 7));
  assert.equal(inflateIntoSync(stream, out), 1000);
  const head = new Uint8Array(999);
  assert.equal(inflateIntoSync(deflateSync(Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))), head), 999);
  assert.ok(head.every((v, i) => v === i % 251));
  assert.throws(() => inflateIntoSync(Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff]), out), /corrupt Deflate stream/);
});

test('overviews: each IFD has its own layout and equals GDAL’s overview', { skip }, async () => {
  const file = path.join(dir, 'overviews.tif');
  const info = await describeRaster(file);
  const fd = openSync(file, 'r');
  try {
    for (const [ovr, { ifd, width, height }] of info.overviews.entries()) {
      const layout = await layoutOf(file, ifd);
      assert.ok(layout);
      assert.deepEqual([layout.width, layout.height], [width, height]);
      const w = { x: 5, y: 3, width: width - 9, height: height - 4 };
      assert.ok(Buffer.from(await readBlockWindow(fd, layout, w)).equals(await gdalWindow(file, w, ovr)), `overview ${ovr}`);
    }
  } finally {
    closeSync(fd);
  }
});

test('layouts it does not decode are left to libvips: JPEG YCbCr, planar, 16-bit, min-is-white, palette, compressed strips over 1024 rows', {
  skip,
}, async () => {
  for (const name of ['jpeg_ycbcr', 'planar', 'uint16', 'minisblack_inverted', 'palette', 'tall_deflate_strip']) {
    assert.equal(await layoutOf(path.join(dir, `${name}.tif`)), undefined, name);
  }
  // And the window reader still reads them (through libvips) as GDAL does.
  const file = path.join(dir, 'planar.tif');
  const window = await openRasterWindows(await describeRaster(file)).read(WINDOWS[1]);
  assert.ok(Buffer.from(window.data.buffer, window.data.byteOffset, window.data.byteLength).equals(await gdalWindow(file, WINDOWS[1])));
});

/** A copy of `file` named `name` whose block 8 has `bytes` written at `at` within it (`change` sees the block's byte count). */
async function withBlock8(file: string, name: string, change: (count: number) => { at: number; bytes: Buffer }) {
  const copy = path.join(dir, name);
  execFileSync('cp', [file, copy]);
  const layout = await layoutOf(copy);
  assert.ok(layout);
  const { at, bytes } = change(Number(layout.counts[8]));
  const fh = await open(copy, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, Number(layout.offsets[8]) + at);
  } finally {
    await fh.close();
  }
  return { copy, layout };
}

test('a damaged block is named (file, image, block) on every path, and the blocks around it still read', { skip: skipNative }, async () => {
  const file = path.join(dir, 'deflate_tiled.tif');
  // Block 8 (column 1 of row 1: 48 × 80 blocks, 7 across) overwritten with garbage after its zlib header.
  const { copy: damaged, layout } = await withBlock8(file, 'damaged.tif', (count) => ({ at: 2, bytes: Buffer.alloc(count - 4, 0xa5) }));
  const inside = { x: 60, y: 90, width: 20, height: 20 };
  const elsewhere = { x: 0, y: 0, width: 40, height: 70 };
  const fd = openSync(damaged, 'r');
  try {
    await assert.rejects(
      readBlockWindow(fd, layout, inside),
      (err: Error) => err instanceof TiffBlockError && /block 8 cannot be decoded/.test(err.message),
    );
    assert.ok(Buffer.from(await readBlockWindow(fd, layout, elsewhere)).equals(await gdalWindow(file, elsewhere)));
  } finally {
    closeSync(fd);
  }
  for (const env of [process.env, { ...process.env, DALLAGE_LIBDEFLATE: 'off' }]) {
    await assert.rejects(inWorker(damaged, 0, [inside], env), /block 8 cannot be decoded/);
  }
  // Through the window reader, the message names the file and its image.
  const reader = openRasterWindows(await describeRaster(damaged));
  await assert.rejects(reader.read(inside), (err: Error) => err.message.includes(`${damaged}, image 0: block 8 cannot be decoded`));
  await reader.close();
});

test('a block whose stream decodes short is an error on every path, not a partial block', { skip: skipNative }, async () => {
  // Block 8's stream replaced by a valid one of 100 bytes (its byte count is unchanged: the tail is junk after the end).
  const { copy: short, layout } = await withBlock8(path.join(dir, 'deflate_tiled.tif'), 'short.tif', () => ({
    at: 0,
    bytes: deflateSync(Buffer.alloc(100, 1)),
  }));
  const expected = new RegExp(`block 8 decodes to 100 bytes, ${48 * 80 * 3} expected`);
  const window = { x: 60, y: 90, width: 20, height: 20 };
  const fd = openSync(short, 'r');
  try {
    await assert.rejects(readBlockWindow(fd, layout, window), expected);
  } finally {
    closeSync(fd);
  }
  for (const env of [process.env, { ...process.env, DALLAGE_LIBDEFLATE: 'off' }])
    await assert.rejects(inWorker(short, 0, [window], env), expected);
});

test('tiles as wide as the image are padded blocks, not strips; one uncompressed strip is read band by band', { skip }, async () => {
  const file = path.join(dir, 'tile_full_width.tif');
  const layout = await layoutOf(file);
  assert.ok(layout?.tiled);
  assert.deepEqual([layout.width, layout.blockWidth], [256, 256]);
  const strip = await layoutOf(path.join(dir, 'none_one_strip.tif'));
  assert.deepEqual([strip?.tiled, strip?.blockHeight, strip?.counts.length], [false, 203, 1]);
  const fd = openSync(file, 'r');
  try {
    for (const w of [
      { x: 0, y: 150, width: 256, height: 53 },
      { x: 17, y: 60, width: 200, height: 9 },
    ]) {
      assert.ok(Buffer.from(await readBlockWindow(fd, layout, w)).equals(await gdalWindow(file, w)), JSON.stringify(w));
    }
  } finally {
    closeSync(fd);
  }
});

test('a block cut short by the end of the file is an error, not zeros', { skip }, async () => {
  const file = path.join(dir, 'deflate_tiled.tif');
  const layout = await layoutOf(file);
  assert.ok(layout);
  // The same layout, its last block said to lie past the end of the file (as in a file truncated after describeRaster).
  const counts = Array.from(layout.counts, Number);
  const offsets = Array.from(layout.offsets, Number);
  const last = counts.length - 1;
  offsets[last] = statSync(file).size - 10;
  const fd = openSync(file, 'r');
  try {
    await assert.rejects(
      readBlockWindow(fd, { ...layout, offsets, counts }, { x: 290, y: 200, width: 10, height: 3 }),
      new RegExp(`block ${last}: 10 of its ${counts[last]} bytes could be read`),
    );
  } finally {
    closeSync(fd);
  }
});
