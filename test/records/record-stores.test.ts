import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordStore } from '../../src/records/record-store.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { MemoryRecordStore } from '../../src/records/stores/memory.js';
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
