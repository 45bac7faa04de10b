// The stored data facade over each record store: dependencies, locks, name reservations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiError } from '../../src/errors.js';
import { RECORD_KINDS } from '../../src/records/kinds.js';
import type { RecordStore } from '../../src/records/record-store.js';
import { Datastore } from '../../src/records/stored-data.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { MemoryRecordStore } from '../../src/records/stores/memory.js';

const stores: Array<{ name: string; make(dir: string): RecordStore }> = [
  { name: 'memory', make: () => new MemoryRecordStore() },
  { name: 'lowdb', make: (dir) => new LowdbRecordStore(dir) },
];

for (const { name, make } of stores) {
  const withDatastore = (title: string, fn: (ds: Datastore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-datastore-'));
      const store = make(dir);
      try {
        await store.open(RECORD_KINDS);
        await fn(new Datastore(store));
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

  withDatastore('createForWrite: the record is write-locked from the moment it can be seen', async (ds) => {
    const pending = ds.createForWrite({ name: 'P', type: 'ROK4-PYRAMID-RASTER' });
    let settled = false;
    void pending.then(() => (settled = true));
    // Watch every turn until it resolves: whenever the record is visible, a DELETE gets a 409.
    let seen = 0;
    while (!settled) {
      for (const s of await ds.list({ name: 'P' })) {
        seen++;
        assert.equal(s.status, 'GENERATING');
        assert.match((await ds.deletionBlocker(s._id)) ?? '', /being written by a job/);
      }
      await new Promise((r) => setImmediate(r));
    }
    const { record, release } = await pending;
    assert.match((await ds.deletionBlocker(record._id)) ?? '', /being written by a job/);
    await assert.rejects(ds.lockForWrite(record._id), (e: unknown) => e instanceof ApiError && e.kind === 'conflict');
    release();
    assert.equal(await ds.deletionBlocker(record._id), undefined);
    void seen;
  });

  withDatastore('dependencies: use and used_by (live users only); a used record cannot be deleted', async (ds) => {
    const base = await ds.create({ name: 'base', type: 'ROK4-PYRAMID-RASTER', status: 'READY' });
    const child = await ds.create({ name: 'child', type: 'ROK4-PYRAMID-RASTER', use: [base._id], status: 'READY' });
    await ds.create({ name: 'failed', type: 'ROK4-PYRAMID-RASTER', use: [base._id], status: 'FAILED' });
    assert.deepEqual(await ds.dependencies(child._id), { use: [{ _id: base._id, name: 'base' }], used_by: [] });
    assert.deepEqual((await ds.dependencies(base._id)).used_by, [{ _id: child._id, name: 'child' }]);
    assert.match((await ds.deletionBlocker(base._id)) ?? '', /is used by 'child'/);
    await ds.update(child._id, { status: 'DELETED' });
    assert.equal(await ds.deletionBlocker(base._id), undefined);
    await assert.rejects(ds.require(child._id), (e: unknown) => e instanceof ApiError && e.kind === 'not-found');
  });

  withDatastore('read locks block deletion until released', async (ds) => {
    const r = await ds.create({ name: 'r', type: 'T', status: 'READY' });
    const release = await ds.lockForRead([r._id]);
    assert.match((await ds.deletionBlocker(r._id)) ?? '', /read by 1 submitted/);
    release();
    assert.equal(await ds.deletionBlocker(r._id), undefined);
  });

  withDatastore('reserveName: one of two concurrent submissions gets the name; none when a live record has it', async (ds) => {
    const both = await Promise.all([ds.reserveName('N'), ds.reserveName('N')]);
    assert.equal(both.filter(Boolean).length, 1);
    both.find(Boolean)!();
    await ds.create({ name: 'N', type: 'T', status: 'READY' });
    assert.equal(await ds.reserveName('N'), undefined);
    assert.ok(await ds.reserveName('M'));
  });

  withDatastore("commit turns READY only a record still GENERATING for its job; a retaken run drops the stalled run's", async (ds) => {
    // Job J's first run wrote a record; its worker then stalled past its lease (its write lock stops counting).
    const lost = await ds.forRun('J').createForWrite({ name: 'P', type: 'ROK4-PYRAMID-RASTER', jobId: 'J' });
    assert.equal(await ds.reserveName('P'), undefined, 'a live writer has the name');
    lost.release();
    // J's retaken run takes the name: the stalled run's record is dropped.
    const again = ds.forRun('J');
    const release = await again.reserveName('P');
    assert.ok(release, 'the retaken run gets the name');
    assert.equal((await ds.get(lost.record._id))!.status, 'DELETED');
    assert.equal(await ds.writing(lost.record._id, 'J'), false);
    // The stalled run, resumed, cannot commit, nor mark its failure: its record stays DELETED, never READY again.
    assert.equal(await ds.commit(lost.record._id, 'J', { size: 1 }), undefined);
    assert.equal(await ds.settle(lost.record._id, 'J', { status: 'FAILED', message: 'late' }), undefined);
    assert.deepEqual(
      [(await ds.get(lost.record._id))!.status, (await ds.get(lost.record._id))!.message],
      ['DELETED', 'the job writing it stopped before it ended (its worker died or stalled past its lease)'],
    );
    // The retaken run's own record commits; not for another job, and only once.
    const own = await again.createForWrite({ name: 'P', type: 'ROK4-PYRAMID-RASTER', jobId: 'J' });
    assert.equal(await ds.writing(own.record._id, 'J'), true);
    assert.equal(await ds.commit(own.record._id, 'K', { size: 2 }), undefined);
    const ready = await ds.commit(own.record._id, 'J', { size: 2 });
    assert.deepEqual([ready?.status, ready?.size], ['READY', 2]);
    assert.equal(await ds.commit(own.record._id, 'J', { size: 3 }), undefined, 'READY already');
    assert.deepEqual(
      (await ds.list({ status: 'READY' })).map((r) => r._id),
      [own.record._id],
    );
    // A run that failed settles its own GENERATING record.
    const failing = await ds.forRun('F').createForWrite({ name: 'Q', type: 'ROK4-PYRAMID-RASTER', jobId: 'F' });
    assert.equal((await ds.settle(failing.record._id, 'F', { status: 'FAILED', message: 'boom' }))?.status, 'FAILED');
    failing.release();
    own.release();
    release();
  });

  withDatastore('list filters by type, status and part of the name; findByName skips DELETED', async (ds) => {
    await ds.create({ name: 'alpha', type: 'A', status: 'READY' });
    const b = await ds.create({ name: 'beta', type: 'B', status: 'READY' });
    await ds.create({ name: 'alphabet', type: 'A', status: 'FAILED' });
    assert.deepEqual(
      (await ds.list({ name: 'alpha' })).map((s) => s.name),
      ['alpha', 'alphabet'],
    );
    assert.deepEqual(
      (await ds.list({ type: 'A', status: 'READY' })).map((s) => s.name),
      ['alpha'],
    );
    await ds.update(b._id, { status: 'DELETED' });
    assert.equal(await ds.findByName('beta'), undefined);
    assert.equal((await ds.findByName('alpha', 'A'))!.name, 'alpha');
    await assert.rejects(ds.update('absent', { size: 1 }));
  });
}
