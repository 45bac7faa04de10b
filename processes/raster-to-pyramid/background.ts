/**
 * The existing slab under a recomputed one, for updates (rok4.md §8.7 steps 4–5): read in the worker from
 * the ancestor pyramid, decoded with its mask (a pyramid without masks counts as data wherever it has tiles).
 */
import { Rok4Reader, type SlabPixels } from '../../src/rok4/reader.js';
import { storageOf, type StorageDescriptor } from '../../src/storage/factory.js';

/** Where the background slab of a task is. Plain data (crosses threads). */
export interface BackgroundRef {
  storage: StorageDescriptor;
  /** The ancestor pyramid (its descriptor name). */
  name: string;
  level: string;
  col: number;
  row: number;
}

const readers = new Map<string, Promise<Rok4Reader>>();

/** The decoded background slab, or null when the ancestor has none there. */
export async function readBackground(ref: BackgroundRef | undefined): Promise<SlabPixels | null> {
  if (!ref) return null;
  const key = `${ref.storage.root}|${ref.name}`;
  let reader = readers.get(key);
  if (!reader) {
    reader = Rok4Reader.open(storageOf(ref.storage), ref.name);
    readers.set(key, reader);
    reader.catch(() => readers.delete(key));
  }
  return (await reader).readSlab(ref.level, ref.col, ref.row);
}

/** Rows [y0, y0 + rows) of a background slab: the starting pixels of a bottom strip. */
export function backgroundRows(bg: SlabPixels, y0: number, rows: number): { data: Uint8Array | Float32Array; mask: Uint8Array } {
  const C = bg.channels;
  return {
    data: bg.pixels.slice(y0 * bg.width * C, (y0 + rows) * bg.width * C),
    mask: bg.mask.slice(y0 * bg.width, (y0 + rows) * bg.width),
  };
}
