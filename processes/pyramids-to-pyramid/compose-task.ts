/** Worker task of pyramids-to-pyramid: decode the inputs' versions of one slab, compose, encode. */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { storageOf, type StorageDescriptor } from '../../src/storage/factory.js';
import { SlabEncoder, type SlabSpec } from '../raster-to-pyramid/slab-encoder.js';
import { compose, type Layer, type MergeMethod } from './compose.js';

export interface ComposeTask {
  storage: StorageDescriptor;
  /** Input pyramid names, in priority order (first = on top). */
  sources: string[];
  level: string;
  col: number;
  row: number;
  method: MergeMethod;
  /** Output slab spec (format, channels, nodata, masks of the output). */
  spec: SlabSpec;
}

export interface ComposeResult {
  data?: Uint8Array;
  mask?: Uint8Array;
  validPixels: number;
}

const readers = new Map<string, Promise<Rok4Reader>>();
function readerOf(storage: StorageDescriptor, name: string): Promise<Rok4Reader> {
  const k = `${storage.root}|${name}`;
  let r = readers.get(k);
  if (!r) {
    r = Rok4Reader.open(storageOf(storage), name);
    readers.set(k, r);
    r.catch(() => readers.delete(k));
  }
  return r;
}

/** Drops cached readers (a pyramid of that name may have been rewritten). */
export function forgetReaders(): void {
  readers.clear();
}

export async function composeSlab(task: ComposeTask): Promise<ComposeResult> {
  forgetReaders();
  const layers: Layer[] = [];
  let width = 0, height = 0;
  for (const name of task.sources) {
    const reader = await readerOf(task.storage, name);
    const slab = await reader.readSlab(task.level, task.col, task.row);
    if (!slab) continue;
    width = slab.width;
    height = slab.height;
        // An input without mask slabs: every pixel of its existing tiles is data (readSlab's derived mask), §9.4.
    layers.push({ pixels: slab.pixels, mask: slab.mask, channels: slab.channels });
  }
  if (layers.length === 0) return { validPixels: 0 };
  const { pixels, mask } = compose(task.method, layers, task.spec.channels, task.spec.sampleType, task.spec.nodata, width * height);
  const encoder = new SlabEncoder(task.spec);
  await encoder.addStrip(pixels, mask, task.spec.tilesPerHeight);
  const slab = await encoder.finish();
  const value: ComposeResult = { data: new Uint8Array(slab.data), mask: slab.mask && new Uint8Array(slab.mask), validPixels: encoder.validPixels };
  const list = [value.data!.buffer, ...(value.mask ? [value.mask.buffer] : [])];
  return move({
    get [transferableSymbol]() {
      return list;
    },
    get [valueSymbol]() {
      return value;
    },
  } as never) as unknown as ComposeResult;
}

