import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Config } from './config.js';
import { createLogger, silentLogger, type Logger } from './log.js';
import { JobManager } from './manager/manager.js';
import type { BullmqParts } from './manager/bullmq-parts.js';
import { connectRedis, keyOf } from './redis/connection.js';
import { RedisItemLog } from './catalog/redis-item-log.js';
import type { BullmqExecution } from './manager/bullmq-queue.js';
import { removeOrphanExecFolders } from './manager/exec-folders.js';
import { jobLinks } from './api/job-links.js';
import { createJobStore } from './manager/stores/index.js';
import type { JobStore } from './manager/store.js';
import { ProcessRegistry } from './process/registry.js';
import { recoverInterruptedProducts } from './pyramid/recovery.js';
import { RECORD_KINDS } from './records/kinds.js';
import type { RecordStore } from './records/record-store.js';
import { Datastore } from './records/stored-data.js';
import { createRecordStore } from './records/stores/index.js';
import { createStorages } from './storage/factory.js';
import type { Storage } from './storage/storage.js';
import { CatalogItemStore } from './catalog/item-store.js';
import { recoverCatalogs } from './catalog/catalog.js';
import { PiscinaPool, type WorkerPool } from './workers/pool.js';
import { Publisher } from './publication/publisher.js';
import { UploadFiles } from './uploads/upload-files.js';
import { Uploads } from './uploads/uploads.js';
import { LayerRegistry } from './services/layer-registry.js';

/** Everything the API handlers use, built once from the config. */
export interface Runtime {
  config: Config;
  registry: ProcessRegistry;
  manager: JobManager;
  store: JobStore;
  /** The default storage (config `default_storage`): job results, uploads, catalogs, products by default. */
  storage: Storage;
  /** Every configured storage by name (issue 13), the default one included. */
  storages: ReadonlyMap<string, Storage>;
  /** Every kind of record (stored data…), and their locks. */
  records: RecordStore;
  datastore: Datastore;
  /** Items of raster catalogs (issue 12), beside the records: a SQLite file with lowdb, in memory otherwise. */
  catalogItems: CatalogItemStore;
  pool: WorkerPool;
  log: Logger;
  /** What the tile services serve now (issue 10); changed only by the publisher. */
  layers: LayerRegistry;
  /** Configurations and offerings. */
  publisher: Publisher;
  /** The files of deliveries (issue 11). */
  uploadFiles: UploadFiles;
  /** Deliveries: records, locks and the state of their checks (issue 11). */
  uploads: Uploads;
  /**
   * Repairs what a previous process killed mid-work left behind (DESIGN §5): jobs left accepted/running
   * are failed, saying so; stored data left GENERATING is failed, its files removed; temp folders of
   * processes that no longer run are removed. Run once at start-up, with the data folders locked
   * (src/folder-lock.ts) and the port bound (src/server.ts).
   */
  recover(): Promise<void>;
  close(): Promise<void>;
}

/**
 * @param overrides.records where records (stored data…) persist; default: beside the jobs (in memory
 *   with the memory job store, in the lowdb folder with lowdb).
 * @param overrides.baseUrl the public base URL of links the manager sends (callbacks), read at each
 *   use; default: `server.url`.
 */
/** How long a bullmq server's request waits for Redis before answering 503 (a restart takes about a second). */
const STORE_TIMEOUT_MS = 5000;

export async function createRuntime(
  config: Config,
  overrides: { log?: Logger; store?: JobStore; records?: RecordStore; baseUrl?: () => string; worker?: { name: string } } = {},
): Promise<Runtime> {
  const log = overrides.log ?? (config.logging.enabled ? createLogger({}) : silentLogger);
  const registry = await ProcessRegistry.load(config);
  // The input folders exist from the start, so that users know where to drop files for file: hrefs.
  for (const root of config.security.input_roots) await mkdir(root, { recursive: true }).catch(() => {});
  // The storages first: an S3 bucket that cannot be used stops the start-up before any store is opened.
  const storages = await createStorages(config);
  const storage = storages.get(config.default_storage)!;
  // A bullmq server's stores answer within STORE_TIMEOUT_MS or fail (a 503 to the client) while Redis is
  // away; a worker's wait for Redis to come back (its running jobs go on: issue 14, faults).
  const serverRedis =
    config.manager.name === 'bullmq' && !overrides.worker
      ? connectRedis(config.manager.connection, log, { commandTimeout: STORE_TIMEOUT_MS })
      : undefined;
  const store = overrides.store ?? createJobStore(config.manager, log, serverRedis);
  await store.open();
  const records = overrides.records ?? createRecordStore(config.manager, log, serverRedis);
  await records.open(RECORD_KINDS);
  const datastore = new Datastore(records);
  // Items beside the jobs (lowdb); with bullmq, in the storage's local folder that the servers and workers of
  // one machine share (SQLite in WAL mode serves several processes); in memory for the memory manager.
  // Machines share the items through a Redis stream that each one replays into its file (issue 14); a
  // worker's own connection waits for Redis as its other stores do.
  let itemsRedis: ReturnType<typeof connectRedis> | undefined;
  let catalogItems: CatalogItemStore;
  if (config.manager.name === 'bullmq') {
    itemsRedis = serverRedis ?? connectRedis(config.manager.connection, log);
    catalogItems = new CatalogItemStore(
      path.join(config.storage.path, '.catalog-items', 'catalog-items.sqlite'),
      new RedisItemLog(itemsRedis, keyOf(config.manager.prefix, 'catalog-items')),
    );
  } else
    catalogItems = new CatalogItemStore(
      config.manager.name === 'lowdb' ? path.join(config.manager.connection, 'catalog-items.sqlite') : ':memory:',
    );
  const pool = new PiscinaPool(config.pool, log);
  const baseUrl = overrides.baseUrl ?? (() => config.server.url);
  const layers = new LayerRegistry(config.server.limits.tile_cache_bytes);
  const named = { storages, defaultStorage: config.default_storage };
  const publisher = new Publisher({ records, datastore, storage, named, layers, tmsFolders: config.tms_folders, log, catalogItems });
  // Parts inside the local storage folder (a FILE storage's root: a finished file becomes visible by a
  // rename, not a copy; on S3, the local working folder from which finished files are uploaded).
  const uploadFiles = new UploadFiles(storage, path.join(config.storage.path, '.upload-parts'));
  const uploads = new Uploads(records, uploadFiles, storage, log);
  // The bullmq manager (issue 14): a server hands executions to the queue; a worker (overrides.worker) runs them.
  let remote: BullmqExecution | undefined;
  if (config.manager.name === 'bullmq' && !overrides.worker) {
    // bullmq is imported only by the processes that use it (start-up time of the others).
    const { BullmqExecution } = await import('./manager/bullmq-queue.js');
    remote = new BullmqExecution(config.manager, log);
    await remote.open();
  }
  // A worker cuts big executions into parts any worker takes (issue 14, split pyramids).
  let parts: BullmqParts | undefined;
  if (config.manager.name === 'bullmq' && overrides.worker && config.manager.split_slabs > 0) {
    const { BullmqParts } = await import('./manager/bullmq-parts.js');
    parts = new BullmqParts(config.manager, log);
    await parts.open();
  }
  const manager = new JobManager({
    store,
    storage,
    storages,
    datastore,
    catalogItems,
    uploads,
    pool,
    log,
    config,
    links: jobLinks(() => baseUrl().replace(/\/+$/, '')),
    ...(remote ? { remote } : {}),
    ...(overrides.worker ? { workerName: overrides.worker.name } : {}),
    ...(parts ? { parts } : {}),
  });
  const shared = config.manager.name === 'bullmq';
  return {
    config,
    registry,
    manager,
    store,
    storage,
    storages,
    records,
    datastore,
    catalogItems,
    pool,
    log,
    layers,
    publisher,
    uploadFiles,
    uploads,
    async recover() {
      const recovered = await manager.recover();
      if (recovered) log.warn('jobs interrupted by the previous run were marked failed', { count: recovered });
      // Shared stores (bullmq): a GENERATING product may be a live worker's, not a crash's leftover.
      if (!shared) {
        // Catalogs first: a catalog left GENERATING loses its files and items before its record is failed.
        const catalogFolders = await recoverCatalogs(datastore, storage, catalogItems, log);
        if (catalogFolders) log.warn('partial catalog files of interrupted jobs removed', { count: catalogFolders });
        await recoverInterruptedProducts(datastore, named, log);
        // After the jobs: a close whose check jobs were failed above leaves its upload UNSTABLE.
        const checking = await uploads.recover();
        if (checking) log.warn('uploads whose checks were interrupted are UNSTABLE', { count: checking });
      }
      const folders = await removeOrphanExecFolders();
      if (folders) log.warn('temp folders of interrupted executions removed', { count: folders });
      // Published layers are served again (after the products' repair: a layer reads READY pyramids only).
      const served = await publisher.restore();
      if (served) log.info('published layers served', { count: served });
    },
    async close() {
      await manager.close();
      await parts?.close();
      await store.close();
      await records.close();
      await serverRedis?.quit().catch(() => serverRedis.disconnect());
      if (itemsRedis && itemsRedis !== serverRedis) await itemsRedis.quit().catch(() => itemsRedis.disconnect());
      catalogItems.close();
      await pool.destroy();
    },
  };
}
