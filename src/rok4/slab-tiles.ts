import type { Storage } from '../storage/storage.js';
import { NotFoundError } from '../storage/storage.js';
import { parseSlabHeader, type SlabHeaderInfo } from './slab-header.js';
import { splitSlabTiles } from './slab-index.js';
import { isSymlinkObject, symlinkTargetKey } from './symlink.js';

/** A slab's encoded tiles, undecoded (null = no tile, size 0). */
export interface EncodedSlab {
  header: SlabHeaderInfo;
  tiles: Array<Uint8Array | null>;
}

/**
 * Reads a whole slab and splits it into its encoded tiles (rok4.md §5.1), following one object-storage
 * reference (§7.2; FILE links are followed by the file system). Null when the slab does not exist.
 * Updates and merges use it to copy tiles they do not change without decoding them.
 */
export async function readEncodedSlab(storage: Storage, key: string): Promise<EncodedSlab | null> {
  let bytes: Buffer;
  try {
    bytes = await storage.read(key);
    if (isSymlinkObject(bytes)) bytes = await storage.read(symlinkTargetKey(bytes, storage.root, key));
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  const header = parseSlabHeader(bytes);
  const tiles = splitSlabTiles(bytes, header.tilesPerWidth * header.tilesPerHeight).map((t) => (t.length === 0 ? null : t));
  return { header, tiles };
}
