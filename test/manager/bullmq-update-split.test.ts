import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { hrefOf, makeInput, pyramidDir } from '../helpers/pyramids.js';
import { listLines, treeOf } from '../helpers/pyramid-tree.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitJob, waitForJob, type TestServer } from '../helpers/server.js';
import { partLines } from '../helpers/workers.js';

/**
 * Split updates (issue 14): on the bullmq manager a chained update (raster-to-pyramid with `stored_data`,
 * rok4.md §8.7) is cut into subtree parts like a new pyramid — each part reads the ancestor's slabs of its
 * subtrees as background — and the finisher references the ancestor's slabs the parts did not rewrite.
 * Proof: the update equals the one an embedded server makes in one run, file for file and reference for
 * reference, with the same list lines and counts.
 */
const skip = skipUnlessRedis();
const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid' };
/** ~150 km at 50 m: several bottom slabs of 2×2 PM tiles, so parts below a cut level. */
const MAP = { width: 3000, height: 3000, pixelSize: 50 };
const INPUTS = { tms: 'PM', compression: 'png', mask: true, width: 2, height: 2 };

async function idOf(s: TestServer, name: string): Promise<string> {
  const listed = (await (await fetch(`${s.url}/stored_data?name=${name}`)).json()) as { stored_data: Array<{ _id: string; name: string }> };
  return listed.stored_data.find((d) => d.name === name)!._id;
}

async function run(s: TestServer, inputs: Record<string, unknown>): Promise<string> {
  const jobId = await submitJob(s.url, 'raster-to-pyramid', inputs);
  const job = await waitForJob(s.url, jobId, { timeoutMs: 300_000 });
  assert.equal(job.status, 'successful', JSON.stringify(job));
  return jobId;
}

test('bullmq split update: a chained update cut into parts on 3 workers equals the single run, references included', {
  skip,
  timeout: 600_000,
}, async (t) => {
  const single = await startTestServer({ manager: 'lowdb', processes: PROCESSES });
  const split = await startTestServer({
    manager: 'bullmq',
    processes: PROCESSES,
    workerConcurrency: 2,
    bullmq: { split_slabs: 1, split_parts: 3 },
    workers: 3,
  });
  try {
    const north = await makeInput(single, 'north.tif', { ...MAP, part: 'north' });
    const south = await makeInput(single, 'south.tif', { ...MAP, part: 'south' });
    await copyFile(north.path, path.join(split.inputRoot, 'north.tif'));
    await copyFile(south.path, path.join(split.inputRoot, 'south.tif'));
    const results = [];
    for (const s of [single, split]) {
      await run(s, { ...INPUTS, name: 'BASE', images: [{ href: hrefOf(path.join(s.inputRoot, 'north.tif')) }] });
      const jobId = await run(s, {
        name: 'UPDATED',
        stored_data: [await idOf(s, 'BASE')],
        images: [{ href: hrefOf(path.join(s.inputRoot, 'south.tif')) }],
      });
      const listed = (await (await fetch(`${s.url}/stored_data?name=UPDATED`)).json()) as {
        stored_data: Array<{ name: string; type_infos: { update: { referenced: number; recomputed: number } } }>;
      };
      results.push({
        tree: await treeOf(pyramidDir(s, 'UPDATED'), path.join(s.dir, 'store', 'pyramids')),
        update: listed.stored_data.find((d) => d.name === 'UPDATED')!.type_infos.update,
        jobId,
      });
    }
    const [a, b] = results;
    const parts = new Set(partLines(split.workers ?? [], b.jobId, 'part finished').map((p) => p.part));
    t.diagnostic(`update: ${a.update.recomputed} recomputed, ${a.update.referenced} referenced; ${parts.size} parts on the workers`);
    assert.equal(parts.size, 3, 'the update ran as three parts');
    assert.ok(a.update.recomputed > 3 && a.update.referenced > 3, 'slabs of both kinds');
    assert.equal(b.update.recomputed, a.update.recomputed, 'the same slabs recomputed');
    assert.equal(b.update.referenced, a.update.referenced, 'the same slabs referenced');
    const links = [...a.tree.values()].filter((v) => typeof v === 'string').length;
    assert.ok(links > 0, 'the single run has references');
    assert.deepEqual([...b.tree.keys()].sort(), [...a.tree.keys()].sort(), 'the same files and references');
    for (const [k, v] of a.tree) {
      if (k === 'UPDATED.list') continue;
      const w = b.tree.get(k)!;
      assert.ok(typeof v === 'string' ? v === w : Buffer.isBuffer(w) && v.equals(w), `${k} is the same`);
    }
    assert.deepEqual(
      listLines(b.tree.get('UPDATED.list') as Buffer),
      listLines(a.tree.get('UPDATED.list') as Buffer),
      'the same list lines',
    );
  } finally {
    await split.stop();
    await single.stop();
  }
});
