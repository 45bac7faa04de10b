import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bottomLevelId, makeInput, mosaicLevel, openPyramid, pyramidDir, pyramidResult, storedData } from '../helpers/pyramids.js';
import { filesUnder } from '../helpers/pyramid-tree.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitJob, waitForJob, type TestServer } from '../helpers/server.js';
import { jobTrace, partLines, type WorkerProcess } from '../helpers/workers.js';

/**
 * A worker that loses its BullMQ lock while it is alive (issue 14, faults): its process is stopped (SIGSTOP)
 * for longer than the lock and the stalled check, so the other worker takes the job again and writes the
 * pyramid anew; then it is continued (SIGCONT). The resumed run must be lost: aborted, writing nothing — no
 * job status, no stored data record turned READY again, no file removed — and the retaken run owns the job.
 * Then the same with a split pyramid (its parts on both workers): the stopped worker's part is lost too.
 */
const skip = skipUnlessRedis();
const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid' };
/** ~200 km at 50 m: a run of several seconds on one thread, long enough to be stopped in the middle. */
const MAP = { width: 4000, height: 4000, pixelSize: 50 };
const INPUTS = { tms: 'PM', compression: 'png', mask: true, width: 2, height: 2 };
/** The lock lasts this long; the stalled check runs as often (src/manager/bullmq-queue.ts). */
const STALLED_SECONDS = 2;

interface Seen {
  status: string;
  worker?: string;
  finished?: string;
  progress?: number;
}

/** Waits for `check`; on a timeout fails with `what` and what `context` tells then (what the job went through). */
async function until(what: string, check: () => Promise<boolean> | boolean, context: () => string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; ${context()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The JSON log lines a worker wrote about a job. */
function linesOf(w: WorkerProcess, jobId: string): Array<Record<string, unknown>> {
  return w
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.jobId === jobId);
}

/** True when the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs pyramid `L` (and `REF` first, undisturbed), stops the job's worker with SIGSTOP once `stopWhen` says so,
 * continues it once the other worker runs the job, and checks that the resumed run wrote nothing: one end of
 * the job (the retaken run's), one READY record, the pyramid the same files as `REF`, everyone alive.
 * Resolves with the stopped worker, the other one and the job id, for the split test's own checks.
 */
async function stallScenario(
  t: { diagnostic(message: string): void },
  s: TestServer,
  stopWhen: (job: Seen, id: string) => boolean,
): Promise<{ stopped: WorkerProcess; other: WorkerProcess; id: string }> {
  let stopped: WorkerProcess | undefined;
  let watching = true;
  let watcher: Promise<void> | undefined;
  try {
    const map = await makeInput(s, 'map.tif', MAP);
    // The reference: the same pyramid made by one run that nothing disturbed.
    const reference = await waitForJob(
      s.url,
      await submitJob(s.url, 'raster-to-pyramid', { ...INPUTS, name: 'REF', images: [{ href: map.href }] }),
    );
    assert.equal(reference.status, 'successful', JSON.stringify(reference));

    const id = await submitJob(s.url, 'raster-to-pyramid', { ...INPUTS, name: 'L', images: [{ href: map.href }] });
    // Every status the job shows from now on, polled all along (a `successful` written twice is seen).
    const seen: Seen[] = [];
    let latest: Seen | undefined;
    const context = () => `the job went through ${JSON.stringify(seen)}; the workers said:\n${jobTrace(s.workers!, id)}`;
    watcher = (async () => {
      while (watching) {
        const j = (await (await fetch(`${s.url}/jobs/${id}`)).json()) as Seen;
        latest = j;
        const last = seen.at(-1);
        if (!last || last.status !== j.status || last.worker !== j.worker || last.finished !== j.finished)
          seen.push({ status: j.status, worker: j.worker, finished: j.finished, progress: j.progress });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // Stopped in the middle of its run: its stored data record exists (GENERATING) and slabs are written.
    await until('the job running on a worker, far enough', () => !!latest && stopWhen(latest, id), context);
    const first = latest!.worker!;
    stopped = s.workers!.find((w) => w.name === first)!;
    const other = s.workers!.find((w) => w !== stopped)!;
    process.kill(stopped.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      // The other worker's stalled check gives the job back to the queue; it takes it and marks it running
      // (its preparation took the name first: the stopped run's record is DELETED by then).
      await until(
        'the other worker to take the job again',
        () => seen.some((x) => x.status === 'running' && x.worker === other.name),
        context,
      );
    } finally {
      process.kill(stopped.pid, 'SIGCONT');
    }
    t.diagnostic(`${first} stopped for ${Date.now() - stoppedAt} ms; ${other.name} took the job again`);

    const final = await waitForJob(s.url, id, { timeoutMs: 120_000 });
    // The resumed run ends one way or another: it logs its end (lost, or — the defect — successful/failed).
    await until(
      'the resumed run to end',
      () => linesOf(stopped!, id).some((l) => /^job (lost|successful|failed)/.test(String(l.msg)) && l.worker !== other.name),
      context,
    );
    // What a late write of the resumed run would change has had time to land.
    await new Promise((r) => setTimeout(r, 1500));
    watching = false;
    await watcher;
    const after = (await (await fetch(`${s.url}/jobs/${id}`)).json()) as Seen & { message?: string };
    const records = (await storedData(s)).filter((r) => r.name === 'L');
    t.diagnostic(`job seen: ${JSON.stringify(seen)}`);
    t.diagnostic(`records named L: ${JSON.stringify(records.map((r) => ({ _id: r._id, status: r.status, message: r.message })))}`);
    t.diagnostic(`the workers said: ${jobTrace(s.workers!, id).split('\n').join(' | ')}`);

    // The resumed worker knows it lost the job, and says so.
    const lost = linesOf(stopped, id).filter((l) => l.msg === 'job lost: lock taken by another worker');
    assert.equal(lost.length, 1, 'the resumed worker logs `job lost` once for the job');
    assert.equal(lost[0].level, 'warn');
    assert.equal(
      linesOf(stopped, id).some((l) => l.msg === 'job successful' || l.msg === 'job failed'),
      false,
      'the lost run does not end the job',
    );

    // The job ended successful once, by the retaken run, and stays so.
    assert.equal(final.status, 'successful', JSON.stringify(final));
    assert.equal(final.worker, other.name, 'the retaken run wrote the end');
    const ends = seen.filter((x) => x.status !== 'accepted' && x.status !== 'running');
    assert.deepEqual(
      ends.map((x) => ({ status: x.status, worker: x.worker, finished: x.finished })),
      [{ status: 'successful', worker: other.name, finished: final.finished }],
      'one end, written once, by the retaken run',
    );
    assert.deepEqual(
      { status: after.status, worker: after.worker, finished: after.finished },
      { status: 'successful', worker: other.name, finished: final.finished },
    );

    // One READY stored data of that name: the retaken run's, the one in the job's results.
    const ready = records.filter((r) => r.status === 'READY');
    assert.equal(ready.length, 1, `one READY record named L, not ${ready.length}`);
    assert.equal(ready[0]._id, (await pyramidResult(s, id))._id, "the READY record is the job's result");
    assert.equal(records.filter((r) => r.status === 'GENERATING').length, 0, 'nothing left GENERATING');

    // The pyramid is complete: the same files and bytes as the undisturbed run (nothing removed by the lost
    // run, nothing of it left behind), and our reader reads its bottom level as it reads the reference's.
    const want = await filesUnder(pyramidDir(s, 'REF'));
    const got = await filesUnder(pyramidDir(s, 'L'));
    const renamed = (k: string) => k.replace(/^REF(?=[/.])/, 'L');
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].map(renamed).sort(), 'the same files');
    for (const [k, bytes] of want)
      if (k.includes('/DATA/') || k.includes('/MASK/'))
        assert.ok(got.get(renamed(k))!.equals(bytes), `slab ${renamed(k)} is the same bytes`);
    const lines = (buf: Buffer) => buf.toString().split('#\n')[1].split('\n').filter(Boolean).sort();
    assert.deepEqual(lines(got.get('L.list')!), lines(want.get('REF.list')!), 'the same slab lines');
    const bottom = async (name: string) => {
      const reader = await openPyramid(s, name);
      return mosaicLevel(reader, bottomLevelId(reader), 'PM');
    };
    const [mine, theirs] = [await bottom('L'), await bottom('REF')];
    assert.ok(mine.tilesFound > 0 && mine.mask.some((v) => v !== 0), 'the bottom level has data');
    assert.equal(mine.tilesFound, theirs.tilesFound, 'every tile of the bottom level is read');

    // The server and both workers are alive, and both workers still beat.
    assert.equal((await fetch(`${s.url}/`)).status, 200);
    for (const w of s.workers!) {
      assert.equal(w.child.exitCode, null, `${w.name} runs`);
      assert.ok(alive(w.pid), `${w.name} runs`);
    }
    const workers = (await (await fetch(`${s.url}/workers`, { headers: { Accept: 'application/json' } })).json()) as {
      workers: Array<{ name: string }>;
    };
    assert.deepEqual(workers.workers.map((w) => w.name).sort(), s.workers!.map((w) => w.name).sort());
    return { stopped, other, id };
  } finally {
    watching = false;
    await watcher?.catch(() => {});
    if (stopped) process.kill(stopped.pid, 'SIGCONT');
  }
}

test('bullmq: a worker stalled past its lock (SIGSTOP) loses the job: once continued it writes nothing; the retaken run owns the job and its pyramid', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const s = await startTestServer({
    manager: 'bullmq',
    processes: PROCESSES,
    workers: 2,
    workerConcurrency: 1,
    bullmq: { stalled_seconds: STALLED_SECONDS, attempts: 2, split_slabs: 0 },
  });
  try {
    await stallScenario(t, s, (job) => job.status === 'running' && !!job.worker && (job.progress ?? 0) > 0);
  } finally {
    await s.stop();
  }
});

test('bullmq split: a worker stalled past the locks of a split job and of a part loses both; the part ends without a result', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const s = await startTestServer({
    manager: 'bullmq',
    processes: PROCESSES,
    workers: 2,
    workerConcurrency: 1,
    bullmq: { stalled_seconds: STALLED_SECONDS, attempts: 2, split_slabs: 1, split_parts: 3 },
  });
  try {
    // Stopped while it runs the job (its finisher) and one of its parts.
    const partOnJobWorker = (job: Seen, id: string) => {
      if (job.status !== 'running' || !job.worker) return false;
      const started = partLines(s.workers!, id, 'part started').filter((p) => p.worker === job.worker);
      const finished = partLines(s.workers!, id, 'part finished').filter((p) => p.worker === job.worker);
      return started.some((p) => !finished.some((f) => f.part === p.part));
    };
    const { stopped, id } = await stallScenario(t, s, partOnJobWorker);
    // The part it was running when stopped is lost: it said so and ended without a result.
    const lostParts = partLines([stopped], id, 'part lost: lock taken by another worker');
    assert.ok(lostParts.length >= 1, 'the resumed worker logs `part lost` for the part it ran');
    const finishedThere = partLines([stopped], id, 'part finished').map((p) => p.part);
    for (const p of lostParts) assert.ok(!finishedThere.includes(p.part), `lost part ${p.part} did not finish there`);
  } finally {
    await s.stop();
  }
});
