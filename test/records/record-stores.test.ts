import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordStore } from '../../src/records/record-store.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { MemoryRecordStore } from '../../src/records/stores/memory.js';
import { RedisRecordStore } from '../../src/records/stores/redis.js';
import { skipUnlessRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { after, before } from 'node:test';
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
}
