import type { Storage } from '../storage/storage.js';
import type { SlabKind } from './base36.js';
import { serializeDescriptor, type PyramidDescriptor, type PyramidLevel } from './descriptor.js';
import { SlabList } from './list.js';
import { slabListPath } from './list-path.js';

/**
 * Writes one pyramid `<name>` in a folder of a {@link Storage} (the storage root when `folder` is ''):
 * slabs and references as they come, then `commit()` writes the list and, last, the descriptor — the
 * descriptor is the commit point (DESIGN §7): a pyramid without descriptor does not exist for readers.
 *
 * Keys (rok4.md §4), below the folder: FILE `<name>/DATA/<level>/<b36 path>`, object storage
 * `<name>/DATA_<level>_<col>_<row>`; list paths are the same relative to `<root>/<folder><name>` (§6).
 * Descriptor and list sit beside the `<name>/` tree, so the descriptor's relative directories stay the
 * conventional `<name>/DATA/<level>` (§3.4) whatever the folder.
 */
export class Rok4PyramidWriter {
  readonly list = new SlabList();

  /** Folder of the pyramid ('' or ending with '/'): descriptor, list and tree live under it. */
  readonly folder: string;

  /**
   * @param descriptor skeleton: levels may be added or their tile_limits changed until `commit()`.
   * @param options.folder storage folder holding the pyramid ('' = the storage root).
   */
  constructor(
    readonly storage: Storage,
    readonly name: string,
    readonly descriptor: PyramidDescriptor,
    options: { folder?: string } = {},
  ) {
    if (name === '' || name.startsWith('/') || (storage.type === 'FILE' && name.includes('/'))) {
      throw new Error(`invalid pyramid name ${JSON.stringify(name)}`);
    }
    this.folder = options.folder ?? '';
    if (this.folder !== '' && (!this.folder.endsWith('/') || this.folder.startsWith('/')))
      throw new Error(`invalid pyramid folder ${JSON.stringify(this.folder)}`);
    this.list.setRoot(0, `${this.storage.root.replace(/\/+$/, '')}/${this.treePrefix}`);
  }

  /** Storage prefix of the pyramid's slab tree, without the final '/': `<folder><name>`. */
  get treePrefix(): string {
    return `${this.folder}${this.name}`;
  }

  /** Path of a slab relative to the pyramid tree, as written in the list. */
  slabListPath(level: string, col: number, row: number, kind: SlabKind): string {
    return slabListPath(this.storage.type, { kind, level, col, row }, this.storage.type === 'FILE' ? this.pathDepth(level) : 0);
  }

  /** Storage key of a slab of this pyramid. */
  slabKey(level: string, col: number, row: number, kind: SlabKind): string {
    return `${this.treePrefix}/${this.slabListPath(level, col, row, kind)}`;
  }

  /** Writes a real slab (list line `0/...`), replacing a reference there if any. */
  async writeSlab(level: string, col: number, row: number, kind: SlabKind, buffer: Uint8Array): Promise<string> {
    const key = this.slabKey(level, col, row, kind);
    // A reference must be removed first: writing through a symlink would modify the original (§8.7.6). An
    // object store replaces the reference object itself (no request spent on asking).
    if (this.storage.type === 'FILE' && (await this.storage.linkTarget(key)) !== undefined) await this.storage.delete(key);
    await this.storage.write(key, buffer);
    this.list.setEntry(0, this.slabListPath(level, col, row, kind));
    return key;
  }

  /**
   * Makes the slab a reference to `targetKey` (a storage key of the original slab, never itself a
   * reference, §7.1) and records it with the root index of the pyramid that owns the original.
   */
  async linkSlab(level: string, col: number, row: number, kind: SlabKind, fromRootIndex: number, targetKey: string): Promise<string> {
    if (fromRootIndex === 0) throw new Error('linkSlab: root 0 is this pyramid; references point to other pyramids');
    if (!this.list.roots.has(fromRootIndex)) throw new Error(`linkSlab: unknown root index ${fromRootIndex} (addRoot first)`);
    const key = this.slabKey(level, col, row, kind);
    await this.storage.link(key, targetKey);
    this.list.setEntry(fromRootIndex, this.slabListPath(level, col, row, kind));
    return key;
  }

  /** Index of another pyramid's root in this list (added when new). */
  addRoot(root: string): number {
    return this.list.addRoot(root);
  }

  /** Writes the list, then the descriptor (the commit point). */
  async commit(): Promise<void> {
    await this.storage.write(`${this.treePrefix}.list`, this.list.serialize());
    await this.storage.write(`${this.treePrefix}.json`, serializeDescriptor(this.descriptor));
  }

  private levelOf(id: string): PyramidLevel {
    const level = this.descriptor.levels.find((l) => l.id === id);
    if (!level) throw new Error(`pyramid ${this.name} has no level ${JSON.stringify(id)}`);
    return level;
  }

  private pathDepth(level: string): number {
    const storage = this.levelOf(level).storage;
    if (storage.type !== 'FILE') throw new Error(`level ${level} is not FILE storage`);
    return storage.path_depth;
  }
}
