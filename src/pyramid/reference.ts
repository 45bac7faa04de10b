/**
 * "Make a slab a reference to its original" (rok4.md §7.1): a slab taken from another pyramid points to
 * the original bytes — through the source list's root index when the source slab is itself a reference —
 * never to a reference (no chains). The stored data owning the originals are collected, so the new
 * record can `use` them (they then cannot be deleted).
 */
import type { Datastore } from '../records/stored-data.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import type { ListEntry, SlabList } from '../rok4/list.js';
import type { ListedSlab } from '../rok4/list-path.js';
import type { Rok4PyramidWriter } from '../rok4/writer.js';
import type { Storage } from '../storage/storage.js';
import { locationOfRecord, treePrefix } from './location.js';

export class OriginalReferences {
  /** Ids of the stored data that own the slabs referenced so far. */
  readonly owners = new Set<string>();
  private readonly storageRoot: string;
  /** Tree prefix (list root below the storage root) → stored data id; built on first use. */
  private ownerByTree?: Map<string, string>;

  constructor(
    private readonly writer: Rok4PyramidWriter,
    storage: Storage,
    private readonly datastore: Datastore,
  ) {
    this.storageRoot = storage.root.replace(/\/+$/, '');
  }

  /**
   * Makes `slab` of the new pyramid a reference to the original of `entry` (an entry of `source`, the
   * list of pyramid `sourceName`).
   */
  async link(source: SlabList, sourceName: string, entry: ListEntry, slab: ListedSlab): Promise<void> {
    const root = source.roots.get(entry.rootIndex);
    if (root === undefined) throw new Error(`slab ${entry.path} of '${sourceName}' has an unknown root index ${entry.rootIndex}`);
    if (!root.startsWith(this.storageRoot + '/'))
      throw new Error(`slab ${entry.path} of '${sourceName}' lives outside this storage (${root})`);
    const tree = root.slice(this.storageRoot.length + 1);
    const owner = await this.ownerOf(tree);
    if (owner) this.owners.add(owner);
    await this.writer.linkSlab(slab.level, slab.col, slab.row, slab.kind, this.writer.addRoot(root), `${tree}/${entry.path}`);
  }

  private async ownerOf(tree: string): Promise<string | undefined> {
    if (!this.ownerByTree) {
      this.ownerByTree = new Map();
      for (const r of await this.datastore.list({ type: PYRAMID_TYPE })) {
        if (r.status === 'DELETED' || r.status === 'FAILED') continue;
        try {
          this.ownerByTree.set(treePrefix(locationOfRecord(r)), r._id);
        } catch {
          // a record whose key does not name it owns no tree we could reference
        }
      }
    }
    return this.ownerByTree.get(tree);
  }
}
