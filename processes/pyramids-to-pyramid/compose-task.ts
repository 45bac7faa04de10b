/**
 * Worker task of pyramids-to-pyramid: one output slab from the inputs' versions of it (rok4.md §9.3–§9.4).
 * Tile by tile: a tile only one input has data in — or, for TOP, whose top input covers it wholly — is
 * copied encoded, as it is; the others are decoded, composed and encoded again.
 */
import { moveWith } from '../../src/workers/transfer.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { readEncodedSlab, type EncodedSlab } from '../../src/rok4/slab-tiles.js';
import { decodeTile, decodeTileSync, type TileSpec } from '../../src/rok4/tile-codec.js';
import { storageOf, type StorageDescriptor } from '../../src/storage/factory.js';
import { constantMaskTile, scanMask, SlabEncoder, type SlabSpec } from '../../src/pyramid/slab-encoder.js';
import { compose, type Layer, type MergeMethod } from './compose.js';
import { throwIfCancelled } from '../../src/workers/cancellation.js';

export interface ComposeTask {
  storage: StorageDescriptor;
  /** Input pyramids, in priority order (first = on top): name, storage folder, stored data id. */
  sources: Array<{ name: string; folder: string; id: string }>;
  level: string;
  col: number;
  row: number;
  method: MergeMethod;
  /** Output slab spec (format, channels, nodata, masks of the output). */
  spec: SlabSpec;
  /** Output format name: inputs of that format and channel count have their tiles copied as they are. */
  format: string;
}

export interface ComposeResult {
  data?: Uint8Array;
  mask?: Uint8Array;
  validPixels: number;
}

const readers = new Map<string, Promise<Rok4Reader>>();
/** One reader per worker and input stored data (a name may be reused by a later pyramid, an id not). */
function readerOf(task: ComposeTask, source: ComposeTask['sources'][number]): Promise<Rok4Reader> {
  const k = `${task.storage.root}|${source.id}`;
  let r = readers.get(k);
  if (!r) {
    if (readers.size > 64) readers.clear();
    r = Rok4Reader.open(storageOf(task.storage), source.name, source.folder);
    readers.set(k, r);
    r.catch(() => readers.delete(k));
  }
  return r;
}

interface SourceSlab {
  data: EncodedSlab;
  mask: EncodedSlab | null;
  hasMasks: boolean;
  spec: TileSpec;
  sameFormat: boolean;
}

export async function composeSlab(task: ComposeTask): Promise<ComposeResult> {
  const storage = storageOf(task.storage);
  // Every input's slab and mask are asked for at once: on S3 each is a GET whose latency would otherwise
  // add up, input after input, while this thread waits.
  const read = await Promise.all(
    task.sources.map(async (source) => {
      const reader = await readerOf(task, source);
      const maskKey = reader.hasMasks ? reader.slabKey(task.level, task.col, task.row, 'MASK') : undefined;
      const [data, mask] = await Promise.all([
        readEncodedSlab(storage, reader.slabKey(task.level, task.col, task.row, 'DATA')!),
        maskKey ? readEncodedSlab(storage, maskKey) : null,
      ]);
      return { reader, data, mask };
    }),
  );
  const sources: SourceSlab[] = [];
  for (const { reader, data, mask } of read) {
    if (!data) continue;
    const info = parseFormat(reader.descriptor.format);
    sources.push({
      data,
      mask,
      hasMasks: reader.hasMasks,
      spec: {
        width: data.header.tileWidth,
        height: data.header.tileHeight,
        channels: data.header.channels,
        compression: info.compression,
        sampleType: info.sampleType,
      },
      sameFormat: reader.descriptor.format === task.format && data.header.channels === task.spec.channels,
    });
  }
  const { spec } = task;
  const encoder = new SlabEncoder(spec);
  const n = spec.tilesPerWidth * spec.tilesPerHeight;
  const pixels = spec.tileWidth * spec.tileHeight;
  const maskSpec: TileSpec = { width: spec.tileWidth, height: spec.tileHeight, channels: 1, compression: 'zip', sampleType: 'uint8' };
  const fullMask = constantMaskTile(spec.tileWidth, spec.tileHeight, 255);
  const emptyMask = constantMaskTile(spec.tileWidth, spec.tileHeight, 0);
  for (let i = 0; i < n; i++) {
    throwIfCancelled();
    // Inputs with data in this tile, in priority order, with their masks.
    const candidates: Array<{
      source: SourceSlab;
      bytes: Uint8Array;
      maskBytes: Uint8Array | null;
      mask: Uint8Array | undefined;
      valid: number;
      full: boolean;
    }> = [];
    for (const source of sources) {
      const bytes = source.data.tiles[i];
      if (!bytes) continue;
      let mask: Uint8Array | undefined;
      let maskBytes: Uint8Array | null = null;
      let valid = pixels,
        full = true;
      if (source.hasMasks && source.mask) {
        maskBytes = source.mask.tiles[i];
        if (!maskBytes) continue;
        // Masks written by dallage hold constant tiles as the same bytes: known without inflating them (a
        // full mask composes as no mask).
        const encoded = Buffer.from(maskBytes.buffer, maskBytes.byteOffset, maskBytes.byteLength);
        if (encoded.equals(emptyMask)) continue;
        if (!encoded.equals(fullMask)) {
          mask = decodeTileSync(maskBytes, maskSpec) as Uint8Array;
          ({ valid, full } = scanMask(mask));
          if (valid === 0) continue;
        }
      }
      candidates.push({ source, bytes, maskBytes, mask, valid, full });
      if (task.method === 'REPLACE') break;
    }
    if (candidates.length === 0) {
      encoder.setTile(i, null, null);
      continue;
    }
    const top = candidates[0];
    const copyable =
      top.source.sameFormat && task.method !== 'ALPHATOP' && (candidates.length === 1 || (top.full && task.method !== 'MULTIPLY'));
    if (copyable) {
      encoder.setEncodedTile(i, top.bytes, top.maskBytes, top.valid);
      continue;
    }
    const layers: Layer[] = [];
    for (const c of candidates)
      layers.push({ pixels: await decodeTile(c.bytes, c.source.spec), mask: c.mask, channels: c.source.spec.channels });
    const composed = compose(task.method, layers, spec.channels, spec.sampleType, spec.nodata, pixels);
    encoder.setTile(i, composed.pixels, composed.mask);
  }
  if (encoder.validPixels === 0) {
    await encoder.flush();
    return { validPixels: 0 };
  }
  const slab = await encoder.finish();
  const value: ComposeResult = {
    data: new Uint8Array(slab.data),
    mask: slab.mask && new Uint8Array(slab.mask),
    validPixels: encoder.validPixels,
  };
  return moveWith(value, [value.data!.buffer, ...(value.mask ? [value.mask.buffer] : [])]);
}
