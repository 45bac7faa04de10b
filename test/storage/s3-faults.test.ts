/**
 * An S3 outage in the middle of a pyramid (issue 13 "Faults"), on a real S3 server (s3rver in a child
 * process on 127.0.0.1) killed while the job writes slabs: the writes fail once their retries are spent,
 * the job fails saying why (the S3 operation and ECONNREFUSED), its stored data is FAILED — never READY.
 * Once the server is back: deleting the failed stored data removes what the run had written (no orphan
 * object), and the next job on the same server succeeds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { skipUnlessCommands } from '../helpers/env.js';
import { keysUnder, makeInput, openPyramid, runJob, storedData } from '../helpers/pyramids.js';
import { s3StorageSection, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startTestServer, submitJob, waitForJob, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalinfo');
let s3: S3TestServer;
let s: TestServer;

before(async () => {
  if (skip) return;
  s3 = await startS3Server();
  s = await startTestServer({
    processes: { 'raster-to-pyramid': 'raster-to-pyramid' },
    storage: s3StorageSection(s3, 'faults'),
  });
});
after(async () => {
  await s?.stop();
  await s3?.close();
});

const inputs = (href: string, name: string) => ({
  images: [{ href }],
  name,
  tms: 'PM',
  compression: 'png',
  mask: true,
  nodata: 255,
  // Small slabs: many writes, so that the outage falls in the middle of them.
  width: 2,
  height: 2,
});

test('S3 stopped mid-pyramid: job failed with the reason, no READY data; back: cleanup leaves no object, the next job works', {
  skip,
  timeout: 300_000,
}, async () => {
  const map = await makeInput(s, 'map.tif', { width: 1200, height: 2400, pixelSize: 50 });
  const jobID = await submitJob(s.url, 'raster-to-pyramid', inputs(map.href, 'CUT'));
  let stopped = false;
  const final = await waitForJob(s.url, jobID, {
    onStatus: (job) => {
      if (!stopped && job.status === 'running' && ((job.progress as number | undefined) ?? 0) > 0) {
        stopped = true;
        void s3.stop();
      }
    },
  });
  assert.ok(stopped, 'the server was stopped while the job ran');
  assert.equal(final.status, 'failed', JSON.stringify(final));
  // The detail names the S3 operation and the error code, not the endpoint (no internal text to clients).
  assert.match(String(final.message), /^S3 (PUT|GET|HEAD|LIST|DELETE) faults\/pyramids\/CUT\/\S+: ECONNREFUSED$/, String(final.message));
  const [record] = await storedData(s, '?name=CUT');
  assert.equal(record.status, 'FAILED');
  assert.match(String(record.message), /ECONNREFUSED/);
  assert.deepEqual(await storedData(s, '?status=READY'), []);

  await s3.start();
  // What the run wrote before the outage could not be removed while S3 was down; deleting the failed
  // stored data removes it.
  const del = await fetch(`${s.url}/stored_data/${record._id}`, { method: 'DELETE' });
  assert.equal(del.status, 204, await del.text());
  assert.deepEqual(await keysUnder(s, 'pyramids/CUT/'), [], 'no orphan object of the failed run');

  const next = await runJob(s, inputs(map.href, 'AFTER'));
  assert.equal(next.final.status, 'successful', JSON.stringify(next.final));
  const [ready] = await storedData(s, '?name=AFTER');
  assert.equal(ready.status, 'READY');
  const reader = await openPyramid(s, 'AFTER');
  const bottom = reader.levels.at(-1)!;
  const lim = bottom.tile_limits;
  let found = 0;
  for (let row = lim.min_row; row <= lim.max_row; row++)
    for (let col = lim.min_col; col <= lim.max_col; col++) if (await reader.readTile(bottom.id, col, row)) found++;
  assert.ok(found > 0, 'the tiles of the new pyramid read back from S3');
});
