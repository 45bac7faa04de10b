import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordStore } from '../../src/records/record-store.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { MemoryRecordStore } from '../../src/records/stores/memory.js';
import { RedisRecordStore } from '../../src/records/stores/redis.js';
import { skipUnlessRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { recordStoreSuite } from './record-store.suite.js';

recordStoreSuite({
  name: 'memory',
  async open(kinds) {
    const s = new MemoryRecordStore();
    await s.open();
    void kinds;
    return s;
  },
  async dispose(s) {
    await s.close();
  },
});

const dirs = new WeakMap<RecordStore, string>();
recordStoreSuite({
  name: 'lowdb',
  async open(kinds) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-records-'));
    const s = new LowdbRecordStore(dir);
    await s.open(kinds);
    dirs.set(s, dir);
    return s;
  },
  async reopen(store, kinds) {
    await store.close();
    const dir = dirs.get(store)!;
    const s = new LowdbRecordStore(dir);
    await s.open(kinds);
    dirs.set(s, dir);
    return s;
  },
  async dispose(s) {
    await s.close();
    await rm(dirs.get(s)!, { recursive: true, force: true });
  },
});

// The Redis store (issue 14) against a real redis-server, one for the whole file; each test its own prefix.
{
  const skip = skipUnlessRedis();
  let redis: TestRedis | undefined;
  let n = 0;
  const prefixes = new WeakMap<RecordStore, string>();
  if (!skip) {
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await redis?.dispose();
    });
  }
  recordStoreSuite({
    name: 'redis',
    skip,
    async open() {
      const prefix = `test${++n}`;
      const s = new RedisRecordStore(redis!.url, prefix);
      await s.open();
      prefixes.set(s, prefix);
      return s;
    },
    async reopen(store) {
      await store.close();
      const prefix = prefixes.get(store)!;
      const s = new RedisRecordStore(redis!.url, prefix);
      await s.open();
      prefixes.set(s, prefix);
      return s;
    },
    async dispose(s) {
      await s.close();
    },
  });

  test('redis locks: what a process held stops counting when its lease expires (a killed worker), not before', { skip }, async () => {
    const prefix = `lease${++n}`;
    // "Killed": its connection is cut without a release or a close, so its lease is never renewed again.
    const dying = new RedisRecordStore(redis!.url, prefix, undefined, { leaseMs: 600 });
    const alive = new RedisRecordStore(redis!.url, prefix, undefined, { leaseMs: 600 });
    await dying.open();
    await alive.open();
    try {
      assert.ok(await dying.locks.reserve('stored_data', 'NAME'));
      assert.ok(await dying.locks.write('w'));
      await dying.locks.read(['r']);
      assert.equal(await alive.locks.reserve('stored_data', 'NAME'), undefined);
      assert.deepEqual(await alive.locks.holders('w'), { readers: 0, writer: true });
      assert.deepEqual(await alive.locks.holders('r'), { readers: 1, writer: false });
      assert.equal(await alive.locks.write('r'), undefined, 'a live reader blocks a writer');
      (dying as unknown as { leases: { stop(): void } }).leases.stop = () => {};
      clearInterval((dying as unknown as { leases: { renewal: NodeJS.Timeout } }).leases.renewal);
      // Still held while the lease runs; `alive` renews its own all along.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await alive.locks.reserve('stored_data', 'NAME'), undefined);
      await new Promise((r) => setTimeout(r, 700));
      const name = await alive.locks.reserve('stored_data', 'NAME');
      assert.ok(name, 'the name is free once the dead holder’s lease expired');
      assert.deepEqual(await alive.locks.holders('w'), { readers: 0, writer: false });
      assert.deepEqual(await alive.locks.holders('r'), { readers: 0, writer: false });
      assert.ok(await alive.locks.write('r'));
      // Released by its taker only: the dead holder's late release would not drop it.
      name();
      assert.ok(await alive.locks.reserve('stored_data', 'NAME'));
    } finally {
      await alive.close();
      await dying.close();
    }
  });

  test('redis locks for a run: a worker preparing a job takes over what the server holds for it; others are refused', {
    skip,
  }, async () => {
    const prefix = `run${++n}`;
    const server = new RedisRecordStore(redis!.url, prefix);
    const worker = new RedisRecordStore(redis!.url, prefix);
    await server.open();
    await worker.open();
    try {
      const job = 'job-1';
      const serverName = await server.locks.forRun(job).reserve('stored_data', 'NAME');
      const serverRead = await server.locks.forRun(job).read(['upload-1', 'upload-2']);
      assert.ok(serverName);
      // Another job, or no job, is refused the name while the server holds it.
      assert.equal(await worker.locks.forRun('job-2').reserve('stored_data', 'NAME'), undefined);
      assert.equal(await worker.locks.reserve('stored_data', 'NAME'), undefined);
      // The worker prepares the same job: takes both over (one reader, not two).
      const workerName = await worker.locks.forRun(job).reserve('stored_data', 'NAME');
      const workerRead = await worker.locks.forRun(job).read(['upload-1', 'upload-2']);
      assert.ok(workerName);
      assert.deepEqual(await server.locks.holders('upload-1'), { readers: 1, writer: false });
      // The server's late releases drop nothing of the worker's.
      serverName();
      serverRead();
      assert.equal(await server.locks.reserve('stored_data', 'NAME'), undefined);
      assert.deepEqual(await server.locks.holders('upload-2'), { readers: 1, writer: false });
      // A reader of another run is counted beside it; the job's end frees its own.
      const other = await server.locks.forRun('job-3').read(['upload-1']);
      assert.deepEqual(await server.locks.holders('upload-1'), { readers: 2, writer: false });
      workerName();
      workerRead();
      other();
      // A release is sent without waiting for an answer, on its own store's connection: Redis orders commands
      // per connection only, so the server's next read may come before the worker's releases (seen under load).
      let holders = await server.locks.holders('upload-1');
      for (let k = 0; k < 40 && holders.readers > 0; k++) {
        await new Promise((r) => setTimeout(r, 50));
        holders = await server.locks.holders('upload-1');
      }
      assert.deepEqual(holders, { readers: 0, writer: false });
      assert.ok(await server.locks.reserve('stored_data', 'NAME'));
    } finally {
      await worker.close();
      await server.close();
    }
  });
}
