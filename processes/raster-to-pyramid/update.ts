import { invalidInput } from '../../src/errors.js';
import type { Datastore, StoredData } from '../../src/datastore/datastore.js';
import { PYRAMID_TYPE } from '../../src/datastore/pyramid-infos.js';
import { parseDescriptor, type PyramidDescriptor, type TileLimits } from '../../src/rok4/descriptor.js';
import { SlabList } from '../../src/rok4/list.js';
import type { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import type { Storage } from '../../src/storage/storage.js';
import { slabOfListPath } from '../pyramids-to-pyramid/merge-plan.js';

/** The pyramid an update starts from (rok4.md §8.7). */
export interface Ancestor {
  record: StoredData;
  descriptor: PyramidDescriptor;
  list: SlabList;
}

/** Inputs an update takes from the ancestor instead of the request (rok4.md §8.7.1). */
export const INHERITED_INPUTS = ['tms', 'compression', 'interpolation', 'mask', 'width', 'height', 'nodata', 'bottom', 'top'] as const;

/** 400 when an update request also sets what the ancestor decides. */
export function refuseInherited(inputs: Record<string, unknown>): void {
  const given = INHERITED_INPUTS.filter((k) => inputs[k] !== undefined);
  if (given.length) {
    throw invalidInput(given[0], `an update (stored_data given) takes ${INHERITED_INPUTS.join(', ')} from the existing pyramid; remove ${given.join(', ')}`);
  }
}

/** Loads the ancestor pyramid: a READY ROK4-PYRAMID-RASTER with its descriptor and list. */
export async function loadAncestor(datastore: Datastore, storage: Storage, id: string): Promise<Ancestor> {
  const record = datastore.get(id);
  if (!record || record.status === 'DELETED') throw invalidInput('stored_data', `no stored data with id '${id}'`);
  if (record.type !== PYRAMID_TYPE) throw invalidInput('stored_data', `'${record.name}' is a ${record.type}, not a ${PYRAMID_TYPE}`);
  if (record.status !== 'READY') throw invalidInput('stored_data', `'${record.name}' is ${record.status}, not READY`);
  try {
    const descriptor = parseDescriptor((await storage.read(`${record.name}.json`)).toString('utf8'));
    const list = SlabList.parse((await storage.read(`${record.name}.list`)).toString('utf8'));
    return { record, descriptor, list };
  } catch (err) {
    throw invalidInput('stored_data', `the pyramid '${record.name}' cannot be read: ${(err as Error).message}`);
  }
}

/**
 * References every slab of the ancestor (data and masks) at the same path in the new pyramid, pointing
 * to the original slab through the ancestor's list root — never a reference to a reference (rok4.md
 * §7.1, §8.7.2). Returns the ids of the stored data owning the referenced slabs.
 */
export async function referenceAncestor(writer: Rok4PyramidWriter, ancestor: Ancestor, storage: Storage, datastore: Datastore, signal: AbortSignal): Promise<{ owners: Set<string>; dataSlabs: number }> {
  const storageRoot = storage.root.replace(/\/+$/, '');
  const owners = new Set<string>([ancestor.record._id]);
  let dataSlabs = 0;
  for (const entry of ancestor.list.entries()) {
    signal.throwIfAborted();
    const slab = slabOfListPath(entry.path);
    if (!slab) continue;
    const root = ancestor.list.roots.get(entry.rootIndex)!;
    if (!root.startsWith(storageRoot + '/')) throw new Error(`slab ${entry.path} of '${ancestor.record.name}' lives outside this storage (${root})`);
    const ownerName = root.slice(storageRoot.length + 1);
    const owner = datastore.findByName(ownerName, PYRAMID_TYPE);
    if (owner) owners.add(owner._id);
    await writer.linkSlab(slab.level, slab.col, slab.row, slab.kind, writer.addRoot(root), `${ownerName}/${entry.path}`);
    if (slab.kind === 'DATA') dataSlabs++;
  }
  return { owners, dataSlabs };
}

/** Union of tile limits (rok4.md §8.3: limits merged with the previous ones on update). */
export function unionLimits(a: TileLimits | undefined, b: TileLimits | undefined): TileLimits {
  if (!a) return { ...b! };
  if (!b) return { ...a };
  return { min_col: Math.min(a.min_col, b.min_col), max_col: Math.max(a.max_col, b.max_col), min_row: Math.min(a.min_row, b.min_row), max_row: Math.max(a.max_row, b.max_row) };
}
