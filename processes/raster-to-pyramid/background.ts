/**
 * The existing slab under a recomputed one, for updates (rok4.md §8.7 steps 4–5): read in the worker from
 * the ancestor pyramid, decoded with its mask (a pyramid without masks counts as data wherever it has tiles).
 */
import { Rok4Reader, type SlabPixels } from '../../src/rok4/reader.js';
import { storageOf, type StorageDescriptor } from '../../src/storage/factory.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { readEncodedSlab, type EncodedSlab } from '../../src/rok4/slab-tiles.js';
import { decodeTile, decodeTileSync, type TileSpec } from '../../src/rok4/tile-codec.js';

/** Where the background slab of a task is. Plain data (crosses threads). */
export interface BackgroundRef {
  storage: StorageDescriptor;
  /** The ancestor pyramid: its name and storage folder ('' or ending with '/'). */
  name: string;
  folder: string;
  /** Its stored data id: a name may be reused by a later pyramid, a cached reader must not. */
  id: string;
  level: string;
  col: number;
  row: number;
}

const readers = new Map<string, Promise<Rok4Reader>>();

/** The decoded background slab, or null when the ancestor has none there. */
export async function readBackground(ref: BackgroundRef | undefined): Promise<SlabPixels | null> {
  return ref ? (await readerOf(ref)).readSlab(ref.level, ref.col, ref.row) : null;
}

/** The ancestor's reader (one per worker and stored data: an ancestor is READY and cannot change while it is read). */
function readerOf(ref: BackgroundRef): Promise<Rok4Reader> {
  const key = `${ref.storage.root}|${ref.id}`;
  let reader = readers.get(key);
  if (!reader) {
    reader = Rok4Reader.open(storageOf(ref.storage), ref.name, ref.folder);
    readers.set(key, reader);
    reader.catch(() => readers.delete(key));
  }
  return reader;
}

/** The ancestor's slab as encoded tiles (data and mask), to copy untouched tiles without decoding. */
export interface EncodedBackground {
  data: EncodedSlab;
  mask: EncodedSlab | null;
  spec: TileSpec;
}

export async function readEncodedBackground(ref: BackgroundRef | undefined): Promise<EncodedBackground | null> {
  if (!ref) return null;
  const r = await readerOf(ref);
  const storage = storageOf(ref.storage);
  const data = await readEncodedSlab(storage, r.slabKey(ref.level, ref.col, ref.row, 'DATA')!);
  if (!data) return null;
  const maskKey = r.hasMasks ? r.slabKey(ref.level, ref.col, ref.row, 'MASK') : undefined;
  const mask = maskKey ? await readEncodedSlab(storage, maskKey) : null;
  const info = parseFormat(r.descriptor.format);
  return {
    data,
    mask,
    spec: {
      width: data.header.tileWidth,
      height: data.header.tileHeight,
      channels: data.header.channels,
      compression: info.compression,
      sampleType: info.sampleType,
    },
  };
}

/** Decoded pixels and mask of one background tile (a tile without mask slab is all data). */
export async function decodeBackgroundTile(
  bg: EncodedBackground,
  index: number,
): Promise<{ data: Uint8Array | Float32Array; mask: Uint8Array } | null> {
  const bytes = bg.data.tiles[index];
  if (!bytes) return null;
  const data = await decodeTile(bytes, bg.spec);
  const maskBytes = bg.mask?.tiles[index];
  const mask = maskBytes
    ? (decodeTileSync(maskBytes, {
        width: bg.spec.width,
        height: bg.spec.height,
        channels: 1,
        compression: 'zip',
        sampleType: 'uint8',
      }) as Uint8Array)
    : new Uint8Array(bg.spec.width * bg.spec.height).fill(bg.mask ? 0 : 255);
  return { data, mask };
}
