import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRecord, JobStatus } from '../../src/manager/job.js';
import type { JobStore } from '../../src/manager/store.js';

/** How the shared suite obtains a store: a fresh, opened one per test, and how to dispose of it. */
export interface StoreFactory {
  name: string;
  /** A skip reason (a missing redis-server outside CI), or false. */
  skip?: string | false;
  open(): Promise<JobStore>;
  dispose(store: JobStore): Promise<void>;
}

const T0 = Date.parse('2025-03-01T12:00:00Z');

/** A job created `seconds` after T0. */
export function makeJob(n: number, overrides: Partial<JobRecord> = {}): JobRecord {
  const created = new Date(T0 + n * 1000).toISOString();
  return {
    jobID: `job-${String(n).padStart(6, '0')}`,
    processID: n % 2 ? 'echo' : 'hello-world',
    type: 'process',
    status: 'accepted',
    message: 'accepted',
    progress: 0,
    created,
    updated: created,
    request: { outputs: { stringInput: { transmissionMode: 'value' } }, response: 'raw' },
    ...overrides,
  };
}

/**
 * The contract every JobStore keeps (src/manager/store.ts), run against each implementation by
 * test/manager/job-stores.test.ts.
 */
export function jobStoreSuite(factory: StoreFactory): void {
  const withStore = (name: string, fn: (store: JobStore) => Promise<void>) =>
    test(`${factory.name}: ${name}`, { skip: factory.skip ?? false }, async () => {
      const store = await factory.open();
      try {
        await fn(store);
      } finally {
        await factory.dispose(store);
      }
    });

  withStore('create then get returns an equal copy, not the stored object', async (store) => {
    const job = makeJob(1);
    await store.create(job);
    const got = await store.get(job.jobID);
    assert.deepEqual(got, job);
    got!.status = 'failed';
    job.status = 'running';
    assert.equal((await store.get(job.jobID))!.status, 'accepted');
    assert.equal(await store.get('absent'), undefined);
    assert.equal(await store.count(), 1);
  });

  withStore('create refuses a duplicate id', async (store) => {
    await store.create(makeJob(1));
    await assert.rejects(store.create(makeJob(1)));
    assert.equal(await store.count(), 1);
  });

  withStore('updateIf writes only from the statuses given: a dismissed job is not marked running', async (store) => {
    await store.create(makeJob(1));
    const running = await store.updateIf('job-000001', ['accepted'], { status: 'running', message: 'running', progress: 0 });
    assert.equal(running?.status, 'running');
    assert.equal(running?.message, 'running');
    await store.update('job-000001', { status: 'dismissed', message: 'dismissed by the client', progress: undefined });
    assert.equal(await store.updateIf('job-000001', ['accepted', 'running'], { status: 'running', message: 'again' }), undefined);
    const kept = await store.get('job-000001');
    assert.deepEqual([kept?.status, kept?.message, kept?.progress], ['dismissed', 'dismissed by the client', undefined]);
    assert.equal(await store.updateIf('absent', ['accepted'], { status: 'running' }), undefined);
  });

  withStore('updateIf with expected members: the end of a run whose job another worker took is not written', async (store) => {
    await store.create(makeJob(1));
    const first = { worker: 'host:1', started: '2025-03-01T12:00:01.000Z' };
    const second = { worker: 'host:2', started: '2025-03-01T12:00:09.000Z' };
    await store.updateIf('job-000001', ['accepted'], { status: 'running', ...first });
    // Taken again by another worker (its lock lost): running still, under the new run's worker and start.
    await store.updateIf('job-000001', ['accepted', 'running'], { status: 'running', progress: 0, ...second });
    assert.equal(await store.updateIf('job-000001', ['running'], { status: 'successful', progress: 100 }, first), undefined);
    // Same worker, an earlier start (the same process took the job again): not that run's either.
    assert.equal(await store.updateIf('job-000001', ['running'], { progress: 50 }, { ...second, started: first.started }), undefined);
    assert.deepEqual(
      [(await store.get('job-000001'))?.status, (await store.get('job-000001'))?.progress],
      ['running', 0],
      'nothing of the first run written',
    );
    // An expected member the record does not have is not held; an undefined one is no condition.
    assert.equal(await store.updateIf('job-000001', ['running'], { progress: 1 }, { finished: '2025-03-01T12:00:10.000Z' }), undefined);
    const done = await store.updateIf(
      'job-000001',
      ['running'],
      { status: 'successful', progress: 100 },
      { ...second, finished: undefined },
    );
    assert.deepEqual([done?.status, done?.progress, done?.worker], ['successful', 100, 'host:2']);
  });

  withStore('update merges a patch and returns the new record; absent → undefined', async (store) => {
    await store.create(makeJob(1));
    const updated = await store.update('job-000001', { status: 'running', started: '2025-03-01T12:00:02.000Z', progress: 40 });
    assert.equal(updated!.status, 'running');
    assert.equal(updated!.progress, 40);
    assert.equal(updated!.processID, 'echo');
    assert.deepEqual(await store.get('job-000001'), updated);
    assert.equal(await store.update('absent', { status: 'failed' }), undefined);
    // An undefined member in the patch clears the field (dismiss removes results this way).
    await store.update('job-000001', {
      results: { out: { key: 'k', mediaType: 'text/plain', transmissionMode: 'value', json: false, size: 1 } },
    });
    assert.ok((await store.get('job-000001'))!.results);
    await store.update('job-000001', { results: undefined });
    assert.equal((await store.get('job-000001'))!.results, undefined);
  });

  withStore('delete removes the job from get, list and count', async (store) => {
    for (let i = 1; i <= 3; i++) await store.create(makeJob(i));
    assert.equal(await store.delete('job-000002'), true);
    assert.equal(await store.delete('job-000002'), false);
    assert.equal(await store.get('job-000002'), undefined);
    assert.deepEqual(
      (await store.list({}, 0, 10)).jobs.map((j) => j.jobID),
      ['job-000003', 'job-000001'],
    );
    assert.equal(await store.count(), 2);
  });

  withStore('list is newest first by created, whatever the creation order', async (store) => {
    for (const n of [3, 1, 5, 2, 4]) await store.create(makeJob(n));
    assert.deepEqual(
      (await store.list({}, 0, 10)).jobs.map((j) => j.jobID),
      [5, 4, 3, 2, 1].map((n) => makeJob(n).jobID),
    );
    await store.create(makeJob(0));
    assert.equal((await store.list({}, 0, 10)).jobs.at(-1)!.jobID, 'job-000000');
  });

  withStore('list pages with offset/limit and a more flag', async (store) => {
    for (let i = 1; i <= 25; i++) await store.create(makeJob(i));
    const p1 = await store.list({}, 0, 10);
    assert.deepEqual(
      p1.jobs.map((j) => j.jobID),
      Array.from({ length: 10 }, (_, k) => makeJob(25 - k).jobID),
    );
    assert.equal(p1.more, true);
    const p3 = await store.list({}, 20, 10);
    assert.deepEqual(
      p3.jobs.map((j) => j.jobID),
      [5, 4, 3, 2, 1].map((n) => makeJob(n).jobID),
    );
    assert.equal(p3.more, false);
    const exact = await store.list({}, 15, 10);
    assert.equal(exact.jobs.length, 10);
    assert.equal(exact.more, false);
    assert.deepEqual(await store.list({}, 100, 10), { jobs: [], more: false });
  });

  withStore('list filters by status, processID, type, datetime and duration, paging over the matches', async (store) => {
    const statuses: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];
    for (let i = 1; i <= 20; i++) {
      const status = statuses[i % 5];
      const started = status === 'accepted' ? undefined : new Date(T0 + i * 1000).toISOString();
      const finished = ['successful', 'failed', 'dismissed'].includes(status) ? new Date(T0 + i * 1000 + i * 100).toISOString() : undefined;
      await store.create(makeJob(i, { status, ...(started ? { started } : {}), ...(finished ? { finished } : {}) }));
    }
    const ids = async (filter: Parameters<JobStore['list']>[0], offset = 0, limit = 100, now?: number) =>
      (await store.list(filter, offset, limit, now)).jobs.map((j) => Number(j.jobID.slice(4)));
    assert.deepEqual(await ids({ status: ['successful'] }), [17, 12, 7, 2]);
    assert.deepEqual(await ids({ status: ['failed', 'dismissed'] }), [19, 18, 14, 13, 9, 8, 4, 3]);
    assert.deepEqual(await ids({ processID: ['echo'], status: ['successful'] }), [17, 7]);
    assert.deepEqual(
      await ids({ type: ['process'] }),
      Array.from({ length: 20 }, (_, k) => 20 - k),
    );
    assert.deepEqual(await ids({ type: ['other'] }), []);
    assert.deepEqual(await ids({ datetime: { start: T0 + 5000, end: T0 + 8000 } }), [8, 7, 6, 5]);
    assert.deepEqual(await ids({ datetime: { instant: T0 + 11_000 } }), [11]);
    // Durations: finished jobs i*0.1 s; running jobs now − started; accepted ones left out.
    assert.deepEqual(await ids({ status: ['successful', 'failed', 'dismissed'], minDuration: 1.5 }), [19, 18, 17]);
    assert.deepEqual(await ids({ maxDuration: 0.35 }, 0, 100, T0 + 1_000_000), [3, 2]);
    assert.deepEqual(await ids({ status: ['running'], minDuration: 0 }, 0, 100, T0 + 21_000), [16, 11, 6, 1]);
    assert.deepEqual(await ids({ status: ['running'], maxDuration: 10 }, 0, 100, T0 + 21_000), [16, 11]);
    const page = await store.list({ status: ['successful'] }, 1, 2);
    assert.deepEqual(
      page.jobs.map((j) => j.jobID),
      ['job-000012', 'job-000007'],
    );
    assert.equal(page.more, true);
    assert.equal((await store.list({ status: ['successful'] }, 2, 2)).more, false);
  });

  withStore('findByStatus returns the jobs in those states', async (store) => {
    await store.create(makeJob(1, { status: 'running' }));
    await store.create(makeJob(2, { status: 'successful' }));
    await store.create(makeJob(3));
    assert.deepEqual((await store.findByStatus(['accepted', 'running'])).map((j) => j.jobID).sort(), ['job-000001', 'job-000003']);
    assert.deepEqual(await store.findByStatus(['failed']), []);
  });

  withStore('concurrent creates and updates are all kept', async (store) => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.create(makeJob(i))));
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.update(makeJob(i).jobID, { progress: i })));
    assert.equal(await store.count(), 200);
    for (const i of [0, 57, 199]) assert.equal((await store.get(makeJob(i).jobID))!.progress, i);
    assert.equal((await store.list({}, 0, 1000)).jobs.length, 200);
  });
}
