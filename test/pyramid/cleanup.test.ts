/**
 * A failed or dismissed update or merge removes what it wrote (links included) and never touches its
 * inputs (issue 4 "Dependencies and safety", DESIGN §7): the inputs' file trees and bytes are compared
 * before and after, and the inputs are no longer "used by" the failed output.
 */
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessCommands } from '../helpers/env.js';
import type { TestServer } from '../helpers/server.js';
import { corruptBlock, hrefOf, keysUnder, makeInput, storedData, storeOf } from '../helpers/pyramids.js';
import { dataSlabKey, dataSlabs, jobStatus, listOf, pyramidSnapshot, run, startUpdateServer, submit } from '../helpers/updates.js';
import { waitForJob } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalinfo');
type Run = Awaited<ReturnType<typeof run>>;
let s: TestServer;
let south: Awaited<ReturnType<typeof makeInput>>;
const runs: Record<string, Run> = {};
/** Level 12 pyramids (16× the slabs of level 10): jobs long enough to be dismissed while running. */
const big = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip', bottom: '12' };

before(async () => {
  if (skip) return;
  s = await startUpdateServer();
  const north = await makeInput(s, 'north.tif', { part: 'north' });
  south = await makeInput(s, 'south.tif', { part: 'south' });
  runs.NORTH = await run(s, 'raster-to-pyramid', { ...big, images: [{ href: north.href }], name: 'NORTH' });
  runs.SOUTH = await run(s, 'raster-to-pyramid', { ...big, images: [{ href: south.href }], name: 'SOUTH' });
});

after(() => s?.stop());

async function inputsSnapshot(): Promise<Map<string, Map<string, string>>> {
  return new Map([
    ['NORTH', await pyramidSnapshot(s, 'NORTH')],
    ['SOUTH', await pyramidSnapshot(s, 'SOUTH')],
  ]);
}

/** Nothing of `name` is left in the store, its record is `status`, and no input is used by it. */
async function assertGone(name: string, status: string): Promise<void> {
  assert.deepEqual(await keysUnder(s, `pyramids/${name}/`), [], `the folder of ${name} left in the store`);
  const [record] = await storedData(s, `?name=${name}`);
  assert.equal(record.status, status);
  for (const input of ['NORTH', 'SOUTH']) {
    const deps = (await (await fetch(`${s.url}/stored_data/${runs[input].record._id}/dependencies`)).json()) as {
      used_by: Array<{ name: string }>;
    };
    assert.ok(!deps.used_by.some((u) => u.name === name), `${input} still used by ${name}`);
  }
}

/** Submits, waits until it has made progress, dismisses; fails if it ended first. */
async function dismissMidRun(processId: string, inputs: Record<string, unknown>): Promise<void> {
  const jobID = await submit(s, processId, inputs);
  const end = Date.now() + 60_000;
  for (;;) {
    const job = await jobStatus(s, jobID);
    assert.ok(job.status === 'accepted' || job.status === 'running', `the job ended (${job.status}) before it could be dismissed`);
    if (job.status === 'running' && Number(job.progress ?? 0) > 0) break;
    assert.ok(Date.now() < end, 'the job made no progress');
    await new Promise((r) => setTimeout(r, 10));
  }
  const del = await fetch(`${s.url}/jobs/${jobID}`, { method: 'DELETE' });
  assert.equal(del.status, 200, await del.clone().text());
  const final = await waitForJob(s.url, jobID);
  assert.equal(final.status, 'dismissed');
  // The record leaves GENERATING once the job has cleaned up.
  const until = Date.now() + 30_000;
  while ((await storedData(s, `?name=${inputs.name as string}`))[0]?.status === 'GENERATING' && Date.now() < until)
    await new Promise((r) => setTimeout(r, 20));
}

test('update failing mid-run (corrupt image tile): its pyramid and links removed, inputs untouched', { skip }, async () => {
  const corrupt = path.join(s.inputRoot, 'corrupt.tif');
  await corruptBlock(south.path, corrupt);
  const before = await inputsSnapshot();
  const jobID = await submit(s, 'raster-to-pyramid', {
    stored_data: runs.NORTH.record._id,
    images: [{ href: hrefOf(corrupt) }],
    name: 'UPD_FAIL',
  });
  const final = await waitForJob(s.url, jobID);
  assert.equal(final.status, 'failed', JSON.stringify(final));
  await assertGone('UPD_FAIL', 'FAILED');
  assert.deepEqual(await inputsSnapshot(), before);
});

test('update dismissed mid-run: its pyramid and links removed, inputs untouched', { skip }, async () => {
  const before = await inputsSnapshot();
  await dismissMidRun('raster-to-pyramid', { stored_data: runs.NORTH.record._id, images: [{ href: south.href }], name: 'UPD_DISMISSED' });
  await assertGone('UPD_DISMISSED', 'DELETED');
  assert.deepEqual(await inputsSnapshot(), before);
});

test('merge dismissed mid-run: removed, inputs untouched', { skip }, async () => {
  const before = await inputsSnapshot();
  await dismissMidRun('pyramids-to-pyramid', {
    stored_data: [runs.NORTH.record._id, runs.SOUTH.record._id],
    name: 'MERGE_DISMISSED',
    parallelization: 1,
  });
  await assertGone('MERGE_DISMISSED', 'DELETED');
  assert.deepEqual(await inputsSnapshot(), before);
});

test('merge failing on a corrupt input slab: removed (links included), inputs untouched', { skip }, async () => {
  // A broken copy of SOUTH: one slab that NORTH also has (so it is recomputed) overwritten with garbage.
  const broken = await run(s, 'raster-to-pyramid', { ...big, bottom: '10', images: [{ href: south.href }], name: 'BROKEN' });
  const n = dataSlabs(await listOf(s, 'NORTH'));
  const list = await listOf(s, 'BROKEN');
  const victim = [...list.entries()].find((e) => {
    const k = dataSlabKey(e.path);
    return k !== undefined && k.startsWith('10/') && n.has(k);
  });
  assert.ok(victim, 'no level-10 slab shared by NORTH and BROKEN');
  await storeOf(s).write(`pyramids/BROKEN/BROKEN/${victim.path}`, Buffer.alloc(4096, 0x5a));
  const before = new Map([...(await inputsSnapshot()), ['BROKEN', await pyramidSnapshot(s, 'BROKEN')]]);
  const jobID = await submit(s, 'pyramids-to-pyramid', {
    stored_data: [runs.NORTH.record._id, broken.record._id],
    name: 'MERGE_FAIL',
    bottom: '10',
  });
  const final = await waitForJob(s.url, jobID);
  assert.equal(final.status, 'failed', JSON.stringify(final));
  await assertGone('MERGE_FAIL', 'FAILED');
  assert.deepEqual(new Map([...(await inputsSnapshot()), ['BROKEN', await pyramidSnapshot(s, 'BROKEN')]]), before);
});
