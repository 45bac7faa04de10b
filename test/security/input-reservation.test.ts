/**
 * Issue 9, "Inputs not reserved at submission": a 201 reserves what the job will read and the name it will
 * write until the job ends — a queued update or merge keeps its input pyramids from being deleted (409) and
 * its output name from being taken (400); dismissing the queued job frees both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessCommands } from '../helpers/env.js';
import { execute, type TestServer, waitForJob } from '../helpers/server.js';
import { makeInput, storedData } from '../helpers/pyramids.js';
import { run, startUpdateServer, submit } from '../helpers/updates.js';

const skip = skipUnlessCommands('gdalinfo');
let s: TestServer;
const base = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip', bottom: '8' };

before(async () => {
  if (skip) return;
  // One job at a time: a long echo holds the slot while the jobs under test wait in the queue.
  s = await startUpdateServer({ max_running_jobs: 1 });
});

after(() => s?.stop());

const status = async (method: string, p: string): Promise<number> => (await fetch(`${s.url}${p}`, { method })).status;

test('queued update and merge: their inputs cannot be deleted (409) and their names not taken (400) until they end', { skip }, async () => {
  const north = await makeInput(s, 'north.tif', { part: 'north' });
  const south = await makeInput(s, 'south.tif', { part: 'south' });
  const p = (await run(s, 'raster-to-pyramid', { ...base, images: [{ href: north.href }], name: 'P' })).record._id as string;
  const q = (await run(s, 'raster-to-pyramid', { ...base, images: [{ href: south.href }], name: 'Q' })).record._id as string;

  const holder = await submit(s, 'echo', { stringInput: 'hold', pause: 60 });
  const update = await submit(s, 'raster-to-pyramid', { images: [{ href: south.href }], stored_data: p, name: 'U' });
  const merge = await submit(s, 'pyramids-to-pyramid', { stored_data: [q, p], name: 'M' });

  assert.equal(await status('DELETE', `/stored_data/${p}`), 409, 'P is read by the queued update and merge');
  assert.equal(await status('DELETE', `/stored_data/${q}`), 409, 'Q is read by the queued merge');
  for (const [processId, inputs] of [
    ['raster-to-pyramid', { ...base, images: [{ href: north.href }], name: 'U' }],
    ['raster-to-pyramid', { ...base, images: [{ href: north.href }], name: 'M' }],
  ] as const) {
    const res = await execute(s.url, processId, { inputs }, { Prefer: 'respond-async' });
    const body = (await res.json()) as { detail?: string };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(String(body.detail), /'name'/);
  }

  // Dismissing the queued jobs frees what they reserved.
  for (const id of [merge, update, holder]) assert.equal(await status('DELETE', `/jobs/${id}`), 200);
  for (const id of [merge, update, holder]) assert.equal((await waitForJob(s.url, id)).status, 'dismissed');
  assert.deepEqual(
    (await storedData(s, '?name=U')).filter((r) => r.status !== 'DELETED'),
    [],
  );
  assert.equal(await status('DELETE', `/stored_data/${q}`), 204);
  assert.equal(await status('DELETE', `/stored_data/${p}`), 204);
  const again = await run(s, 'raster-to-pyramid', { ...base, images: [{ href: north.href }], name: 'U' });
  assert.equal(again.record.status, 'READY');
});
