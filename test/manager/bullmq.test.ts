import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execute, submitJob, waitForJob, withServer } from '../helpers/server.js';
import { skipUnlessRedis } from '../helpers/redis.js';

/**
 * The bullmq manager (issue 14) with a real redis-server and real `dallage worker` processes. The OGC
 * suites themselves also run against it (test/manager/bullmq-suites.test.ts); these are what only
 * workers have: which worker ran a job, dismiss reaching a worker, a worker killed mid-job.
 */
const skip = skipUnlessRedis();

type Status = Record<string, unknown> & { status: string; worker?: string };

async function status(url: string, id: string): Promise<Status> {
  return (await (await fetch(`${url}/jobs/${id}`)).json()) as Status;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Execution temp folders of a worker process (its TMPDIR). */
async function execFolders(tmpDir: string): Promise<string[]> {
  return (await readdir(tmpDir)).filter((n) => n.startsWith('dallage-exec-'));
}

test(
  'bullmq: an async job runs on a worker process; its status and GET /jobs name the worker; results by value and reference',
  { skip },
  () =>
    withServer({ manager: 'bullmq' }, async (s) => {
      const id = await submitJob(s.url, 'echo', { stringInput: 'hello' });
      const final = await waitForJob(s.url, id, { timeoutMs: 60_000 });
      assert.equal(final.status, 'successful', JSON.stringify(final));
      assert.ok(
        s.workers!.some((w) => w.name === final.worker),
        `worker ${final.worker} is one of ${s.workers!.map((w) => w.name)}`,
      );
      const list = (await (await fetch(`${s.url}/jobs`)).json()) as { jobs: Array<{ jobID: string; worker?: string }> };
      assert.equal(list.jobs.find((j) => j.jobID === id)?.worker, final.worker);
      assert.match(await (await fetch(`${s.url}/jobs/${id}/results`)).text(), /hello/);
      const byRef = await execute(
        s.url,
        'echo',
        { inputs: { stringInput: 'by reference' }, outputs: { stringInput: { transmissionMode: 'reference' } }, response: 'document' },
        { Prefer: 'respond-async' },
      );
      const refJob = ((await byRef.json()) as { jobID: string }).jobID;
      assert.equal((await waitForJob(s.url, refJob, { timeoutMs: 60_000 })).status, 'successful');
      const doc = (await (await fetch(`${s.url}/jobs/${refJob}/results`)).json()) as Record<string, { href: string }>;
      assert.equal(await (await fetch(doc.stringInput.href)).text(), 'by reference');
    }),
);

test('bullmq: a sync execution waits for the worker (value and reference); a bad request is a 400 from the server, no job', { skip }, () =>
  withServer({ manager: 'bullmq' }, async (s) => {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'sync hello' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /sync hello/);
    const ref = await execute(s.url, 'echo', {
      inputs: { stringInput: 'sync ref' },
      outputs: { stringInput: { transmissionMode: 'reference' } },
      response: 'document',
    });
    assert.equal(ref.status, 200);
    const doc = (await ref.json()) as Record<string, { href: string }>;
    assert.equal(await (await fetch(doc.stringInput.href)).text(), 'sync ref');
    const bad = await execute(s.url, 'echo', { inputs: { nope: 1 } });
    assert.equal(bad.status, 400);
    assert.equal(((await (await fetch(`${s.url}/jobs`)).json()) as { jobs: unknown[] }).jobs.length, 0);
  }),
);

test(
  'bullmq: DELETE of a running job reaches its worker through Redis: its pool task stops, its temp folder goes, the worker takes the next job',
  { skip },
  (t) =>
    withServer({ manager: 'bullmq', workers: 1, workerConcurrency: 1 }, async (s) => {
      const [worker] = s.workers!;
      const id = await submitJob(s.url, 'echo', { stringInput: 'long', pause: 60 });
      await until('the job to run on the worker', async () => (await status(s.url, id)).status === 'running');
      await until('its temp folder', async () => (await execFolders(worker.tmpDir!)).length === 1);
      const res = await fetch(`${s.url}/jobs/${id}`, { method: 'DELETE' });
      assert.equal(((await res.json()) as Status).status, 'dismissed');
      const dismissedAt = Date.now();
      // The run ends (release, temp folder removed) once its AbortSignal fired, long before the 60 s pause.
      await until('the worker to abort the run', async () => (await execFolders(worker.tmpDir!)).length === 0, 30_000);
      t.diagnostic(`run ended on the worker ${Date.now() - dismissedAt} ms after DELETE answered`);
      assert.equal((await status(s.url, id)).status, 'dismissed');
      // With concurrency 1, a next job runs only if the dismissed one freed the worker.
      const next = await submitJob(s.url, 'echo', { stringInput: 'next' });
      assert.equal((await waitForJob(s.url, next, { timeoutMs: 30_000 })).status, 'successful');
      await assert.rejects(readdir(path.join(s.config.storage.path, 'jobs', id)));
    }),
);

test('bullmq: a worker killed with SIGKILL mid-job: another worker takes the job again and it ends successful', { skip }, () =>
  withServer({ manager: 'bullmq', workerConcurrency: 1, bullmq: { attempts: 2, stalled_seconds: 2 } }, async (s) => {
    const id = await submitJob(s.url, 'echo', { stringInput: 'survivor', pause: 4 });
    await until('the job to run', async () => (await status(s.url, id)).status === 'running');
    const first = (await status(s.url, id)).worker!;
    const victim = s.workers!.find((w) => w.name === first)!;
    assert.ok(victim, `the worker ${first} is ours`);
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;
    const final = await waitForJob(s.url, id, { timeoutMs: 120_000 });
    assert.equal(final.status, 'successful', JSON.stringify(final));
    assert.notEqual(final.worker, first, 'the job ended on the other worker');
    assert.match(await (await fetch(`${s.url}/jobs/${id}/results`)).text(), /\r\n\r\nsurvivor\r\n/);
  }),
);

test('bullmq: with attempts: 1, a job whose worker is killed fails with the reason', { skip }, () =>
  withServer({ manager: 'bullmq', workerConcurrency: 1, bullmq: { attempts: 1, stalled_seconds: 2 } }, async (s) => {
    const id = await submitJob(s.url, 'echo', { stringInput: 'lost', pause: 30 });
    await until('the job to run', async () => (await status(s.url, id)).status === 'running');
    const runningOn = (await status(s.url, id)).worker!;
    const w = s.workers!.find((x) => x.name === runningOn)!;
    process.kill(w.pid, 'SIGKILL');
    await w.exited;
    const final = await waitForJob(s.url, id, { timeoutMs: 120_000 });
    assert.equal(final.status, 'failed', JSON.stringify(final));
    assert.match(String(final.message), /did not finish: job stalled more than allowable limit/);
  }),
);

test('GET /workers: the workers alive (heartbeats) and the queue depth with bullmq; the server’s own queue embedded; JSON and HTML', {
  skip,
}, async () => {
  await withServer({ manager: 'bullmq', workerConcurrency: 1 }, async (s) => {
    const a = await submitJob(s.url, 'echo', { stringInput: 'a', pause: 30 });
    const b = await submitJob(s.url, 'echo', { stringInput: 'b', pause: 30 });
    const c = await submitJob(s.url, 'echo', { stringInput: 'c', pause: 30 });
    await until('two jobs to run', async () =>
      (await Promise.all([a, b].map((id) => status(s.url, id)))).every((j) => j.status === 'running'),
    );
    type Workers = {
      manager: string;
      queue: { waiting: number; active: number };
      workers: Array<{ name: string; running: string[]; at: string }>;
    };
    let doc!: Workers;
    // Heartbeats are written every 5 s: wait until both name the job they run.
    await until('heartbeats naming the running jobs', async () => {
      doc = (await (await fetch(`${s.url}/workers`)).json()) as Workers;
      return doc.workers.flatMap((w) => w.running).length === 2;
    });
    assert.equal(doc.manager, 'bullmq');
    assert.deepEqual(doc.workers.map((w) => w.name).sort(), s.workers!.map((w) => w.name).sort());
    assert.deepEqual(doc.workers.flatMap((w) => w.running).sort(), [a, b].sort());
    assert.ok(doc.workers.every((w) => !Number.isNaN(Date.parse(w.at))));
    assert.deepEqual(doc.queue, { waiting: 1, active: 2 });
    const html = await (await fetch(`${s.url}/workers?f=html`)).text();
    for (const w of doc.workers) assert.ok(html.includes(w.name), `the page names ${w.name}`);
    for (const id of [a, b, c]) await fetch(`${s.url}/jobs/${id}`, { method: 'DELETE' });
  });
  await withServer({ manager: 'lowdb' }, async (s) => {
    const doc = (await (await fetch(`${s.url}/workers`)).json()) as Record<string, unknown>;
    assert.equal(doc.manager, 'lowdb');
    assert.deepEqual(doc.workers, []);
    assert.deepEqual(doc.queue, { waiting: 0, active: 0 });
  });
});
