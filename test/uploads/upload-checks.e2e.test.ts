/**
 * Closing an upload (issue 11): the standard and raster checks run as jobs of their own processes (in
 * /jobs, with progress and log lines); all passed → CLOSED, one failed → UNSTABLE naming the file and
 * the block; reopen, replace, close → CLOSED. Inputs are made by our generator and GDAL (TIFF + TFW).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';
import { inCI, skipUnlessCommands } from '../helpers/env.js';
import { corruptBlock, SMALL } from '../helpers/pyramids.js';
import { startTestServer } from '../helpers/server.js';
import { checkExecution, checksOf, closeAndWait, createUpload, getUpload, sendMultipart, sendPut } from './upload-helpers.js';

const skip = inCI ? false : skipUnlessCommands('gdal_translate');

test('close: both checks run as jobs and pass on a TIFF + TFW (the upload srs), CLOSED; a corrupt block → UNSTABLE naming it; reopen, replace, close → CLOSED', {
  skip,
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-upload-checks-'));
  const s = await startTestServer();
  try {
    const geotiff = path.join(dir, 'map.tif');
    await makeSyntheticMap({ ...SMALL, path: geotiff });
    // TIFF + TFW: no GeoKeys, the upload's srs gives the CRS.
    const plain = path.join(dir, 'scan.tif');
    execFileSync('gdal_translate', [
      '-q',
      '-co',
      'PROFILE=BASELINE',
      '-co',
      'TFW=YES',
      '-co',
      'TILED=YES',
      '-co',
      'COMPRESS=DEFLATE',
      geotiff,
      plain,
    ]);

    const id = await createUpload(s, 'scans');
    await sendMultipart(s, id, 'data/scan.tif', plain);
    await sendPut(s, id, 'data/scan.tfw', path.join(dir, 'scan.tfw'));
    // The platform's md5 file, as md5sum writes it.
    const md5 = execFileSync('md5sum', [plain]).toString().split(' ')[0];
    await writeFile(path.join(dir, 'scan.tif.md5'), `${md5}  scan.tif\n`);
    await sendPut(s, id, 'data/scan.tif.md5', path.join(dir, 'scan.tif.md5'));

    const closed = await closeAndWait(s, id);
    assert.equal(closed.status, 'CLOSED', JSON.stringify(closed));
    const raster = (closed.type_infos as { raster: Record<string, unknown> }).raster;
    assert.equal(raster.srs, 'EPSG:2154');
    assert.deepEqual(raster.resolution, [SMALL.pixelSize, SMALL.pixelSize]);
    assert.deepEqual(raster.size, [SMALL.width, SMALL.height]);
    assert.deepEqual(raster.bbox, [1150000, 6240000 - SMALL.height * SMALL.pixelSize, 1150000 + SMALL.width * SMALL.pixelSize, 6240000]);

    const checks = await checksOf(s, id);
    assert.deepEqual([checks.asked, checks.in_progress, checks.failed], [[], [], []]);
    assert.deepEqual(
      checks.passed.map((c) => c.check).sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: 'raster', _id: 'check-raster' },
        { name: 'standard', _id: 'check-standard' },
      ],
    );
    for (const c of checks.passed) {
      // Each execution is a job of the check's process, listed in /jobs, with its log lines.
      const job = (await (await fetch(`${s.url}/jobs/${c._id}`)).json()) as Record<string, unknown>;
      assert.equal(job.processID, c.check._id);
      assert.equal(job.status, 'successful');
      assert.equal(job.progress, 100);
      const listed = (await (await fetch(`${s.url}/jobs?processID=${c.check._id}`)).json()) as { jobs: Array<{ jobID: string }> };
      assert.ok(listed.jobs.some((j) => j.jobID === c._id));
      const execution = await checkExecution(s, id, c._id);
      assert.equal(execution.status, 'passed');
      assert.ok(Array.isArray(job.logs) && job.logs.length > 0, 'the job status carries the log lines');
      assert.deepEqual(execution.logs, job.logs);
    }
    const rasterRun = await checkExecution(s, id, checks.passed.find((c) => c.check.name === 'raster')!._id);
    assert.ok(
      rasterRun.logs.some(
        (l) => l.includes('data/scan.tif: 600x1200, 3 uint8 band(s), EPSG:2154 (world file)') && l.includes('every block decodes'),
      ),
      rasterRun.logs.join('\n'),
    );
    const standardRun = await checkExecution(s, id, checks.passed.find((c) => c.check.name === 'standard')!._id);
    assert.ok(standardRun.logs.includes('INFO data/scan.tif: MD5 matches data/scan.tif.md5'), standardRun.logs.join('\n'));

    // Not OPEN: no second close, no file change; a CLOSED upload reopens.
    assert.equal((await fetch(`${s.url}/uploads/${id}/close`, { method: 'POST' })).status, 409);
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=x.tif`, { method: 'PUT', body: 'x' })).status, 409);
    const reopened = await fetch(`${s.url}/uploads/${id}/open`, { method: 'POST' });
    assert.equal(reopened.status, 200);
    assert.equal(((await reopened.json()) as { status: string }).status, 'OPEN');
    assert.equal((await fetch(`${s.url}/uploads/${id}/open`, { method: 'POST' })).status, 409);

    // A corrupt block (column 1, row 2 of 3 tiles across: block 7) and an empty file → UNSTABLE, both named.
    const corrupt = path.join(dir, 'corrupt.tif');
    await corruptBlock(geotiff, corrupt);
    await sendPut(s, id, 'data/scan.tif', corrupt);
    await rm(path.join(dir, 'scan.tfw'));
    await sendPut(s, id, 'data/scan.tif.md5', path.join(dir, 'scan.tif.md5'));
    const unstable = await closeAndWait(s, id);
    assert.equal(unstable.status, 'UNSTABLE');
    const failed = await checksOf(s, id);
    assert.deepEqual(
      failed.failed.map((c) => c.check.name).sort(),
      ['raster', 'standard'],
      'the raster check fails on the block, the standard one on the md5 file that no longer matches',
    );
    const rasterFail = await checkExecution(s, id, failed.failed.find((c) => c.check.name === 'raster')!._id);
    assert.equal(rasterFail.status, 'failed');
    assert.ok(
      rasterFail.logs.some((l) => l.startsWith('ERROR data/scan.tif: block 7 (column 1, row 2) cannot be decoded')),
      rasterFail.logs.join('\n'),
    );
    assert.ok(!rasterFail.logs.some((l) => l.includes(s.dir)), 'no server path in the logs');
    const rasterJob = (await (await fetch(`${s.url}/jobs/${rasterFail._id}`)).json()) as { status: string; message: string };
    assert.equal(rasterJob.status, 'failed');
    assert.match(rasterJob.message, /data\/scan\.tif: block 7/);
    assert.match((unstable.last_event as { title: string }).title, /checks failed \(.*raster.*\)/);
    const standardFail = await checkExecution(s, id, failed.failed.find((c) => c.check.name === 'standard')!._id);
    assert.ok(
      standardFail.logs.some((l) => l.startsWith('ERROR data/scan.tif: its MD5 is')),
      standardFail.logs.join('\n'),
    );

    // Reopen, replace with a whole file, drop the stale md5, close → CLOSED.
    assert.equal((await fetch(`${s.url}/uploads/${id}/open`, { method: 'POST' })).status, 200);
    await sendPut(s, id, 'data/scan.tif', geotiff);
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=data/scan.tif.md5`, { method: 'DELETE' })).status, 204);
    assert.equal((await closeAndWait(s, id)).status, 'CLOSED');

    // A truncated TIFF: the raster check names the file and the block that ends beyond it.
    const truncated = path.join(dir, 'truncated.tif');
    // A COG: its IFD comes first, so that the cut removes blocks, not the header.
    execFileSync('gdal_translate', ['-q', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', geotiff, truncated]);
    await truncate(truncated, Math.floor((await stat(truncated)).size * 0.6));
    const other = await createUpload(s, 'truncated');
    await sendPut(s, other, 'truncated.tif', truncated);
    assert.equal((await closeAndWait(s, other)).status, 'UNSTABLE');
    const t = await checksOf(s, other);
    assert.deepEqual(
      t.passed.map((c) => c.check.name),
      ['standard'],
    );
    const tRun = await checkExecution(s, other, t.failed[0]._id);
    assert.ok(
      tRun.logs.some((l) => /^ERROR truncated\.tif is truncated: block \d+ ends at byte \d+/.test(l)),
      tRun.logs.join('\n'),
    );
    assert.equal((await getUpload(s, other)).status, 'UNSTABLE');
  } finally {
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
