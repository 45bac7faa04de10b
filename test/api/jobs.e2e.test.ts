import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execute, waitForJob, type TestServer, withServer } from '../helpers/server.js';
import { assertProblem, multipartParts, writeFailingPlugin } from './problem-assert.js';
import { REL } from '../../src/api/conformance.js';

type Status = {
  jobID: string;
  status: string;
  processID: string;
  message?: string;
  progress?: number;
  created: string;
  started?: string;
  finished?: string;
  links: Array<{ href: string; rel: string; type?: string }>;
};

async function submit(s: TestServer, body: unknown, processId = 'echo', prefer = 'respond-async'): Promise<Status> {
  const res = await execute(s.url, processId, body, { Prefer: prefer });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Status;
}

/** Polls until `check` is true (job states change asynchronously). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('async: 201 + Location + Preference-Applied + statusInfo; the job is stored before the answer', () =>
  withServer({}, async (s) => {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'teststring', pause: 0.3 } }, { Prefer: 'respond-async' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('preference-applied'), 'respond-async');
    assert.equal(res.headers.get('content-type'), 'application/json');
    const status = (await res.json()) as Status;
    assert.equal(res.headers.get('location'), `${s.url}/jobs/${status.jobID}`);
    assert.equal(status.processID, 'echo');
    assert.equal(status.status, 'accepted');
    assert.equal((status as unknown as { type: string }).type, 'process');
    assert.equal(
      status.links.some((l) => l.rel === REL.results),
      false,
    );
    // GET Location without Accept (ETS testJobCreationOp) → JSON statusInfo.
    const got = await fetch(res.headers.get('location')!);
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type')!, /^application\/json/);
    const body = (await got.json()) as Status;
    assert.equal(body.jobID, status.jobID);
    assert.ok(['accepted', 'running', 'successful'].includes(body.status));
    for (const k of ['created', 'updated']) assert.equal(typeof (body as unknown as Record<string, unknown>)[k], 'string');
    for (const v of Object.values(body)) assert.notEqual(v, null);
    const done = await waitForJob(s.url, status.jobID);
    assert.equal(done.status, 'successful');
    assert.equal(done.progress, 100);
    assert.ok((done.links as Status['links']).some((l) => l.rel === REL.results));
  }));

test('Prefer variants: "respond-async " (ETS), with other preferences; Prefer on a sync-only … stays sync', () =>
  withServer({}, async (s) => {
    for (const prefer of ['respond-async ', 'wait=10, respond-async', 'respond-async; foo=1']) {
      const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' } }, { Prefer: prefer });
      assert.equal(res.status, 201, prefer);
      assert.equal(res.headers.get('preference-applied'), 'respond-async');
      assert.ok(res.headers.get('location'));
      await waitForJob(s.url, ((await res.json()) as Status).jobID);
    }
  }));

test('results come back as first requested: raw value, document, references (204 + Link), multipart', () =>
  withServer({}, async (s) => {
    const raw = await submit(s, { inputs: { stringInput: 'teststring' }, outputs: { stringInput: {} }, response: 'raw' });
    const doc = await submit(s, {
      inputs: { stringInput: 'teststring', arrayInput: [1] },
      outputs: { stringInput: {}, arrayInput: { transmissionMode: 'reference' } },
      response: 'document',
    });
    const refs = await submit(s, { inputs: { stringInput: 'ref' }, outputs: { stringInput: { transmissionMode: 'reference' } } });
    const multi = await submit(s, { inputs: { stringInput: 'm', pause: 1 }, outputs: { stringInput: {}, pause: {} } });
    for (const j of [raw, doc, refs, multi]) assert.equal((await waitForJob(s.url, j.jobID)).status, 'successful');

    // No Accept and */* (ETS, OWSLib) → the output's media type.
    for (const headers of [{}, { Accept: '*/*' }] as Array<Record<string, string>>) {
      const r = await fetch(`${s.url}/jobs/${raw.jobID}/results`, { headers });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/plain/);
      assert.equal(await r.text(), 'teststring');
    }
    const d = await fetch(`${s.url}/jobs/${doc.jobID}/results`);
    assert.equal(d.headers.get('content-type'), 'application/json');
    const body = (await d.json()) as { stringInput: string; arrayInput: { href: string } };
    assert.equal(body.stringInput, 'teststring');
    assert.equal(body.arrayInput.href, `${s.url}/jobs/${doc.jobID}/results/arrayInput`);
    assert.deepEqual(await (await fetch(body.arrayInput.href)).json(), [1]);
    const r = await fetch(`${s.url}/jobs/${refs.jobID}/results`);
    assert.equal(r.status, 204);
    const href = /^<([^>]+)>/.exec(r.headers.get('link')!)![1];
    assert.equal(await (await fetch(href)).text(), 'ref');
    const m = await fetch(`${s.url}/jobs/${multi.jobID}/results`);
    const parts = multipartParts(m.headers.get('content-type')!, Buffer.from(await m.arrayBuffer()));
    assert.deepEqual(
      parts.map((p) => [p.headers['content-id'], p.body]),
      [
        ['<stringInput>', 'm'],
        ['<pause>', '1'],
      ],
    );
    // An output id the job does not have → 404.
    await assertProblem(await fetch(`${s.url}/jobs/${raw.jobID}/results/nope`), 404, { type: 'no-such-output' });
  }));

test('result-not-ready while running (pause 5 as an integer, like the ETS); monitor link, no results link', () =>
  withServer({}, async (s) => {
    const job = await submit(s, { inputs: { stringInput: 'teststring', pause: 5 }, response: 'raw' });
    const status = (await (await fetch(`${s.url}/jobs/${job.jobID}`)).json()) as Status;
    assert.ok(['accepted', 'running'].includes(status.status));
    assert.ok(status.links.some((l) => l.rel === 'monitor'));
    assert.equal(
      status.links.some((l) => l.rel === REL.results),
      false,
    );
    await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results`), 404, {
      contentType: 'application/problem+json',
      type: 'result-not-ready',
    });
    // Real progress: it moves while the echo pauses.
    await until(async () => (((await (await fetch(`${s.url}/jobs/${job.jobID}`)).json()) as Status).progress ?? 0) > 0, 'progress above 0');
    const running = (await (await fetch(`${s.url}/jobs/${job.jobID}`)).json()) as Status;
    assert.equal(running.status, 'running');
    assert.match(running.message!, /pausing/);
    assert.equal((await fetch(`${s.url}/jobs/${job.jobID}`, { method: 'DELETE' })).status, 200);
  }));

test('a failed job: status failed, generic message with an error id (no internal text); its results answer its problem document', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-plugin-'));
  try {
    await withServer({ processes: { echo: 'echo', fail: await writeFailingPlugin(dir, 50) } }, async (s) => {
      const job = await submit(s, { inputs: { reason: 'async test' } }, 'fail');
      const done = await waitForJob(s.url, job.jobID);
      assert.equal(done.status, 'failed');
      assert.match(done.message as string, /internal error/);
      assert.doesNotMatch(done.message as string, /failed on purpose/);
      assert.equal(typeof done.finished, 'string');
      const body = await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results`), 500, { detail: /internal error/ });
      assert.doesNotMatch(JSON.stringify(body), /failed on purpose/);
      assert.match(body.errorId as string, /^[0-9a-f-]{36}$/);
      assert.equal(body.instance, `/jobs/${job.jobID}`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('GET /jobs: filters type/processID/status/datetime/duration, limit with next and prev links', () =>
  withServer({}, async (s) => {
    const echoJobs: Status[] = [];
    for (let i = 0; i < 5; i++) echoJobs.push(await submit(s, { inputs: { stringInput: `e${i}` } }));
    const hello: Status[] = [];
    for (let i = 0; i < 2; i++) hello.push(await submit(s, { inputs: { name: `h${i}` } }, 'hello-world'));
    for (const j of [...echoJobs, ...hello]) await waitForJob(s.url, j.jobID);
    const list = async (q: string) => {
      const res = await fetch(`${s.url}/jobs${q}`);
      assert.equal(res.status, 200, q);
      return (await res.json()) as { jobs: Status[]; links: Array<{ rel: string; href: string }> };
    };
    const all = await list('');
    assert.equal(all.jobs.length, 7);
    assert.deepEqual(
      all.jobs.map((j) => j.jobID),
      [...echoJobs, ...hello].map((j) => j.jobID).reverse(),
    ); // newest first
    for (const j of all.jobs) assert.ok(j.processID);
    assert.deepEqual(new Set(all.links.map((l) => l.rel)), new Set(['self', 'alternate']));

    assert.deepEqual(
      (await list('?processID=hello-world')).jobs.map((j) => j.jobID),
      hello.map((j) => j.jobID).reverse(),
    );
    assert.equal((await list('?processID=echo,hello-world&type=process')).jobs.length, 7);
    assert.equal((await list('?status=successful')).jobs.length, 7);
    assert.equal((await list('?status=running,failed')).jobs.length, 0);
    assert.equal((await list('?minDuration=3600')).jobs.length, 0);
    assert.equal((await list('?maxDuration=3600')).jobs.length, 7);
    const firstCreated = all.jobs.at(-1)!.created;
    assert.equal((await list(`?datetime=${encodeURIComponent(`../${firstCreated}`)}`)).jobs.length >= 1, true);
    assert.equal((await list(`?datetime=${encodeURIComponent('2000-01-01T00:00:00Z/2000-01-02T00:00:00Z')}`)).jobs.length, 0);
    assert.equal((await list(`?datetime=${encodeURIComponent('2000-01-01T00:00:00Z/..')}`)).jobs.length, 7);

    // Paging: limit=3 → next; following next gives the next 3 and a prev link back.
    const p1 = await list('?limit=3&processID=echo,hello-world');
    assert.equal(p1.jobs.length, 3);
    const next = p1.links.find((l) => l.rel === 'next')!;
    assert.ok(next, 'a next link');
    assert.equal(
      p1.links.some((l) => l.rel === 'prev'),
      false,
    );
    assert.match(next.href, /processID=echo%2Chello-world|processID=echo,hello-world/);
    const p2 = (await (await fetch(next.href)).json()) as typeof p1;
    assert.deepEqual(
      p2.jobs.map((j) => j.jobID),
      all.jobs.slice(3, 6).map((j) => j.jobID),
    );
    const prev = p2.links.find((l) => l.rel === 'prev')!;
    assert.deepEqual(
      ((await (await fetch(prev.href)).json()) as typeof p1).jobs.map((j) => j.jobID),
      p1.jobs.map((j) => j.jobID),
    );
    const p3 = (await (await fetch(p2.links.find((l) => l.rel === 'next')!.href)).json()) as typeof p1;
    assert.equal(p3.jobs.length, 1);
    assert.equal(
      p3.links.some((l) => l.rel === 'next'),
      false,
    );

    await assertProblem(await fetch(`${s.url}/jobs?status=finished`), 400, {
      contentType: 'application/problem+json',
      detail: /status 'finished'/,
    });
    await assertProblem(await fetch(`${s.url}/jobs?limit=0`), 400, { detail: /limit/ });
    await assertProblem(await fetch(`${s.url}/jobs?datetime=soon`), 400, { detail: /datetime/ });
  }));

// The embedded manager's pool and queue are read in the server process: pinned to lowdb (the bullmq
// manager's dismiss and bound are proven on worker processes in test/manager/bullmq.test.ts).
test('DELETE a running echo job: dismissed, its pool task stops within one second, its results are gone', () =>
  withServer({ manager: 'lowdb' }, async (s) => {
    const job = await submit(s, { inputs: { stringInput: 'long', pause: 30 } });
    const pool = s.runtime.pool;
    await until(async () => (pool.stats?.().running ?? 0) === 1, 'the pause task to run');
    const res = await fetch(`${s.url}/jobs/${job.jobID}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Status;
    assert.equal(body.status, 'dismissed');
    assert.equal(body.jobID, job.jobID);
    assert.equal(typeof body.finished, 'string');
    const dismissedAt = Date.now();
    // The pool task and then the job's runner (it removes the job's temp folder) must be done within a second.
    while ((pool.stats?.().running ?? -1) !== 0 || s.runtime.manager.stats().running !== 0) {
      if (Date.now() - dismissedAt > 1000)
        assert.fail(
          `still running one second after DELETE: pool ${JSON.stringify(pool.stats?.())}, manager ${JSON.stringify(s.runtime.manager.stats())}`,
        );
      await new Promise((r) => setTimeout(r, 10));
    }
    const after = (await (await fetch(`${s.url}/jobs/${job.jobID}`)).json()) as Status;
    assert.equal(after.status, 'dismissed');
    await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results`), 410, { type: 'job-dismissed' });
    await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results/stringInput`), 410, { type: 'job-dismissed' });
    const resultsDir = path.join(s.config.storage.path, 'jobs', job.jobID);
    await assert.rejects(readdir(resultsDir));
    // Dismissing again answers the same status; an unknown job → 404.
    assert.equal(((await (await fetch(`${s.url}/jobs/${job.jobID}`, { method: 'DELETE' })).json()) as Status).status, 'dismissed');
    await assertProblem(await fetch(`${s.url}/jobs/nope`, { method: 'DELETE' }), 404, { type: 'no-such-job' });
  }));

test('DELETE a successful job removes its stored results', () =>
  withServer({}, async (s) => {
    const job = await submit(s, { inputs: { stringInput: 'keep?' } });
    await waitForJob(s.url, job.jobID);
    const resultsDir = path.join(s.config.storage.path, 'jobs', job.jobID);
    assert.ok((await readdir(resultsDir, { recursive: true })).length > 0);
    assert.equal(((await (await fetch(`${s.url}/jobs/${job.jobID}`, { method: 'DELETE' })).json()) as Status).status, 'dismissed');
    await assert.rejects(readdir(resultsDir));
  }));

test('jobs queue behind max_running_jobs: with 1, the second stays accepted until the first finishes', () =>
  withServer({ manager: 'lowdb', limits: { max_running_jobs: 1 } }, async (s) => {
    const first = await submit(s, { inputs: { stringInput: 'first', pause: 1.5 } });
    const second = await submit(s, { inputs: { stringInput: 'second' } });
    await until(
      async () => ((await (await fetch(`${s.url}/jobs/${first.jobID}`)).json()) as Status).status === 'running',
      'the first job to run',
    );
    const waiting = (await (await fetch(`${s.url}/jobs/${second.jobID}`)).json()) as Status;
    assert.equal(waiting.status, 'accepted');
    assert.equal(waiting.started, undefined);
    assert.deepEqual(s.runtime.manager.stats(), { running: 1, queued: 1 });
    const a = await waitForJob(s.url, first.jobID);
    const b = await waitForJob(s.url, second.jobID);
    assert.equal(b.status, 'successful');
    assert.ok(Date.parse(b.started as string) >= Date.parse(a.finished as string), 'the second started after the first finished');
    // A queued job can be dismissed before it runs.
    const third = await submit(s, { inputs: { stringInput: 'third', pause: 1 } });
    const fourth = await submit(s, { inputs: { stringInput: 'fourth' } });
    assert.equal(((await (await fetch(`${s.url}/jobs/${fourth.jobID}`, { method: 'DELETE' })).json()) as Status).status, 'dismissed');
    await waitForJob(s.url, third.jobID);
    assert.equal(((await (await fetch(`${s.url}/jobs/${fourth.jobID}`)).json()) as Status).status, 'dismissed');
  }));

test('crash recovery: jobs left accepted/running in the lowdb files are failed at start-up, saying so', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-crash-'));
  try {
    await mkdir(path.join(dir, 'jobs'), { recursive: true });
    const t = '2025-01-01T00:00:00.000Z';
    const base = {
      processID: 'echo',
      type: 'process',
      created: t,
      updated: t,
      request: { outputs: { stringInput: { transmissionMode: 'value' } }, response: 'raw' },
    };
    const jobs = [
      { ...base, jobID: 'crashed-running', status: 'running', started: t, progress: 40, message: 'running' },
      { ...base, jobID: 'crashed-accepted', status: 'accepted', progress: 0 },
      { ...base, jobID: 'done-before', status: 'successful', started: t, finished: t, progress: 100 },
    ];
    await writeFile(path.join(dir, 'jobs', 'jobs-000001.json'), JSON.stringify({ jobs }));
    await withServer({ dir, manager: 'lowdb' }, async (s) => {
      for (const id of ['crashed-running', 'crashed-accepted']) {
        const job = (await (await fetch(`${s.url}/jobs/${id}`)).json()) as Status;
        assert.equal(job.status, 'failed', id);
        assert.match(job.message!, /server stopped while this job was (running|accepted)/);
        assert.equal(typeof job.finished, 'string');
        await assertProblem(await fetch(`${s.url}/jobs/${id}/results`), 500, { detail: /server stopped/ });
      }
      assert.equal(((await (await fetch(`${s.url}/jobs/done-before`)).json()) as Status).status, 'successful');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an async output requested by reference that the process did not produce: the job fails naming it (not dropped)', () =>
  withServer({}, async (s) => {
    const job = await submit(s, {
      inputs: { stringInput: 'x' },
      outputs: { stringInput: {}, objectInput: { transmissionMode: 'reference' } },
    });
    const done = await waitForJob(s.url, job.jobID);
    assert.equal(done.status, 'failed');
    assert.match(done.message as string, /output 'objectInput' was requested/);
    const body = await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results`), 400, { detail: /objectInput/ });
    assert.equal(body.output, 'objectInput');
  }));

test('GET /jobs/{id}/results/__proto__ (or constructor) → 404 no-such-output', () =>
  withServer({}, async (s) => {
    const job = await submit(s, { inputs: { stringInput: 'x' } });
    await waitForJob(s.url, job.jobID);
    for (const name of ['__proto__', 'constructor', 'toString']) {
      await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results/${name}`), 404, { type: 'no-such-output' });
    }
  }));
