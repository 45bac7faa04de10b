/**
 * raster-to-pyramid when things go wrong after the job started (issue 3 "Proof", DESIGN §7 atomicity):
 * a corrupt tile in the middle of a GeoTIFF whose header is fine fails the job with the reason and removes
 * the partial pyramid; dismissing the job removes it too. Other stored data stay as they were.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import path from 'node:path';
import { skipUnlessCommands } from '../../helpers/env.js';
import { execute, type TestServer } from '../../helpers/server.js';
import { corruptBlock, generate, hrefOf, keysUnder, makeInput, runJob, startPyramidServer, storedData } from '../../helpers/pyramids.js';

const skip = skipUnlessCommands('gdalinfo');
let s: TestServer;
let map: Awaited<ReturnType<typeof makeInput>>;
const base = { tms: 'PM', mask: true, nodata: 255, width: 4, height: 4, compression: 'zip' };

before(async () => {
  if (skip) return;
  s = await startPyramidServer();
  map = await makeInput(s, 'map.tif');
});

after(() => s?.stop());

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

test('corrupt tile in the middle: job failed with the reason, partial pyramid removed, record FAILED, others unchanged', {
  skip,
}, async () => {
  const other = await generate(s, { ...base, images: [{ href: map.href }], name: 'OTHER', width: 2, height: 2, bottom: '8' });
  const otherKeys = await keysUnder(s, 'pyramids/OTHER/');
  const otherRecord = (await storedData(s, '?name=OTHER'))[0];

  // Same map, one compressed tile (column 1, row 2 of 3×5, in the middle of the data) overwritten with garbage.
  const corrupt = path.join(s.inputRoot, 'corrupt.tif');
  await corruptBlock(map.path, corrupt);

  const run = await runJob(s, { ...base, images: [{ href: hrefOf(corrupt) }], name: 'BROKEN' });
  assert.equal(run.final.status, 'failed', JSON.stringify(run.final));
  // An error that is not a checked problem reaches the client as a generic message with an error id (the
  // server log has the reason under that id); the stored data record keeps the reason.
  assert.match(String(run.final.message), /internal error; quote [0-9a-f-]{36}/);
  const [record] = await storedData(s, '?name=BROKEN');
  assert.equal(record.status, 'FAILED');
  assert.equal(record.size, 0);
  assert.match(String(record.message), /(decod|tiff|zip|scanline|read|invalid)/i);
  console.log(`corrupt tile: record message: ${record.message}`);
  assert.deepEqual(await keysUnder(s, 'pyramids/BROKEN/'), [], 'no slab, list or descriptor left');

  assert.deepEqual(await keysUnder(s, 'pyramids/OTHER/'), otherKeys);
  assert.deepEqual((await storedData(s, '?name=OTHER'))[0], otherRecord);
  assert.equal(other.record.status, 'READY');
  // The server still answers and still runs jobs.
  const echo = await execute(s.url, 'echo', { inputs: { stringInput: 'alive' } }, { Prefer: 'wait=10' });
  assert.equal(echo.status, 200);
});

test('dismiss mid-run: DELETE /jobs/{id} → record DELETED, files removed', { skip }, async () => {
  const res = await execute(
    s.url,
    'raster-to-pyramid',
    { inputs: { ...base, images: [{ href: map.href }], name: 'DISMISSED', width: 2, height: 2 } },
    { Prefer: 'respond-async' },
  );
  assert.equal(res.status, 201);
  const { jobID } = (await res.json()) as { jobID: string };
  // Wait until slabs are being written, then dismiss.
  await until(async () => {
    const job = (await (await fetch(`${s.url}/jobs/${jobID}`)).json()) as { status: string; progress?: number };
    assert.equal(job.status === 'successful', false, 'the job ended before it could be dismissed');
    return job.status === 'running' && (job.progress ?? 0) > 0 ? true : undefined;
  }, 'the job to make progress');
  const del = await fetch(`${s.url}/jobs/${jobID}`, { method: 'DELETE' });
  assert.equal(del.status, 200, await del.clone().text());
  assert.equal(((await del.json()) as { status: string }).status, 'dismissed');
  const record = await until(async () => {
    const [r] = await storedData(s, '?name=DISMISSED');
    return r && r.status !== 'GENERATING' ? r : undefined;
  }, 'the record to leave GENERATING');
  assert.equal(record.status, 'DELETED');
  await until(
    async () => ((await keysUnder(s, 'pyramids/DISMISSED/')).length === 0 ? true : undefined),
    'the partial pyramid to be removed',
  );
});
