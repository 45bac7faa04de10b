import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { hrefOf, makeInput, pyramidDir } from '../helpers/pyramids.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitJob, waitForJob, type TestServer } from '../helpers/server.js';
import { listLines, treeOf } from '../helpers/pyramid-tree.js';
import { partLines } from '../helpers/workers.js';

/**
 * Split merges (issue 14): on the bullmq manager, a pyramids-to-pyramid job hands its slabs to recompute to
 * parts any worker runs, and makes the references and commits itself. Proof: the merged pyramid equals the
 * one an embedded server merges in one run — the same slab files, descriptor, references and list lines.
 */
const skip = skipUnlessRedis();
const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid', 'pyramids-to-pyramid': 'pyramids-to-pyramid' };
const MAP = { width: 3000, height: 3000, pixelSize: 50 };
const INPUTS = { tms: 'PM', compression: 'png', mask: true, width: 2, height: 2 };

async function pyramid(s: TestServer, inputs: Record<string, unknown>, process = 'raster-to-pyramid'): Promise<string> {
  const job = await waitForJob(s.url, await submitJob(s.url, process, inputs), { timeoutMs: 300_000 });
  assert.equal(job.status, 'successful', JSON.stringify(job));
  const listed = (await (await fetch(`${s.url}/stored_data?name=${inputs.name}`)).json()) as {
    stored_data: Array<{ _id: string; name: string }>;
  };
  return listed.stored_data.find((d) => d.name === inputs.name)!._id;
}

test('bullmq split merge: the slabs to recompute run as parts on 3 workers; the merge equals the single run file for file', {
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
    const results: Array<{ tree: Map<string, string | Buffer>; record: { type_infos: { merge: unknown } }; jobId: string }> = [];
    const north = await makeInput(single, 'north.tif', { ...MAP, part: 'north' });
    const south = await makeInput(single, 'south.tif', { ...MAP, part: 'south' });
    await copyFile(north.path, path.join(split.inputRoot, 'north.tif'));
    await copyFile(south.path, path.join(split.inputRoot, 'south.tif'));
    for (const s of [single, split]) {
      const northHere = path.join(s.inputRoot, 'north.tif');
      const southHere = path.join(s.inputRoot, 'south.tif');
      const n = await pyramid(s, { ...INPUTS, name: 'N', images: [{ href: hrefOf(northHere) }] });
      const so = await pyramid(s, { ...INPUTS, name: 'S', images: [{ href: hrefOf(southHere) }] });
      const jobId = await submitJob(s.url, 'pyramids-to-pyramid', { stored_data: [n, so], name: 'M', method: 'TOP' });
      const job = await waitForJob(s.url, jobId, { timeoutMs: 300_000 });
      assert.equal(job.status, 'successful', JSON.stringify(job));
      const listed = (await (await fetch(`${s.url}/stored_data?name=M`)).json()) as {
        stored_data: Array<{ name: string; type_infos: { merge: unknown } }>;
      };
      results.push({
        tree: await treeOf(pyramidDir(s, 'M'), path.join(s.dir, 'store', 'pyramids')),
        record: listed.stored_data.find((d) => d.name === 'M')!,
        jobId,
      });
    }
    const [a, b] = results;
    const parts = new Set(partLines(split.workers ?? [], b.jobId, 'part finished').map((p) => p.part));
    const merge = a.record.type_infos.merge as { recomputed: number; referenced: number };
    t.diagnostic(`merge: ${merge.recomputed} recomputed, ${merge.referenced} referenced; ${parts.size} parts on the workers`);
    assert.equal(parts.size, 3, 'the recomputed slabs ran as three parts');
    assert.ok(merge.recomputed > 3 && merge.referenced > 3, 'slabs of both kinds');
    const counts = (m: unknown) => {
      const { inputs: _ids, ...rest } = m as { inputs: unknown };
      return rest;
    };
    assert.deepEqual(counts(b.record.type_infos.merge), counts(a.record.type_infos.merge), 'the same counts');
    assert.deepEqual([...b.tree.keys()].sort(), [...a.tree.keys()].sort(), 'the same files and references');
    for (const [k, v] of a.tree) {
      if (k === 'M.list') continue;
      const w = b.tree.get(k)!;
      assert.ok(typeof v === 'string' ? v === w : Buffer.isBuffer(w) && v.equals(w), `${k} is the same`);
    }
    assert.deepEqual(listLines(b.tree.get('M.list') as Buffer), listLines(a.tree.get('M.list') as Buffer), 'the same list lines');
  } finally {
    await split.stop();
    await single.stop();
  }
});
