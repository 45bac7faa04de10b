import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { hrefOf, makeInput, pyramidDir } from '../helpers/pyramids.js';
import { filesUnder } from '../helpers/pyramid-tree.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitJob, waitForJob } from '../helpers/server.js';
import { jobTrace, partLines } from '../helpers/workers.js';

/**
 * Split pyramids (issue 14): on the bullmq manager a big raster-to-pyramid is cut into subtree parts that
 * any worker process computes, then finished by the job above the cut. Proof: the pyramid equals the one
 * an embedded server computes in one run, slab for slab; a dismiss stops every part and leaves nothing; a
 * failing part fails the job and leaves nothing.
 */
const skip = skipUnlessRedis();
const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid' };
/** ~200 km at 50 m: about 8×8 bottom slabs of 2×2 PM tiles, so a cut above the bottom level. */
const MAP = { width: 4000, height: 4000, pixelSize: 50 };
const INPUTS = { tms: 'PM', compression: 'png', mask: true, width: 2, height: 2 };

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

test('bullmq split: a pyramid cut into parts run by 2 workers equals the single run slab for slab; dismiss and a failing part leave nothing', {
  skip,
  timeout: 600_000,
}, async (t) => {
  const single = await startTestServer({ manager: 'lowdb', processes: PROCESSES });
  const split = await startTestServer({
    manager: 'bullmq',
    processes: PROCESSES,
    workerConcurrency: 2,
    // A killed worker's part is taken again after 5 s (its lock expires).
    bullmq: { split_slabs: 1, split_parts: 3, stalled_seconds: 5, attempts: 3 },
    workers: 3,
  });
  try {
    const map = await makeInput(single, 'map.tif', MAP);
    const copy = path.join(split.inputRoot, 'map.tif');
    await copyFile(map.path, copy);

    const oneRun = await waitForJob(
      single.url,
      await submitJob(single.url, 'raster-to-pyramid', { ...INPUTS, name: 'P', images: [{ href: map.href }] }),
    );
    assert.equal(oneRun.status, 'successful', JSON.stringify(oneRun));
    const jobId = await submitJob(split.url, 'raster-to-pyramid', { ...INPUTS, name: 'P', images: [{ href: hrefOf(copy) }] });
    const progress = new Set<number>();
    await until('the split job to end', async () => {
      const j = (await (await fetch(`${split.url}/jobs/${jobId}`)).json()) as { status: string; progress?: number };
      if (typeof j.progress === 'number') progress.add(j.progress);
      return j.status !== 'accepted' && j.status !== 'running';
    });
    const job = (await (await fetch(`${split.url}/jobs/${jobId}`)).json()) as { status: string };
    assert.equal(job.status, 'successful', JSON.stringify(job));

    const started = partLines(split.workers ?? [], jobId, 'part started');
    const finished = partLines(split.workers ?? [], jobId, 'part finished');
    t.diagnostic(
      `parts: ${started.length} started on ${new Set(started.map((p) => p.worker)).size} worker(s); progress seen: ${[...progress].sort((a, b) => a - b).join(' ')}`,
    );
    assert.equal(new Set(started.map((p) => p.part)).size, 3, 'three parts');
    assert.equal(finished.length, 3, 'each part finished once');
    assert.ok(
      [...progress].some((p) => p > 0 && p < 100),
      'intermediate progress',
    );

    const a = await filesUnder(pyramidDir(single, 'P'));
    const b = await filesUnder(pyramidDir(split, 'P'));
    const slabs = [...a.keys()].filter((k) => k.includes('/DATA/') || k.includes('/MASK/')).sort();
    assert.ok(slabs.length > 60, `a pyramid of some size (${slabs.length} slabs)`);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), 'the same files (no half left behind)');
    for (const k of slabs) assert.ok(a.get(k)!.equals(b.get(k)!), `slab ${k} is the same bytes`);
    assert.equal(b.get('P.json')!.toString(), a.get('P.json')!.toString(), 'the same descriptor');
    // The list: the same slab lines (the root line names each server's own folder; the order is the writes').
    const lines = (buf: Buffer) => buf.toString().split('#\n')[1].split('\n').filter(Boolean).sort();
    assert.deepEqual(lines(b.get('P.list')!), lines(a.get('P.list')!));

    // Dismiss mid-split: every part stops, nothing is left.
    const dismissed = await submitJob(split.url, 'raster-to-pyramid', { ...INPUTS, name: 'D', images: [{ href: hrefOf(copy) }] });
    await until('a part of the job to start', async () => partLines(split.workers ?? [], dismissed, 'part started').length > 0);
    assert.equal((await fetch(`${split.url}/jobs/${dismissed}`, { method: 'DELETE' })).status, 200);
    await until('the job to be dismissed', async () => {
      const j = (await (await fetch(`${split.url}/jobs/${dismissed}`)).json()) as { status: string };
      return j.status === 'dismissed';
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await exists(pyramidDir(split, 'D')), false, 'no files of the dismissed pyramid');

    // A part fails (blocks in the middle of the image are garbage: they cannot be inflated): the job fails,
    // nothing is left.
    const broken = path.join(split.inputRoot, 'broken.tif');
    await copyFile(copy, broken);
    const size = (await stat(broken)).size;
    const file = await open(broken, 'r+');
    await file.write(Buffer.alloc(Math.floor(size * 0.2), 0x5a), 0, undefined, Math.floor(size * 0.4));
    await file.close();
    const failing = await waitForJob(
      split.url,
      await submitJob(split.url, 'raster-to-pyramid', { ...INPUTS, name: 'F', images: [{ href: hrefOf(broken) }] }),
      { timeoutMs: 120_000 },
    );
    assert.equal(failing.status, 'failed', JSON.stringify(failing));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await exists(pyramidDir(split, 'F')), false, 'no files of the failed pyramid');
    const stored = (await (await fetch(`${split.url}/stored_data`)).json()) as { stored_data?: Array<{ name: string; status: string }> };
    assert.deepEqual(
      (stored.stored_data ?? []).filter((r) => r.status === 'READY').map((r) => r.name),
      ['P'],
      'only P is READY',
    );

    // kill -9 of a worker running a part (not the job's own): its part is taken again by the other worker,
    // the pyramid ends READY and the same.
    const killed = await submitJob(split.url, 'raster-to-pyramid', { ...INPUTS, name: 'K', images: [{ href: hrefOf(copy) }] });
    let victim: (typeof split.workers & object)[number] | undefined;
    await until('a part on a worker other than the job’s', async () => {
      const j = (await (await fetch(`${split.url}/jobs/${killed}`)).json()) as { worker?: string };
      if (!j.worker) return false;
      const other = partLines(split.workers ?? [], killed, 'part started').find((p) => p.worker !== j.worker);
      victim = other && split.workers!.find((w) => w.name === other.worker);
      return !!victim;
    });
    await victim!.stop('SIGKILL');
    const finishedBeforeKill = partLines(split.workers ?? [], killed, 'part finished').filter((p) => p.worker === victim!.name).length;
    const survived = await waitForJob(split.url, killed, { timeoutMs: 180_000 }).catch((err: Error) =>
      assert.fail(`${err.message} after ${victim!.name} was killed; the workers said:\n${jobTrace(split.workers ?? [], killed)}`),
    );
    t.diagnostic(
      `killed ${victim!.name} (parts it had finished: ${finishedBeforeKill}); parts started in all: ${partLines(split.workers ?? [], killed, 'part started').length}`,
    );
    assert.equal(survived.status, 'successful', `${JSON.stringify(survived)}\n${jobTrace(split.workers ?? [], killed)}`);
    const k = await filesUnder(pyramidDir(split, 'K'));
    for (const key of slabs) {
      const same = key.replace(/^P\//, 'K/');
      assert.ok(k.get(same)?.equals(a.get(key)!), `slab ${same} after the kill is the same bytes as ${key}`);
    }
    assert.equal(k.size, a.size, 'the same number of files');

    // kill -9 of the worker running the job itself: BullMQ gives the job to the other worker after
    // stalled_seconds; the dead run's name reservation and write lock have expired with its lease by then and
    // its GENERATING record is dropped, so the run starts again and the pyramid ends READY and the same.
    const retaken = await submitJob(split.url, 'raster-to-pyramid', { ...INPUTS, name: 'R', images: [{ href: hrefOf(copy) }] });
    let parent: (typeof split.workers & object)[number] | undefined;
    await until('the job running on a worker, its parts started', async () => {
      const j = (await (await fetch(`${split.url}/jobs/${retaken}`)).json()) as { worker?: string };
      parent = j.worker ? split.workers!.find((w) => w.name === j.worker) : undefined;
      return !!parent && partLines(split.workers ?? [], retaken, 'part started').length > 0;
    });
    await parent!.stop('SIGKILL');
    const again = await waitForJob(split.url, retaken, { timeoutMs: 180_000 }).catch((err: Error) =>
      assert.fail(`${err.message} after ${parent!.name} was killed; the workers said:\n${jobTrace(split.workers ?? [], retaken)}`),
    );
    const errors = () =>
      (split.workers ?? [])
        .flatMap((w) => w.output().split('\n'))
        .filter((l) => l.includes('"level":"error"'))
        .join('\n');
    assert.equal(again.status, 'successful', `${JSON.stringify(again)}\n${errors()}`);
    const r = await filesUnder(pyramidDir(split, 'R'));
    for (const key of slabs) {
      const same = key.replace(/^P\//, 'R/');
      assert.ok(r.get(same)?.equals(a.get(key)!), `slab ${same} after the job's worker was killed is the same bytes as ${key}`);
    }
    const records = (await (await fetch(`${split.url}/stored_data`)).json()) as { stored_data?: Array<{ name: string; status: string }> };
    assert.deepEqual(
      (records.stored_data ?? []).filter((x) => x.name === 'R').map((x) => x.status),
      ['READY'],
      "one R, READY (the dead run's GENERATING record is gone)",
    );
  } finally {
    await split.stop();
    await single.stop();
  }
});
