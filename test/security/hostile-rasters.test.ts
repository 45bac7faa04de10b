/**
 * Hostile rasters (issue 9): every count in an IFD is checked against the file and the image before
 * a table is loaded, so a header of a few hundred bytes cannot make the server allocate gigabytes,
 * and a short tile table is a 400 at submission naming the file and the table, not a failed job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeRaster, RasterSourceError } from '../../src/raster/geotiff-source.js';
import { writeGeoTiff } from '../../src/raster/geotiff-writer.js';
import { checkTiffStructure } from '../../src/raster/tiff-structure.js';
import { execute, type TestServer } from '../helpers/server.js';
import { assertProblem, jobCount } from '../api/problem-assert.js';
import { hrefOf, startPyramidServer } from '../helpers/pyramids.js';
import { headerOnlyTiff, patchEntry, setNextIfd, TAG } from './hostile-tiff.js';

/** Peak RSS of this process so far, in MB (a high-water mark: a transient allocation is not missed). */
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** A valid 512 × 512 one-band GeoTIFF in four 256-px tiles (uncompressed), as bytes. */
async function smallTiled(dir: string): Promise<Buffer> {
  const file = path.join(dir, 'valid.tif');
  const row = new Uint8Array(512 * 256).fill(120);
  await writeGeoTiff(
    file,
    { width: 512, height: 512, bands: 1, compression: 'none', epsg: 2154, geoTransform: [1150000, 100, 0, 6240000, 0, -100] },
    [row, row],
  );
  return readFile(file);
}

async function refusedRaster(file: string, code: string, detail: RegExp): Promise<void> {
  await assert.rejects(describeRaster(file), (err: unknown) => {
    assert.ok(err instanceof RasterSourceError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, detail);
    assert.ok(err.message.includes(file), `names the file: ${err.message}`);
    return true;
  });
}

// First in this file (so in this process): the peak RSS is measured around the hostile submission.
test('a 300-byte TIFF declaring 64-px tiles over 524,288² px: 400 at submission, no table loaded (RSS bounded)', async () => {
  const s: TestServer = await startPyramidServer();
  try {
    const bomb = headerOnlyTiff({ width: 524_288, height: 524_288, tile: 64 });
    assert.ok(bomb.length < 400, `${bomb.length} bytes`);
    const file = path.join(s.inputRoot, 'bomb.tif');
    await writeFile(file, bomb);
    // Warm the path once with a plain refusal, so the server's own first-use allocations are in the baseline.
    await assertProblem(
      await execute(s.url, 'raster-to-pyramid', { inputs: { name: 'W', tms: 'PM', images: [{ href: 'file:///nowhere.tif' }] } }),
      400,
    );
    const before = peakRssMb();
    const res = await execute(
      s.url,
      'raster-to-pyramid',
      { inputs: { name: 'H', tms: 'PM', images: [{ href: hrefOf(file) }] } },
      { Prefer: 'respond-async' },
    );
    const text = await res.text();
    const growth = peakRssMb() - before;
    // geotiff.js allocated both declared tables (~540 MB here, 1.4 GB in the case) before the 400.
    assert.ok(growth < 100, `peak RSS grew by ${growth.toFixed(0)} MB`);
    const answer = new Response(text, { status: res.status, headers: res.headers });
    await assertProblem(answer, 400, { detail: /images\[0\].*bomb\.tif.*TileOffsets \(\d+ bytes\) in a file of \d+ bytes/ });
    assert.equal(await jobCount(s.url), 0);
  } finally {
    await s.stop();
  }
});

test('short tile table (2 offsets for 4 tiles): 400 at submission naming the file and the table, no job', async () => {
  const s: TestServer = await startPyramidServer();
  try {
    const bytes = await smallTiled(s.dir);
    patchEntry(bytes, TAG.TileOffsets, { count: 2 });
    patchEntry(bytes, TAG.TileByteCounts, { count: 2 });
    const file = path.join(s.inputRoot, 'short-table.tif');
    await writeFile(file, bytes);
    await refusedRaster(
      file,
      'CORRUPT',
      /tile table TileOffsets of IFD 0 has 2 entries, the image needs 4 \(2 × 2 tiles of 256 × 256 px\)/,
    );
    const res = await execute(
      s.url,
      'raster-to-pyramid',
      { inputs: { name: 'S', tms: 'PM', images: [{ href: hrefOf(file) }] } },
      { Prefer: 'respond-async' },
    );
    await assertProblem(res, 400, { detail: /images\[0\].*short-table\.tif.*tile table TileOffsets/ });
    assert.equal(await jobCount(s.url), 0);
  } finally {
    await s.stop();
  }
});

test('IFD structure: counts beyond the file, tables past its end, short strip tables, loops, no size', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'dallage-hostile-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const valid = await smallTiled(root);
  const write = async (name: string, bytes: Buffer) => {
    const file = path.join(root, name);
    await writeFile(file, bytes);
    return file;
  };
  await t.test('the valid file passes and its shape is read from the IFD', async () => {
    const [shape] = await checkTiffStructure(await write('ok.tif', valid), valid.length);
    assert.deepEqual(shape, { width: 512, height: 512, tiled: true, blockWidth: 256, blockHeight: 256, blocks: 4 });
  });
  await t.test('a table count larger than the file', async () => {
    const b = Buffer.from(valid);
    patchEntry(b, TAG.TileByteCounts, { count: 2 ** 31 });
    await refusedRaster(await write('count.tif', b), 'CORRUPT', /2147483648 values for TileByteCounts \(8589934592 bytes\)/);
  });
  await t.test('a table that lies past the end of the file', async () => {
    const b = Buffer.from(valid);
    patchEntry(b, TAG.TileOffsets, { value: b.length - 8 });
    await refusedRaster(await write('past-end.tif', b), 'TRUNCATED', /truncated: TileOffsets of IFD 0 ends at byte/);
  });
  await t.test('an IFD that points to itself', async () => {
    const b = Buffer.from(valid);
    setNextIfd(b, 0, b.readUInt32LE(4));
    await refusedRaster(await write('loop.tif', b), 'CORRUPT', /IFD 1 points back to an earlier IFD/);
  });
  await t.test('an image of width 0', async () => {
    const b = Buffer.from(valid);
    patchEntry(b, TAG.ImageWidth, { value: 0 });
    await refusedRaster(await write('empty.tif', b), 'CORRUPT', /empty image \(0 × 512\)/);
  });
  await t.test('a stripped image with fewer strip offsets than strips', async () => {
    // 64 rows in 1-row strips need 64 entries; the tables declare 1 (which a reader keeps inline).
    const b = headerOnlyTiff({ width: 64, height: 64, rowsPerStrip: 1, tableCount: 1 });
    await refusedRaster(
      await write('strips.tif', b),
      'CORRUPT',
      /strip table StripOffsets of IFD 0 has 1 entries, the image needs 64 \(64 strips of 1 rows\)/,
    );
  });
});
