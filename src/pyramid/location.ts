/**
 * Where a pyramid product lives in the storage. The ROK4 layout (rok4.md §4.1) is kept inside a folder:
 * `<folder><name>.json` (descriptor), `<folder><name>.list` (list), `<folder><name>/…` (slab tree), so
 * that the descriptor's relative directories are the conventional `<name>/DATA/<level>` (§3.4).
 *
 * Every new pyramid gets a folder of its own, `pyramids/<name>/`: no name can reach another product's files
 * or the server's (`jobs/`, `outputs/`) — a pyramid named `SAME.json` lives in `pyramids/SAME.json/`, not
 * over the descriptor of `SAME` — and removing a pyramid is removing its folder.
 */
import type { StoredData } from '../records/stored-data.js';
import { fileLevelStorage, s3LevelStorage, type LevelStorage } from '../rok4/descriptor.js';
import type { Storage } from '../storage/storage.js';

export interface PyramidLocation {
  name: string;
  /** '' (the storage root, pyramids written before products had folders of their own) or ends with '/'. */
  folder: string;
}

/** Folder holding every pyramid's own folder. */
export const PYRAMIDS_FOLDER = 'pyramids/';

/** The location of a new pyramid: a folder of its own (names are one path segment, see PRODUCT_NAME_PATTERN). */
export function newPyramidLocation(name: string): PyramidLocation {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new Error(`invalid pyramid name ${JSON.stringify(name)}`);
  return { name, folder: `${PYRAMIDS_FOLDER}${name}/` };
}

/** The location of a recorded pyramid, from its descriptor key (`<folder><name>.json`). */
export function locationOfRecord(record: Pick<StoredData, 'name' | 'storage'>): PyramidLocation {
  const key = record.storage.key;
  const suffix = `${record.name}.json`;
  if (!key.endsWith(suffix)) throw new Error(`stored data '${record.name}': descriptor key ${JSON.stringify(key)} does not name it`);
  return { name: record.name, folder: key.slice(0, key.length - suffix.length) };
}

export const descriptorKey = (l: PyramidLocation): string => `${l.folder}${l.name}.json`;
export const listKey = (l: PyramidLocation): string => `${l.folder}${l.name}.list`;
/** Storage prefix of the slab tree, without the final '/'. */
export const treePrefix = (l: PyramidLocation): string => `${l.folder}${l.name}`;

/** The root of the pyramid in ROK4 lists (rok4.md §6): `<storage root>/<folder><name>`. */
export function listRoot(storage: Storage, l: PyramidLocation): string {
  return `${storage.root.replace(/\/+$/, '')}/${treePrefix(l)}`;
}

/**
 * The storage block of a level of a new pyramid at `l`, as ROK4 writes it (rok4.md §3.4): FILE directories
 * `<name>/DATA/<id>` relative to the descriptor's folder; S3 the bucket and the object name prefixes
 * `<tree>/DATA_<id>`, `<tree>/MASK_<id>` where `<tree>` is the pyramid's tree as an object name (the
 * storage's key prefix included), so that ROK4 finds `<image_prefix>_<col>_<row>` in `bucket_name` (§4.2).
 * @param pathDepth FILE only (ignored on S3).
 */
export function levelStorage(storage: Storage, l: PyramidLocation, levelId: string, withMask: boolean, pathDepth = 2): LevelStorage {
  if (storage.type === 'FILE') return fileLevelStorage(l.name, levelId, pathDepth, withMask);
  const root = storage.root.replace(/\/+$/, '');
  const slash = root.indexOf('/');
  const bucket = slash < 0 ? root : root.slice(0, slash);
  const keyPrefix = slash < 0 ? '' : `${root.slice(slash + 1)}/`;
  return s3LevelStorage(bucket, `${keyPrefix}${treePrefix(l)}`, levelId, withMask);
}

/**
 * Removes every file of a pyramid (references, never their targets): its own folder, or, for a pyramid
 * written at the storage root before folders, its descriptor, list and tree.
 */
export async function deletePyramidFiles(storage: Storage, l: PyramidLocation): Promise<void> {
  if (l.folder !== '') {
    await storage.deletePrefix(l.folder);
    return;
  }
  await storage.delete(descriptorKey(l));
  await storage.delete(listKey(l));
  await storage.deletePrefix(`${treePrefix(l)}/`);
}
