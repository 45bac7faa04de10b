import type { Config } from '../../config.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../../log.js';
import type { RecordStore } from '../record-store.js';
import { LowdbRecordStore } from './lowdb.js';
import { MemoryRecordStore } from './memory.js';
import { LEASE_MS, RedisRecordStore } from './redis.js';

/**
 * The record store that goes with the job store named by `manager.name`: records live beside the jobs.
 * bullmq: on `redis` when given (shared, not closed by the store).
 */
export function createRecordStore(manager: Config['manager'], log?: Logger, redis?: Redis): RecordStore {
  switch (manager.name) {
    case 'memory':
      return new MemoryRecordStore();
    case 'lowdb':
      return new LowdbRecordStore(manager.connection, log);
    case 'bullmq':
      // A dead process's locks expire before BullMQ hands its job to another worker (stalled_seconds), so
      // the retaken job finds its name and inputs free.
      return new RedisRecordStore(redis ?? manager.connection, manager.prefix, log, {
        leaseMs: Math.min(LEASE_MS, manager.stalled_seconds * 500),
      });
  }
}
