/**
 * The platform's tutorial flows over HTTP (issue 11, Proof): an upload (scan.tif by multipart, scan.tfw by
 * PUT) closed and checked → raster-to-pyramid with `upload` → a READY pyramid equal to the one made from
 * the same file by href; the chained update with `upload` + `stored_data`; an UNSTABLE upload (truncated
 * TIFF) refused; reopen, replace, close → CLOSED and processed. The upload is locked while a job reads it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { inCI, skipUnlessCommands } from '../helpers/env.js';
import { generate, makeInput, slabsOf, startPyramidServer } from '../helpers/pyramids.js';
import { execute, submitJob, waitForJob, type TestServer } from '../helpers/server.js';
import { checkExecution, checksOf, closeAndWait, createUpload, sendMultipart, sendPut } from './upload-helpers.js';

const skip = inCI ? false : skipUnlessCommands('gdal_translate');
const common = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip' };

async function refused(s: TestServer, inputs: Record<string, unknown>): Promise<{ status: number; detail: string }> {
  const r = await execute(s.url, 'raster-to-pyramid', { inputs }, { Prefer: 'respond-async' });
  const body = (await r.json()) as { detail: string };
  return { status: r.status, detail: body.detail };
}

test('tutorial: upload → close → CLOSED → raster-to-pyramid with upload equals the pyramid by href; chained update with upload + stored_data', {
  skip,
}, async () => {
  const s = await startPyramidServer({ limits: { max_running_jobs: 1 } });
  try {
    const geotiff = await makeInput(s, 'full.tif');
    const south = await makeInput(s, 'south.tif', { part: 'south' });
    // What the platform's users deliver: a plain TIFF and its world file; the upload's srs gives the CRS.
    const plain = path.join(s.dir, 'scan.tif');
    execFileSync('gdal_translate', ['-q', '-co', 'PROFILE=BASELINE', '-co', 'TFW=YES', '-co', 'TILED=YES', geotiff.path, plain]);

    const id = await createUpload(s, 'scans');
    await sendMultipart(s, id, 'scan.tif', plain);
    await sendPut(s, id, 'scan.tfw', path.join(s.dir, 'scan.tfw'));
    const tree = (await (await fetch(`${s.url}/uploads/${id}/tree`)).json()) as Array<{ type: string; name: string }>;
    assert.deepEqual(
      tree.map((e) => [e.type, e.name]),
      [
        ['FILE', 'scan.tfw'],
        ['FILE', 'scan.tif'],
      ],
    );

    // Not closed yet: refused, naming the upload.
    const open = await refused(s, { ...common, upload: [id], name: 'EARLY' });
    assert.equal(open.status, 400);
    assert.match(open.detail, /upload\[0\].*scans.*is OPEN/);
    assert.equal((await closeAndWait(s, id)).status, 'CLOSED');

    // The platform's body: "upload": ["<id>"]. The job reads the upload: while it is queued behind a
    // running job, the upload can be neither deleted nor reopened.
    const blocker = await submitJob(s.url, 'echo', { stringInput: 'holds the only slot', pause: 2 });
    const jobID = await submitJob(s.url, 'raster-to-pyramid', { ...common, upload: [id], name: 'FROM_UPLOAD' });
    assert.equal((await fetch(`${s.url}/uploads/${id}`, { method: 'DELETE' })).status, 409);
    assert.equal((await fetch(`${s.url}/uploads/${id}/open`, { method: 'POST' })).status, 409);
    await waitForJob(s.url, blocker);
    const final = await waitForJob(s.url, jobID);
    assert.equal(final.status, 'successful', JSON.stringify(final));
    assert.deepEqual(final.inputs, { upload: [id] }, 'the job lists the upload it read');

    await generate(s, { ...common, images: [{ href: geotiff.href }], name: 'FROM_HREF' });
    const a = await slabsOf(s, 'FROM_UPLOAD');
    const b = await slabsOf(s, 'FROM_HREF');
    assert.ok(a.size > 4);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, bytes] of a) assert.ok(bytes.equals(b.get(k)!), `slab ${k} differs`);
    const fromUpload = (await (await fetch(`${s.url}/stored_data?name=FROM_UPLOAD`)).json()) as {
      stored_data: Array<{ _id: string; status: string }>;
    };
    assert.equal(fromUpload.stored_data[0].status, 'READY');

    // The chained update: another delivery + the pyramid, as the platform's tutorial sends them.
    const id2 = await createUpload(s, 'south scans');
    await sendPut(s, id2, 'south.tif', south.path);
    assert.equal((await closeAndWait(s, id2)).status, 'CLOSED');
    const updated = await generate(s, { upload: [id2], stored_data: [fromUpload.stored_data[0]._id], name: 'UPDATED' });
    const update = (updated.record.type_infos as { update: { ancestor: { name: string }; referenced: number } }).update;
    assert.equal(update.ancestor.name, 'FROM_UPLOAD');
    assert.ok(update.referenced > 0);
    assert.deepEqual((await waitForJob(s.url, updated.jobID)).inputs, { upload: [id2], stored_data: [fromUpload.stored_data[0]._id] });
    // Once no job reads it, the upload can be deleted.
    assert.equal((await fetch(`${s.url}/uploads/${id2}`, { method: 'DELETE' })).status, 204);
    const gone = await refused(s, { ...common, upload: [id2], name: 'GONE' });
    assert.equal(gone.status, 400);
    assert.match(gone.detail, /upload\[0\].*no upload/);
  } finally {
    await s.stop();
  }
});

test('tutorial: an UNSTABLE upload (truncated TIFF, the check names file and block) is refused; reopen, replace, close → CLOSED and processed', {
  skip,
}, async () => {
  const s = await startPyramidServer();
  try {
    const geotiff = await makeInput(s, 'full.tif');
    const cog = path.join(s.dir, 'cut.tif');
    execFileSync('gdal_translate', ['-q', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', geotiff.path, cog]);
    await truncate(cog, Math.floor((await stat(cog)).size * 0.7));
    const id = await createUpload(s, 'cut');
    await sendPut(s, id, 'data/scan.tif', cog);
    assert.equal((await closeAndWait(s, id)).status, 'UNSTABLE');
    const checks = await checksOf(s, id);
    assert.deepEqual(
      checks.failed.map((c) => c.check.name),
      ['raster'],
    );
    const logs = (await checkExecution(s, id, checks.failed[0]._id)).logs;
    assert.ok(
      logs.some((l) => /^ERROR data\/scan\.tif is truncated: block \d+ ends at byte/.test(l)),
      logs.join('\n'),
    );

    const r = await refused(s, { ...common, upload: [id], name: 'NOPE' });
    assert.equal(r.status, 400);
    assert.match(r.detail, /upload\[0\].*'cut'.*is UNSTABLE/);

    assert.equal((await fetch(`${s.url}/uploads/${id}/open`, { method: 'POST' })).status, 200);
    await sendPut(s, id, 'data/scan.tif', geotiff.path);
    assert.equal((await closeAndWait(s, id)).status, 'CLOSED');
    const done = await generate(s, { ...common, upload: [id], images: [{ href: geotiff.href }], name: 'BOTH' });
    assert.equal(done.record.status, 'READY');
    // Neither images nor upload: a 400 saying what to give.
    const none = await refused(s, { ...common, name: 'NONE' });
    assert.equal(none.status, 400);
    assert.match(none.detail, /images.*upload/);
  } finally {
    await s.stop();
  }
});
