// A full disk (a real tmpfs filled to the last page): a failed write changes nothing, in memory or on
// disk, and says why (507); once space is back, writes go on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../src/errors.js';
import { LowdbJobStore } from '../../src/manager/stores/lowdb.js';
import { RECORD_KINDS } from '../../src/records/kinds.js';
import { Datastore } from '../../src/records/stored-data.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { makeJob } from '../manager/job-store.suite.js';
import { mountSmallDisk, skipUnlessMount } from '../helpers/small-disk.js';

const skip = skipUnlessMount();
const isFull = (e: unknown) => e instanceof ApiError && e.kind === 'insufficient-storage' && e.status === 507;

test('job store: with the disk full, create and update fail with 507 and leave memory and disk as they were', { skip }, async () => {
  const disk = mountSmallDisk(512);
  try {
    const store = new LowdbJobStore(disk.dir);
    await store.open();
    await store.create(makeJob(1));
    const before = await readFile(path.join(disk.dir, 'jobs-000001.json'), 'utf8');
    await disk.fill();
    await assert.rejects(store.create(makeJob(2)), isFull);
    await assert.rejects(store.update('job-000001', { status: 'failed' }), isFull);
    await assert.rejects(store.delete('job-000001'), isFull);
    // Nothing changed: not in memory...
    assert.equal(await store.get('job-000002'), undefined);
    assert.equal(await store.count(), 1);
    assert.equal((await store.get('job-000001'))!.status, 'accepted');
    assert.deepEqual(
      (await store.list({}, 0, 10)).jobs.map((j) => j.jobID),
      ['job-000001'],
    );
    // ...nor on disk, and no temp file left behind.
    assert.equal(await readFile(path.join(disk.dir, 'jobs-000001.json'), 'utf8'), before);
    assert.deepEqual((await readdir(disk.dir)).sort(), ['filler', 'jobs-000001.json']);
    await disk.free();
    await store.create(makeJob(2));
    await store.update('job-000001', { status: 'running' });
    await store.close();
    const again = new LowdbJobStore(disk.dir);
    await again.open();
    assert.equal(await again.count(), 2);
    assert.equal((await again.get('job-000001'))!.status, 'running');
    await again.close();
  } finally {
    disk.unmount();
  }
});

test('stored data: with the disk full, create and update fail with 507 and change nothing', { skip }, async () => {
  const disk = mountSmallDisk(512);
  try {
    const store = new LowdbRecordStore(disk.dir);
    await store.open(RECORD_KINDS);
    const ds = new Datastore(store);
    const a = await ds.create({ name: 'A', type: 'T', status: 'READY' });
    await disk.fill();
    await assert.rejects(ds.create({ name: 'B', type: 'T' }), isFull);
    await assert.rejects(ds.update(a._id, { status: 'DELETED' }), isFull);
    assert.deepEqual(
      (await ds.list()).map((s) => [s.name, s.status]),
      [['A', 'READY']],
    );
    // createForWrite released its write lock when the create failed.
    await assert.rejects(ds.createForWrite({ _id: 'fixed', name: 'C', type: 'T' }), isFull);
    assert.equal(await ds.deletionBlocker(a._id), undefined);
    await disk.free();
    await ds.createForWrite({ _id: 'fixed', name: 'C', type: 'T' }).then(({ release }) => release());
    await store.close();
    const again = new LowdbRecordStore(disk.dir);
    await again.open(RECORD_KINDS);
    assert.deepEqual(
      (await new Datastore(again).list()).map((s) => s.name),
      ['A', 'C'],
    );
    await again.close();
  } finally {
    disk.unmount();
  }
});

test('API: an async submission on a full disk gets a 507 problem and no job appears; once space is back, 201', { skip }, async () => {
  const disk = mountSmallDisk(2048);
  const { startTestServer, execute } = await import('../helpers/server.js');
  const s = await startTestServer({ dir: disk.dir });
  try {
    await disk.fill();
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' } }, { Prefer: 'respond-async' });
    assert.equal(res.status, 507);
    assert.match(res.headers.get('content-type') ?? '', /json/);
    const problem = (await res.json()) as { status: number; title: string; detail: string };
    assert.equal(problem.status, 507);
    assert.match(problem.detail, /no disk space left/);
    assert.doesNotMatch(JSON.stringify(problem), /ENOSPC|jobs-0000/);
    const jobs = (await (await fetch(`${s.url}/jobs`)).json()) as { jobs: unknown[] };
    assert.equal(jobs.jobs.length, 0);
    await disk.free();
    const ok = await execute(s.url, 'echo', { inputs: { stringInput: 'x' } }, { Prefer: 'respond-async' });
    assert.equal(ok.status, 201);
  } finally {
    await s.stop();
    disk.unmount();
  }
});
