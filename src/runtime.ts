import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Config } from './config.js';
import { Datastore } from './datastore/datastore.js';
import { createLogger, silentLogger, type Logger } from './log.js';
import { JobManager } from './manager/manager.js';
import { createJobStore } from './manager/stores/index.js';
import type { JobStore } from './manager/store.js';
import { ProcessRegistry } from './process/registry.js';
import { FileStorage } from './storage/file.js';
import type { Storage } from './storage/storage.js';
import { PiscinaPool, type WorkerPool } from './workers/pool.js';

/** Everything the API handlers use, built once from the config. */
export interface Runtime {
  config: Config;
  registry: ProcessRegistry;
  manager: JobManager;
  store: JobStore;
  storage: Storage;
  datastore: Datastore;
  pool: WorkerPool;
  log: Logger;
  close(): Promise<void>;
}

/**
 * @param overrides.datastoreFile where stored data records persist; default: beside the lowdb jobs,
 *   in memory with the memory job store.
 */
export async function createRuntime(config: Config, overrides: { log?: Logger; store?: JobStore; datastoreFile?: string } = {}): Promise<Runtime> {
  const log = overrides.log ?? (config.logging.enabled ? createLogger({}) : silentLogger);
  const registry = await ProcessRegistry.load(config);
  // The input folders exist from the start, so that users know where to drop files for file: hrefs.
  for (const root of config.security.input_roots) await mkdir(root, { recursive: true }).catch(() => {});
  const store = overrides.store ?? createJobStore(config.manager);
  await store.open();
  const storage = new FileStorage(config.storage.path);
  const datastore = new Datastore(overrides.datastoreFile ?? (config.manager.name === 'memory' ? undefined : path.join(config.manager.connection, 'stored-data.json')));
  await datastore.open();
  const pool = new PiscinaPool(config.pool);
  const manager = new JobManager({ store, storage, datastore, pool, log, config });
  const recovered = await manager.recover();
  if (recovered) log.warn('jobs interrupted by the previous run were marked failed', { count: recovered });
  return {
    config, registry, manager, store, storage, datastore, pool, log,
    async close() {
      await manager.close();
      await store.close();
      await pool.destroy();
    },
  };
}
