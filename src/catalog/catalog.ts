/**
 * A raster catalog as stored data (issue 12, cog.md §1.4): a record of type {@link CATALOG_TYPE} whose
 * files live under one Storage folder, `catalogs/<name>/` (one sub-folder per job that added to it), and
 * whose items live in the {@link CatalogItemStore}, keyed by the record's id.
 */
import type { Logger } from '../log.js';
import type { Datastore, StoredData } from '../records/stored-data.js';
import type { Storage } from '../storage/storage.js';
import type { CatalogItem } from './catalog-item.js';
import type { CatalogItemStore } from './item-store.js';

/** Stored data type of a raster catalog (EverGIS's resource type "RasterCatalog"). */
export const CATALOG_TYPE = 'RASTER-CATALOG';

/** Storage folder of the catalog named `name` (its COGs and files as delivered). */
export function catalogFolder(name: string): string {
  return `catalogs/${name}`;
}

/**
 * The folder one job writes its files into: a failed, dismissed or killed job is undone by removing
 * it whole (temporary `.tmp` files of an interrupted write included), whatever else the catalog holds.
 */
export function jobFolder(name: string, jobId: string): string {
  return `${catalogFolder(name)}/${jobId}`;
}

/** Removes every file and item of a catalog record (a failed first run, or a DELETE). */
export async function deleteCatalog(storage: Storage, items: CatalogItemStore, record: Pick<StoredData, '_id' | 'name'>): Promise<void> {
  await storage.deletePrefix(`${catalogFolder(record.name)}/`);
  await items.deleteCatalog(record._id);
}

/**
 * Undoes a catalog that a failed or dismissed job was creating: its files and items removed, its record
 * DELETED (dismissed) or FAILED with `reason`. Never throws: the job's own error is what its caller reports.
 */
export async function abandonCatalog(
  deps: { storage: Storage; items: CatalogItemStore; datastore: Datastore },
  record: Pick<StoredData, '_id' | 'name'>,
  outcome: { dismissed: boolean; reason: string },
): Promise<void> {
  await deleteCatalog(deps.storage, deps.items, record).catch(() => {});
  await deps.datastore
    .update(record._id, {
      status: outcome.dismissed ? 'DELETED' : 'FAILED',
      message: outcome.dismissed ? 'the job was dismissed' : outcome.reason,
      size: 0,
    })
    .catch(() => {});
}

const chains = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier call for the same catalog has ended: adding items and writing the
 * record's totals happen in one order, so the record never keeps the totals of an earlier add.
 */
export async function withCatalogLock<T>(catalogId: string, fn: () => Promise<T>): Promise<T> {
  const previous = chains.get(catalogId) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => {});
  chains.set(catalogId, tail);
  try {
    return await run;
  } finally {
    if (chains.get(catalogId) === tail) chains.delete(catalogId);
  }
}

/**
 * Start-up repair of catalogs (issue 12, DESIGN §5), before any job runs: the folder of every job that
 * registered a write and never committed it (killed mid-file) is removed, and so are the files and
 * items of a catalog whose first run was interrupted (its record, GENERATING, is then failed by
 * the products' recovery). Items of an older layout kept in `type_infos.items` move into the store.
 * Returns the number of folders removed.
 */
export async function recoverCatalogs(datastore: Datastore, storage: Storage, items: CatalogItemStore, log: Logger): Promise<number> {
  let removed = 0;
  // What the log holds is committed (issue 14): a job killed after its append, before applying it here,
  // ended its folder's registration there; applied now, that folder is kept.
  await items.sync();
  for (const w of items.pendingWrites()) {
    await storage.deletePrefix(`${w.folder}/`);
    items.endWrite(w.folder);
    removed++;
    log.warn('files of a catalog job interrupted by the previous run removed', { folder: w.folder, jobId: w.jobId });
  }
  for (const record of await datastore.list({ type: CATALOG_TYPE })) {
    if (record.status === 'GENERATING') {
      await deleteCatalog(storage, items, record);
      removed++;
      continue;
    }
    const legacy = record.type_infos.items as CatalogItem[] | undefined;
    if (Array.isArray(legacy)) {
      const folder = `${catalogFolder(record.name)}/legacy`;
      items.beginWrite({ catalogId: record._id, folder, jobId: record.jobId ?? '' });
      const known = legacy.filter((it) => !items.get(record._id, it.id));
      const totals = await items.commit(
        record._id,
        folder,
        known.map((it) => ({ ...it, datetime: it.datetime ?? it.created })),
      );
      const { items: _moved, ...typeInfos } = record.type_infos;
      await datastore.update(record._id, { type_infos: { ...typeInfos, itemCount: totals.count }, size: totals.bytes });
    }
  }
  return removed;
}
