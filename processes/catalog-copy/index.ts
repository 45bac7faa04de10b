/**
 * catalog-copy: a READY raster catalog (issue 12) copied to another configured storage as a new stored data
 * (issue 13 "Migration", the catalog side of pyramid-copy): every item's file copied byte for byte into the
 * folder of this job (`catalogs/<name>/<jobId>/`, same file names), the items kept (ids, footprints,
 * attributes, dates) with their key and href on the target, the record's attribute configuration kept.
 *
 * Written as tiling writes a new catalog: the record GENERATING and write-locked, the job's folder registered
 * before the first byte (a kill is undone at start-up, src/catalog/catalog.ts), the items committed in one
 * transaction, then READY; a failure or a dismiss removes the files and items and leaves FAILED/DELETED. The
 * source is read-locked from submission to the end. Files are streamed through a local temp file in ranges
 * (bounded memory), then stored whole (multipart on S3).
 */
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { abandonCatalog, CATALOG_TYPE, catalogFolder, jobFolder } from '../../src/catalog/catalog.js';
import type { CatalogItem } from '../../src/catalog/catalog-item.js';
import { invalidInput, lostError } from '../../src/errors.js';
import { PRODUCT_NAME_PATTERN } from '../../src/process/input-schemas.js';
import { STORAGE_INPUT } from '../../src/process/storage-input.js';
import type { PrepareContext, Process, ProcessContext } from '../../src/process/types.js';
import { productTakenOver, reasonOf } from '../../src/pyramid/life-cycle.js';
import { checkOutputBytes } from '../../src/pyramid/output-estimate.js';
import type { StoredData } from '../../src/records/stored-data.js';
import { storageNameOf } from '../../src/storage/of-record.js';
import { objectChunks, type Storage } from '../../src/storage/storage.js';

/** Bytes read from the source at once while a file is copied. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Items read from the item store at once. */
const PAGE = 500;

interface CatalogCopyPlan {
  source: StoredData;
  sourceStorage: Storage;
  sourceStorageName: string;
  name: string;
  release(): void;
}

/** The READY catalog `id`, or a 400 naming `stored_data`. */
async function requireReadyCatalog(ctx: Pick<PrepareContext, 'datastore'>, id: string): Promise<StoredData> {
  const record = await ctx.datastore.get(id);
  if (!record || record.status === 'DELETED') throw invalidInput('stored_data', `no stored data with id '${id}'`);
  if (record.type !== CATALOG_TYPE) throw invalidInput('stored_data', `'${record.name}' is a ${record.type}, not a ${CATALOG_TYPE}`);
  if (record.status !== 'READY') throw invalidInput('stored_data', `'${record.name}' is ${record.status}, not READY`);
  return record;
}

async function prepare(raw: Record<string, unknown>, ctx: PrepareContext): Promise<CatalogCopyPlan> {
  const id = raw.stored_data as string;
  const name = raw.name as string;
  const releaseName = await ctx.datastore.reserveName(name);
  if (!releaseName) throw invalidInput('name', `a stored data named '${name}' already exists (or is being written by another job)`);
  const releaseRead = await ctx.datastore.lockForRead([id]);
  const release = () => {
    releaseRead();
    releaseName();
  };
  try {
    const source = await requireReadyCatalog(ctx, id);
    const sourceStorageName = storageNameOf(source, ctx);
    const sourceStorage = ctx.storages.get(sourceStorageName);
    if (!sourceStorage) throw invalidInput('stored_data', `'${source.name}' is on storage '${sourceStorageName}', which is not configured`);
    if (sourceStorageName === ctx.storageName)
      throw invalidInput('storage', `'${source.name}' is already on storage '${sourceStorageName}': give another storage to copy it to`);
    await checkOutputBytes(ctx.storage, ctx.settings, source.size ?? 0, 'stored_data');
    return { source, sourceStorage, sourceStorageName, name, release };
  } catch (err) {
    release();
    throw err;
  }
}

const catalogCopy: Process<CatalogCopyPlan> = {
  description: {
    id: 'catalog-copy',
    version: '1.0.0',
    title: 'Copy of a raster catalog to another storage',
    description:
      'Copies a READY raster catalog (COGs and their items) to another configured storage as a new stored data: every file byte ' +
      'for byte, every item with its footprint, date and attributes. The source cannot be deleted while the job runs.',
    keywords: ['catalog', 'COG', 'copy', 'storage'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      stored_data: {
        title: 'Catalog to copy',
        description: `Id of a READY stored data of type \`${CATALOG_TYPE}\`.`,
        schema: { type: 'string', format: 'ogc-stored-data' },
        minOccurs: 1,
        maxOccurs: 1,
      },
      storage: {
        ...STORAGE_INPUT,
        title: 'Target storage',
        description:
          'Name of the configured storage the copy is written to (default: the default storage); not the storage of the catalog copied.',
      },
      name: {
        title: 'Catalog name',
        description: 'Name of the copy; no stored data may have it already.',
        schema: { type: 'string', pattern: PRODUCT_NAME_PATTERN },
        minOccurs: 1,
        maxOccurs: 1,
      },
    },
    outputs: {
      catalog: {
        title: 'Catalog',
        description: 'The stored data record of the copy.',
        schema: { type: 'object', contentMediaType: 'application/json' },
      },
    },
    example: { inputs: { stored_data: '<id of a catalog on another storage>', name: 'LANDSAT_COPY' } },
  },

  prepare,

  async execute(_raw, ctx) {
    return { catalog: await copyCatalog(ctx.plan, ctx) };
  },

  async release(plan) {
    plan.release();
  },
};

/** Copies one object through a local file, `CHUNK_BYTES` at a time, then stores it whole on the target. */
async function copyFile(from: Storage, fromKey: string, to: Storage, toKey: string, tmpDir: string): Promise<number> {
  const local = path.join(tmpDir, path.basename(toKey));
  const file = await open(local, 'w');
  let size = 0;
  try {
    for await (const chunk of objectChunks(from, fromKey, CHUNK_BYTES)) {
      await file.write(chunk, 0, chunk.length);
      size += chunk.length;
    }
  } finally {
    await file.close();
  }
  try {
    await to.writeFile(toKey, local);
  } finally {
    await rm(local, { force: true });
  }
  return size;
}

async function copyCatalog(plan: CatalogCopyPlan, ctx: ProcessContext<CatalogCopyPlan>): Promise<StoredData> {
  const { source, name } = plan;
  // What can change while the job was queued: the source is still READY.
  await requireReadyCatalog(ctx, source._id);
  const created = await ctx.datastore.createForWrite({
    name,
    type: CATALOG_TYPE,
    jobId: ctx.jobId,
    storage: {
      type: ctx.storage.type,
      key: catalogFolder(name),
      href: ctx.storage.url(catalogFolder(name)),
      name: ctx.storageName,
    },
  });
  const catalogId = created.record._id;
  const folder = jobFolder(name, ctx.jobId);
  try {
    // Registered before the first byte: a kill from here on is undone at start-up.
    // A job taken again after its run stopped here finds that run's files: they go first.
    if (ctx.catalogItems.beginWrite({ catalogId, folder, jobId: ctx.jobId })) await ctx.storage.deletePrefix(`${folder}/`);
    // Items a worker on another machine added are applied here first (issue 14).
    await ctx.catalogItems.sync();
    const total = ctx.catalogItems.totals(source._id).count;
    const items: CatalogItem[] = [];
    for (let offset = 0; offset < total; offset += PAGE) {
      for (const item of ctx.catalogItems.query(source._id, { limit: PAGE, offset }).items) {
        ctx.signal.throwIfAborted();
        const key = `${folder}/${path.posix.basename(item.key)}`;
        await copyFile(plan.sourceStorage, item.key, ctx.storage, key, ctx.tmpDir);
        items.push({ ...item, key, href: ctx.storage.url(key) });
        ctx.progress((items.length / total) * 100, `${items.length}/${total} files copied`);
      }
    }
    if (items.length !== total) throw new Error(`the catalog '${source.name}' changed while it was copied`);
    ctx.signal.throwIfAborted();
    // Taken over by a run of the same job on another worker (this one stalled past its queue lock): no commit.
    if (!(await ctx.datastore.writing(catalogId, ctx.jobId))) throw productTakenOver(created.record);
    const totals = await ctx.catalogItems.commit(catalogId, folder, items);
    const ready = await ctx.datastore.commit(catalogId, ctx.jobId, {
      size: totals.bytes,
      type_infos: {
        ...source.type_infos,
        itemCount: totals.count,
        copy: { from: { _id: source._id, name: source.name, storage: plan.sourceStorageName } },
      },
    });
    if (!ready) throw productTakenOver(created.record);
    return ready;
  } catch (err) {
    // Lost: the catalog's name, folder and job are another run's now; nothing here is this run's to undo.
    const lost = lostError(ctx.signal, err);
    if (lost) throw lost;
    // Failed before it heard of its loss: the record says whose the catalog's files are.
    if (!(await ctx.datastore.writing(catalogId, ctx.jobId).catch(() => true))) throw productTakenOver(created.record);
    await abandonCatalog(
      { storage: ctx.storage, items: ctx.catalogItems, datastore: ctx.datastore },
      { _id: catalogId, name },
      { dismissed: ctx.signal.aborted, reason: reasonOf(err) },
    );
    try {
      ctx.catalogItems.endWrite(folder);
    } catch {
      // left registered: start-up removes the folder again (nothing is in it)
    }
    throw err;
  } finally {
    created.release();
  }
}

export default catalogCopy;
