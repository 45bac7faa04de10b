import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { JobStore } from '../store.js';
import { LowdbJobStore } from './lowdb.js';
import { MemoryJobStore } from './memory.js';
import { RedisJobStore } from './redis.js';

/** The job store named by `manager.name` in the config. */
export function createJobStore(manager: Config['manager'], log?: Logger): JobStore {
  switch (manager.name) {
    case 'memory':
      return new MemoryJobStore();
    case 'lowdb':
      return new LowdbJobStore(manager.connection, log);
    case 'bullmq':
      return new RedisJobStore(manager.connection, manager.prefix, log);
  }
}
