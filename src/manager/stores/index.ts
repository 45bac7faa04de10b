import type { Config } from '../../config.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../../log.js';
import type { JobStore } from '../store.js';
import { LowdbJobStore } from './lowdb.js';
import { MemoryJobStore } from './memory.js';
import { RedisJobStore } from './redis.js';

/** The job store named by `manager.name` in the config; bullmq: on `redis` when given (shared, not closed by the store). */
export function createJobStore(manager: Config['manager'], log?: Logger, redis?: Redis): JobStore {
  switch (manager.name) {
    case 'memory':
      return new MemoryJobStore();
    case 'lowdb':
      return new LowdbJobStore(manager.connection, log);
    case 'bullmq':
      return new RedisJobStore(redis ?? manager.connection, manager.prefix, log);
  }
}
