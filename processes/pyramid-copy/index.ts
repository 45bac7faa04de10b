/**
 * pyramid-copy: a READY pyramid copied to another configured storage (issue 13 "Migration"), as ROK4's pyr2pyr
 * does: every slab of the list is copied, one by one, from where its original bytes are (rok4.md §6: the
 * root of its list line) to the conventional place in the new pyramid; the descriptor is the source's with
 * level storage blocks of the target (§3.4); the list has one root, the copy's (§6).
 *
 * References (§7): ROK4 references point inside one storage, so the copy cannot point back to an ancestor on
 * the source storage. When that ancestor was copied to the target already (a READY pyramid there whose
 * `type_infos.copy.from` is the ancestor), the slab becomes a reference to the copy's original (never a chain)
 * and the copy `use`s it; otherwise the slab is materialized, as pyr2pyr with `follow_links` does: a slab of
 * the copy's own.
 *
 * The copy is a new stored data under a new name (stored data names are unique across storages): written
 * through the product life cycle (src/pyramid/life-cycle.ts), so the descriptor is written last, a failure
 * or a dismiss removes what was written and leaves a FAILED/DELETED record, never a READY one; the source
 * is read-locked from submission to the end (its deletion is a 409 meanwhile).
 */
import { createHash } from 'node:crypto';
import { invalidInput } from '../../src/errors.js';
import { productNameInput } from '../../src/process/input-schemas.js';
import { STORAGE_INPUT } from '../../src/process/storage-input.js';
import type { PrepareContext, Process, ProcessContext } from '../../src/process/types.js';
import { reservePyramid, writePyramid, type PyramidReservation } from '../../src/pyramid/life-cycle.js';
import { checkOutputBytes } from '../../src/pyramid/output-estimate.js';
import { levelStorage, locationOfRecord, treePrefix } from '../../src/pyramid/location.js';
import { OriginalReferences } from '../../src/pyramid/reference.js';
import { PYRAMID_TYPE } from '../../src/records/pyramid-infos.js';
import { loadReadyPyramid, readPyramidList, requireReadyRecord, type ReadyPyramid } from '../../src/pyramid/ready-pyramid.js';
import type { StoredData } from '../../src/records/stored-data.js';
import type { PyramidDescriptor } from '../../src/rok4/descriptor.js';
import type { ListEntry, SlabList } from '../../src/rok4/list.js';
import { type ListedSlab, slabListPath, slabOfListPath } from '../../src/rok4/list-path.js';
import { isSymlinkObject, symlinkTargetKey } from '../../src/rok4/symlink.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { storageNameOf } from '../../src/storage/of-record.js';
import type { Storage } from '../../src/storage/storage.js';

/** Slabs copied at once: enough to hide an object store's latency, few enough to bound memory (a slab each). */
const PARALLEL_SLABS = 4;
/** ROK4's default FILE path depth (rok4.md §3.4), for a copy from object storage that does not give one. */
const DEFAULT_PATH_DEPTH = 2;

interface CopyPlan {
  source: ReadyPyramid;
  sourceStorage: Storage;
  sourceStorageName: string;
  pathDepth: number;
  reservation: PyramidReservation;
}

async function prepare(raw: Record<string, unknown>, ctx: PrepareContext): Promise<CopyPlan> {
  const id = raw.stored_data as string;
  const reservation = await reservePyramid(ctx, raw.name as string, [id]);
  try {
    const record = await requireReadyRecord(ctx.datastore, id, 'stored_data');
    const sourceStorageName = storageNameOf(record, ctx);
    const sourceStorage = ctx.storages.get(sourceStorageName);
    if (!sourceStorage) throw invalidInput('stored_data', `'${record.name}' is on storage '${sourceStorageName}', which is not configured`);
    if (sourceStorageName === ctx.storageName)
      throw invalidInput('storage', `'${record.name}' is already on storage '${sourceStorageName}': give another storage to copy it to`);
    // At most its own bytes and those of the pyramids it references (materialized), as every product is
    // checked against the limits and the free space of its storage.
    let estimate = record.size ?? 0;
    for (const used of record.use) estimate += (await ctx.datastore.get(used))?.size ?? 0;
    await checkOutputBytes(ctx.storage, ctx.settings, estimate, 'stored_data');
    const source = await loadReadyPyramid(ctx.datastore, sourceStorage, id, 'stored_data');
    const first = source.descriptor.levels[0].storage;
    const given = raw.path_depth as number | undefined;
    if (given !== undefined && ctx.storage.type !== 'FILE')
      throw invalidInput('path_depth', `storage '${ctx.storageName}' is ${ctx.storage.type}: a path depth applies to FILE storages only`);
    const pathDepth = given ?? (first.type === 'FILE' ? first.path_depth : DEFAULT_PATH_DEPTH);
    return { source, sourceStorage, sourceStorageName, pathDepth, reservation };
  } catch (err) {
    reservation.release();
    throw err;
  }
}

const pyramidCopy: Process<CopyPlan> = {
  description: {
    id: 'pyramid-copy',
    version: '1.0.0',
    title: 'Copy of a raster pyramid to another storage (ROK4 pyr2pyr)',
    description:
      'Copies a READY pyramid to another configured storage as a new stored data: every slab byte for byte, the descriptor ' +
      "with the target's storage blocks, a list whose root is the copy. A slab the source references in another pyramid " +
      'refers to the copy of that pyramid when it was copied to the target before (the copy then uses it), else it is copied too ' +
      '(ROK4 references stay inside one storage). The source cannot be deleted while the job runs.',
    keywords: ['ROK4', 'pyramid', 'copy', 'storage', 'pyr2pyr'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      stored_data: {
        title: 'Pyramid to copy',
        description: 'Id of a READY pyramid stored data (type `ROK4-PYRAMID-RASTER`).',
        schema: { type: 'string', format: 'ogc-stored-data' },
        minOccurs: 1,
        maxOccurs: 1,
      },
      storage: {
        ...STORAGE_INPUT,
        title: 'Target storage',
        description:
          'Name of the configured storage the copy is written to (default: the default storage); not the storage of the pyramid copied.',
      },
      name: productNameInput('Name of the copy (its ROK4 descriptor is `<name>.json`); no stored data may have it already.'),
      path_depth: {
        title: 'Path depth',
        description: "Directory depth of the copy's slab tree on a FILE storage (default: the source's, or 2 from object storage).",
        schema: { type: 'integer', minimum: 1, maximum: 8 },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      pyramid: {
        title: 'Pyramid',
        description:
          'The stored data record of the copy, with the counts of slabs, of slabs taken from referenced pyramids copied (`materialized`) and referenced again (`referenced`).',
        schema: { type: 'object', contentMediaType: 'application/json' },
      },
    },
    example: { inputs: { stored_data: '<id of a pyramid on another storage>', name: 'ORTHO_COPY' } },
  },

  prepare,

  async execute(_raw, ctx) {
    return { pyramid: await copy(ctx.plan, ctx) };
  },

  async release(plan) {
    plan.reservation.release();
  },
};

/** A slab of the source list: where its original bytes are, and what it is. */
interface SlabToCopy {
  slab: ListedSlab;
  /** Key of the original bytes in the source storage. */
  from: string;
  /** True when the source takes it from another pyramid (a reference there, a slab of the copy here). */
  referenced: boolean;
  /** The md5 of its list line, if any (rok4.md §6): checked on the bytes read, kept in the copy's list. */
  md5?: string;
  /** The tree (storage prefix) of the pyramid that owns it, when another than the source. */
  tree?: string;
}

/** The slabs of the source, in list order, with the keys of their originals (rok4.md §6: root + path). */
function slabsToCopy(plan: CopyPlan, list: SlabList): SlabToCopy[] {
  const root = plan.sourceStorage.root.replace(/\/+$/, '');
  const own = treePrefix(plan.source.location);
  const name = plan.source.record.name;
  return [...list.entries()].map((entry: ListEntry) => {
    const slab = slabOfListPath(entry.path);
    if (!slab) throw new Error(`the list of '${name}' has a line that names no slab: ${entry.rootIndex}/${entry.path}`);
    const md5 = entry.md5 ? { md5: entry.md5.toLowerCase() } : {};
    if (entry.rootIndex === 0) return { slab, from: `${own}/${entry.path}`, referenced: false, ...md5 };
    const other = list.roots.get(entry.rootIndex)!;
    if (!other.startsWith(`${root}/`))
      throw new Error(`slab ${entry.path} of '${name}' is in ${other}, outside its storage '${plan.sourceStorageName}' (${root})`);
    const tree = other.slice(root.length + 1);
    return { slab, from: `${tree}/${entry.path}`, referenced: true, tree, ...md5 };
  });
}

/** The bytes of an original slab; an object-storage reference found there (never expected, §7.1) is followed once. */
async function readOriginal(storage: Storage, key: string): Promise<Uint8Array> {
  const bytes = await storage.read(key);
  if (storage.type !== 'S3' || !isSymlinkObject(bytes)) return bytes;
  return storage.read(symlinkTargetKey(bytes, storage.root, key));
}

/**
 * Runs `fn` on every item, `limit` at a time. The first failure stops new starts; every call already started
 * is awaited before it is thrown (nothing may be written after the cleanup, DESIGN §7).
 */
async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
}

/** A copy of an ancestor already on the target storage: the slabs the source takes from that ancestor refer to it. */
interface AncestorCopy {
  pyramid: ReadyPyramid;
  list: SlabList;
  /** Its FILE path depth (0 on object storage): how its list names a slab. */
  depth: number;
}

const treeOf = (record: StoredData): string | undefined => {
  try {
    return treePrefix(locationOfRecord(record));
  } catch {
    return undefined;
  }
};

/** Ancestor tree (on the source storage) → a READY copy of that ancestor on the target storage, where there is one. */
async function ancestorCopies(plan: CopyPlan, ctx: ProcessContext<CopyPlan>, trees: Set<string>): Promise<Map<string, AncestorCopy>> {
  const found = new Map<string, AncestorCopy>();
  if (trees.size === 0) return found;
  const ready = await ctx.datastore.list({ type: PYRAMID_TYPE, status: 'READY' });
  for (const tree of trees) {
    const owner = ready.find((r) => storageNameOf(r, ctx) === plan.sourceStorageName && treeOf(r) === tree);
    if (!owner) continue;
    const copied = ready.find(
      (r) =>
        storageNameOf(r, ctx) === ctx.storageName &&
        (r.type_infos.copy as { from?: { _id?: unknown } } | undefined)?.from?._id === owner._id,
    );
    if (!copied) continue;
    const pyramid = await loadReadyPyramid(ctx.datastore, ctx.storage, copied._id, 'stored_data');
    const first = pyramid.descriptor.levels[0].storage;
    found.set(tree, { pyramid, list: await readPyramidList(ctx.storage, pyramid), depth: first.type === 'FILE' ? first.path_depth : 0 });
  }
  return found;
}

/** Writes the copy on the target storage (ctx.storage). */
async function copy(plan: CopyPlan, ctx: ProcessContext<CopyPlan>): Promise<StoredData> {
  const { source } = plan;
  // What can change while the job was queued: the source is still READY.
  await requireReadyRecord(ctx.datastore, source.record._id, 'stored_data');
  // The copies of ancestors referred to are read-locked until the copy's record, READY, `use`s them.
  let releaseCopies = () => {};
  try {
    return await writeCopy(plan, ctx, (release) => {
      releaseCopies = release;
    });
  } finally {
    releaseCopies();
  }
}

/** The copy through the product life cycle; `holdCopies` gets the release of the read locks it takes on ancestors' copies. */
async function writeCopy(plan: CopyPlan, ctx: ProcessContext<CopyPlan>, holdCopies: (release: () => void) => void): Promise<StoredData> {
  const { source } = plan;
  return writePyramid(ctx, plan.reservation, 'copy failed', async (location) => {
    const withMask = !!source.descriptor.mask_format;
    const descriptor: PyramidDescriptor = {
      ...source.descriptor,
      levels: source.descriptor.levels.map((level) => ({
        ...level,
        storage: levelStorage(ctx.storage, location, level.id, withMask, plan.pathDepth),
      })),
    };
    const writer = new Rok4PyramidWriter(ctx.storage, location.name, descriptor, { folder: location.folder });
    const slabs = slabsToCopy(plan, await readPyramidList(plan.sourceStorage, source));
    const referenced = slabs.filter((s) => s.referenced).length;
    const copies = await ancestorCopies(plan, ctx, new Set(slabs.flatMap((s) => (s.tree ? [s.tree] : []))));
    holdCopies(await ctx.datastore.lockForRead([...copies.values()].map((c) => c.pyramid.record._id)));
    const refs = new OriginalReferences(writer, ctx.storage, ctx.datastore);
    let done = 0;
    let bytes = 0;
    let linked = 0;
    ctx.progress(0, `0/${slabs.length} slabs copied`);
    await forEachBounded(slabs, PARALLEL_SLABS, async ({ slab, from, md5, tree }) => {
      ctx.signal.throwIfAborted();
      const ancestor = tree ? copies.get(tree) : undefined;
      const entry = ancestor?.list.getEntry(slabListPath(ctx.storage.type, slab, ancestor.depth));
      if (ancestor && entry) {
        await refs.link(ancestor.list, ancestor.pyramid.record.name, entry, slab);
        linked++;
      } else {
        const data = await readOriginal(plan.sourceStorage, from);
        // As pyr2pyr: a list that gives the md5 of a slab is the proof of its bytes (rok4.md §6).
        if (md5 && createHash('md5').update(data).digest('hex') !== md5)
          throw new Error(`slab ${from} of '${source.record.name}' does not have the md5 its list gives (${md5})`);
        await ctx.storage.write(writer.slabKey(slab.level, slab.col, slab.row, slab.kind), data);
        bytes += data.byteLength;
      }
      done++;
      ctx.progress(
        (done / slabs.length) * 100,
        `${done}/${slabs.length} slabs copied (${referenced} from referenced pyramids, ${linked} of them referenced again)`,
      );
    });
    // List lines in the source's order (slabs are copied several at once): the copy's own slabs under root 0,
    // references under the root of the copy that owns their original.
    for (const { slab, md5 } of slabs) {
      const path = writer.slabListPath(slab.level, slab.col, slab.row, slab.kind);
      writer.list.setEntry(writer.list.getEntry(path)?.rootIndex ?? 0, path, md5);
    }
    return {
      writer,
      ready: {
        size: bytes,
        use: [...refs.owners],
        type_infos: {
          ...source.record.type_infos,
          copy: {
            from: { _id: source.record._id, name: source.record.name, storage: plan.sourceStorageName },
            slabs: slabs.length,
            materialized: referenced - linked,
            referenced: linked,
          },
        },
      },
    };
  });
}

export default pyramidCopy;
