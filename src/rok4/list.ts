/**
 * The list file `<name>.list` (rok4.md §6): `<index>=<root>` lines, a `#` line, then one slab per line
 * `<index>/<path relative to that root>` with an optional md5. Root 0 is the pyramid itself.
 */

export interface ListEntry {
  /** Index of the root (pyramid) that physically holds the slab. */
  rootIndex: number;
  /** Slab path relative to the pyramid's tree: `DATA/15/00/76/88.tif` or `DATA_15_24_195`. */
  path: string;
  md5?: string;
}

export class SlabList {
  /** Root index → root (absolute directory on FILE, `<bucket>/<name>` on object storage). */
  readonly roots = new Map<number, string>();
  private readonly byPath = new Map<string, ListEntry>();

  /** Parses list text. Throws on a malformed line (with its line number). */
  static parse(text: string): SlabList {
    const list = new SlabList();
    const lines = text.split('\n');
    let i = 0;
    let sawSeparator = false;
    for (; i < lines.length; i++) {
      const line = lines[i].replace(/\r$/, '');
      if (line === '#') {
        sawSeparator = true;
        i++;
        break;
      }
      if (line === '') continue;
      const match = /^(\d+)=(.+)$/.exec(line);
      if (!match) throw new Error(`list line ${i + 1}: expected <index>=<root>, got ${JSON.stringify(line)}`);
      const index = Number(match[1]);
      if (list.roots.has(index)) throw new Error(`list line ${i + 1}: root index ${index} defined twice`);
      list.roots.set(index, match[2]);
    }
    if (!sawSeparator) throw new Error('list: no "#" line between roots and slabs');
    for (; i < lines.length; i++) {
      const line = lines[i].replace(/\r$/, '');
      if (line === '') continue;
      const match = /^(\d+)\/(\S+)(?: ([0-9a-fA-F]{32}))?$/.exec(line);
      if (!match) throw new Error(`list line ${i + 1}: expected <index>/<path> [md5], got ${JSON.stringify(line)}`);
      const rootIndex = Number(match[1]);
      if (!list.roots.has(rootIndex)) throw new Error(`list line ${i + 1}: unknown root index ${rootIndex}`);
      list.setEntry(rootIndex, match[2], match[3]);
    }
    return list;
  }

  /** List text: roots by index (0 first), `#`, slabs in insertion order, one per line. */
  serialize(): string {
    const lines: string[] = [];
    for (const index of [...this.roots.keys()].sort((a, b) => a - b)) lines.push(`${index}=${this.roots.get(index)}`);
    lines.push('#');
    for (const entry of this.byPath.values()) lines.push(`${entry.rootIndex}/${entry.path}${entry.md5 ? ` ${entry.md5}` : ''}`);
    return `${lines.join('\n')}\n`;
  }

  /** Index of a root, added with the next free index when new. */
  addRoot(root: string): number {
    const existing = this.rootIndexOf(root);
    if (existing !== undefined) return existing;
    const index = this.roots.size === 0 ? 0 : Math.max(...this.roots.keys()) + 1;
    this.roots.set(index, root);
    return index;
  }

  /** Sets root `index` explicitly (root 0 = this pyramid). */
  setRoot(index: number, root: string): void {
    this.roots.set(index, root);
  }

  rootIndexOf(root: string): number | undefined {
    for (const [index, value] of this.roots) if (value === root) return index;
    return undefined;
  }

  /** Adds or replaces the line of a slab (each slab appears once, §6). */
  setEntry(rootIndex: number, path: string, md5?: string): void {
    if (!this.roots.has(rootIndex)) throw new Error(`list: unknown root index ${rootIndex}`);
    this.byPath.delete(path);
    this.byPath.set(path, { rootIndex, path, ...(md5 ? { md5 } : {}) });
  }

  getEntry(path: string): ListEntry | undefined {
    return this.byPath.get(path);
  }

  deleteEntry(path: string): boolean {
    return this.byPath.delete(path);
  }

  get size(): number {
    return this.byPath.size;
  }

  entries(): IterableIterator<ListEntry> {
    return this.byPath.values();
  }

  /** Root of an entry's original slab joined with its path (where the original bytes live). */
  originalLocation(entry: ListEntry): string {
    const root = this.roots.get(entry.rootIndex);
    if (root === undefined) throw new Error(`list: unknown root index ${entry.rootIndex}`);
    return `${root}/${entry.path}`;
  }
}
