/**
 * Slabs kept open for the tile reads of a published pyramid (issue 10, bench:tiles: opening and closing
 * the slab file around each tile was a quarter of a tile's cost). A bounded LRU of open objects; one is
 * closed when it leaves the LRU and no read on it is pending, and every one is closed when the reader is
 * garbage collected (a layer switched away). A READY pyramid's slabs never change: an open one always
 * reads what the descriptor says.
 */
import type { RangeHandle, Storage } from '../storage/storage.js';

interface Entry {
  handle: Promise<RangeHandle>;
  pending: number;
  evicted: boolean;
}

const closeAll = (entries: Map<string, Entry>) => {
  for (const e of entries.values())
    void e.handle.then(
      (h) => h.close(),
      () => {},
    );
};
const finalizer = new FinalizationRegistry(closeAll);

export class SlabHandles {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly storage: Storage & { openForRanges(key: string): Promise<RangeHandle> },
    private readonly max: number,
  ) {
    finalizer.register(this, this.entries);
  }

  async read(key: string, offset: number, length: number): Promise<Buffer> {
    let e = this.entries.get(key);
    if (e) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, e);
    } else {
      e = { handle: this.storage.openForRanges(key), pending: 0, evicted: false };
      this.entries.set(key, e);
      const opened = e;
      e.handle.catch(() => {
        if (this.entries.get(key) === opened) this.entries.delete(key);
      });
      this.evict();
    }
    e.pending++;
    try {
      return await (await e.handle).read(offset, length);
    } finally {
      e.pending--;
      if (e.evicted && e.pending === 0)
        void e.handle.then(
          (h) => h.close(),
          () => {},
        );
    }
  }

  private evict(): void {
    while (this.entries.size > this.max) {
      const [key, e] = this.entries.entries().next().value!;
      this.entries.delete(key);
      e.evicted = true;
      if (e.pending === 0)
        void e.handle.then(
          (h) => h.close(),
          () => {},
        );
    }
  }
}
