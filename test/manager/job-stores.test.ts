import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JobStore } from '../../src/manager/store.js';
import { LowdbJobStore } from '../../src/manager/stores/lowdb.js';
import { MemoryJobStore } from '../../src/manager/stores/memory.js';
import { RedisJobStore } from '../../src/manager/stores/redis.js';
import { skipUnlessRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { jobStoreSuite, makeJob } from './job-store.suite.js';

jobStoreSuite({
  name: 'memory',
  async open() {
    const s = new MemoryJobStore();
    await s.open();
    return s;
  },
  async dispose(s) {
    await s.close();
  },
});

const lowdbDirs = new WeakMap<JobStore, string>();
jobStoreSuite({
  name: 'lowdb',
  async open() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-store-'));
    const s = new LowdbJobStore(dir);
    await s.open();
    lowdbDirs.set(s, dir);
    return s;
  },
  async dispose(s) {
    await s.close();
    await rm(lowdbDirs.get(s)!, { recursive: true, force: true });
  },
});

/** Runs `fn` with a temp folder for a lowdb store, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-store-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function reopen(dir: string): Promise<LowdbJobStore> {
  const s = new LowdbJobStore(dir);
  await s.open();
  return s;
}

/** Every job found in the segment files, read without lowdb. */
async function jobsOnDisk(dir: string): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for (const f of (await readdir(dir)).filter((n) => /^jobs-\d{6}\.json$/.test(n))) {
    const data = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { jobs: Array<Record<string, unknown>> };
    for (const j of data.jobs) found.set(j.jobID as string, j);
  }
  return found;
}

test('lowdb: jobs, updates and deletes persist across reopen, order and filters included', () =>
  inTempDir(async (dir) => {
    const a = await reopen(dir);
    for (let i = 1; i <= 5; i++) await a.create(makeJob(i));
    await a.update('job-000002', { status: 'successful', progress: 100 });
    await a.delete('job-000004');
    await a.close();
    const b = await reopen(dir);
    assert.equal(await b.count(), 4);
    assert.deepEqual(
      (await b.list({}, 0, 10)).jobs.map((j) => j.jobID),
      ['job-000005', 'job-000003', 'job-000002', 'job-000001'],
    );
    assert.deepEqual(await b.get('job-000002'), { ...makeJob(2), status: 'successful', progress: 100 });
    assert.deepEqual(
      (await b.findByStatus(['successful'])).map((j) => j.jobID),
      ['job-000002'],
    );
    await b.close();
  }));

test('lowdb: a job is on disk when create() resolves (stored before the 201)', () =>
  inTempDir(async (dir) => {
    const s = await reopen(dir);
    await s.create(makeJob(7));
    assert.deepEqual((await jobsOnDisk(dir)).get('job-000007'), makeJob(7) as unknown as Record<string, unknown>);
    await s.update('job-000007', { status: 'running' });
    assert.equal((await jobsOnDisk(dir)).get('job-000007')!.status, 'running');
    await s.close();
  }));

test('lowdb: segments roll over past 1000 jobs; each file stays bounded; all reload', () =>
  inTempDir(async (dir) => {
    const s = await reopen(dir);
    for (let i = 0; i < 2500; i += 250) await Promise.all(Array.from({ length: 250 }, (_, k) => s.create(makeJob(i + k))));
    await s.close();
    const files = (await readdir(dir)).filter((n) => /^jobs-\d{6}\.json$/.test(n)).sort();
    assert.deepEqual(files, ['jobs-000001.json', 'jobs-000002.json', 'jobs-000003.json']);
    const sizes = await Promise.all(
      files.map(async (f) => (JSON.parse(await readFile(path.join(dir, f), 'utf8')) as { jobs: unknown[] }).jobs.length),
    );
    assert.deepEqual(sizes, [1000, 1000, 500]);
    const r = await reopen(dir);
    assert.equal(await r.count(), 2500);
    const page = await r.list({}, 0, 3);
    assert.deepEqual(
      page.jobs.map((j) => j.jobID),
      ['job-002499', 'job-002498', 'job-002497'],
    );
    // An update to an old job rewrites its own segment.
    await r.update('job-000003', { status: 'failed' });
    await r.close();
    assert.equal((await jobsOnDisk(dir)).get('job-000003')!.status, 'failed');
    assert.equal((await jobsOnDisk(dir)).size, 2500);
  }));

test('lowdb: concurrent creates are all durable (a new store on the folder sees every one)', () =>
  inTempDir(async (dir) => {
    const s = await reopen(dir);
    await Promise.all(Array.from({ length: 1500 }, (_, i) => s.create(makeJob(i))));
    // Read back from disk before close(): each create resolved only once flushed.
    assert.equal((await jobsOnDisk(dir)).size, 1500);
    const other = await reopen(dir);
    assert.equal(await other.count(), 1500);
    await other.close();
    await s.close();
  }));

// The Redis store (issue 14) against a real redis-server, one for the whole file; each test its own prefix.
{
  const skip = skipUnlessRedis();
  let redis: TestRedis | undefined;
  let n = 0;
  if (!skip) {
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await redis?.dispose();
    });
  }
  jobStoreSuite({
    name: 'redis',
    skip,
    async open() {
      const s = new RedisJobStore(redis!.url, `test${++n}`);
      await s.open();
      return s;
    },
    async dispose(s) {
      await s.close();
    },
  });
}

test('redis: two stores on one Redis (two servers) see the same jobs; a Redis restart keeps them (AOF)', {
  skip: skipUnlessRedis(),
}, async () => {
  const redis = await startRedis();
  try {
    const a = new RedisJobStore(redis.url, 'shared');
    const b = new RedisJobStore(redis.url, 'shared');
    const other = new RedisJobStore(redis.url, 'another');
    await Promise.all([a.open(), b.open(), other.open()]);
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).create(makeJob(i))));
    await assert.rejects(b.create(makeJob(3)));
    await a.update('job-000004', { status: 'running' });
    assert.equal((await b.get('job-000004'))!.status, 'running');
    assert.equal(await b.count(), 50);
    assert.equal(await other.count(), 0);
    await redis.restart();
    assert.equal(await a.count(), 50);
    assert.deepEqual(
      (await b.findByStatus(['running'])).map((j) => j.jobID),
      ['job-000004'],
    );
    assert.deepEqual(
      (await a.list({}, 0, 2)).jobs.map((j) => j.jobID),
      ['job-000049', 'job-000048'],
    );
    await Promise.all([a.close(), b.close(), other.close()]);
  } finally {
    await redis.dispose();
  }
});
