/**
 * Worker-pool tasks of the COG writer (DESIGN §6: pixels stay in worker threads, buffers are
 * transferred). One task = one strip of tiles of one level: read (full resolution, from the source)
 * or receive (overviews, from the level above) the pixels, encode every tile of the strip with its
 * mask tile, pack them with their leaders/trailers in file order, and return the strip halved with
 * masked 2×2 averaging for the next level (cog.md §4 step 2).
 */
import { extractTile, resolveLayout } from '../raster/geotiff-writer.js';
import sharp from 'sharp';
import { moveWith } from '../workers/transfer.js';
import { openRasterWindows, type RasterInfo, type RasterWindowReader } from '../raster/geotiff-source.js';
import { encodeImageTile, encodeMaskTile, type TileCodec } from './tile-codecs.js';
import { LEADER, TRAILER } from './layout.js';
import { halveBytes, joinParts, type PartedInput, resamplePartedRows } from './overview-resample.js';
import { throwIfCancelled } from '../workers/cancellation.js';

export interface StripTask {
  codec: TileCodec;
  /** Width of the level and number of rows of this strip (tileSize, fewer on the last strip). */
  width: number;
  rows: number;
  /** Full resolution: read rows [y, y + rows) of the source; `dropAlpha` removes its alpha band. */
  source?: { info: RasterInfo; y: number; dropAlpha: boolean };
  /** Overviews: the rows of the level above this strip reads, the level's height and the strip's first row. */
  parent?: PartedInput;
  /** Overviews whose rows the strips of the level above already computed (`halveForNext`): rows [row0, row0 + rows). */
  own?: PartedInput;
  levelHeight?: number;
  row0?: number;
  /** Write a mask tile after each image tile. */
  maskTiles: boolean;
  /** Value written where an overview pixel has no data (the nodata value, or 0 under a mask IFD). */
  fill: number;
  /** Also return the strip's pixels (every level but the last: the next level reads them). */
  keep: boolean;
  /**
   * With `keep`: return the next level's rows instead, this strip halved 2 × 2 (the next level is exactly half
   * this one). A quarter of the bytes cross to the main thread, and the full-resolution window, which libvips
   * allocated and Node therefore copies instead of transferring, never crosses.
   */
  halveForNext?: boolean;
  /** Full resolution: also return the validity reduced by this factor (majority of each block). */
  footprintFactor?: number;
}

export interface StripResult {
  /** Tiles of the strip in file order, each `leader | bytes | trailer`, mask tile after image tile. */
  packed: Uint8Array;
  /** Offsets (in `packed`, after the leader) and byte counts of the image tiles, and of the mask tiles. */
  imageOffsets: number[];
  imageCounts: number[];
  maskOffsets: number[];
  maskCounts: number[];
  level?: { data: Uint8Array | Float32Array; mask?: Uint8Array };
  /** Reduced validity grid of the strip, ceil(width / f) × ceil(rows / f), 255 = data. */
  footprint?: Uint8Array;
}

// libvips caches recent operations and their decoded tiles (50 MB by default) per process; strips never
// revisit a tile, so a small cache keeps peak RSS down (as the pyramid's slab tasks do).
sharp.cache({ memory: 16, items: 20, files: 4 });

const readers = new Map<string, RasterWindowReader>();

function readerOf(info: RasterInfo): RasterWindowReader {
  let r = readers.get(info.path);
  if (!r) {
    r = openRasterWindows(info);
    readers.set(info.path, r);
  }
  return r;
}

function dropBand(data: Uint8Array, channels: number, band: number): Uint8Array {
  const pixels = data.length / channels;
  const out = new Uint8Array(pixels * (channels - 1));
  for (let p = 0, o = 0, i = 0; p < pixels; p++, i += channels) {
    for (let c = 0; c < channels; c++) if (c !== band) out[o++] = data[i + c];
  }
  return out;
}

/** Validity reduced by `f`: a block is data when at least half of its pixels are (majority rule, cog.md §8). */
export function reduceMask(mask: Uint8Array, width: number, rows: number, f: number): Uint8Array {
  const ow = Math.ceil(width / f);
  const oh = Math.ceil(rows / f);
  const counts = new Uint32Array(ow * oh);
  for (let y = 0; y < rows; y++) {
    const base = Math.floor(y / f) * ow;
    const row = y * width;
    for (let x = 0; x < width; x++) if (mask[row + x] !== 0) counts[base + Math.floor(x / f)]++;
  }
  const out = new Uint8Array(ow * oh);
  for (let by = 0; by < oh; by++) {
    const bh = Math.min(f, rows - by * f);
    for (let bx = 0; bx < ow; bx++) {
      const bw = Math.min(f, width - bx * f);
      out[by * ow + bx] = 2 * counts[by * ow + bx] >= bw * bh ? 255 : 0;
    }
  }
  return out;
}

/** Encodes one strip of tiles (see {@link StripTask}). */
export async function encodeStrip(task: StripTask): Promise<StripResult> {
  const { codec, width, rows } = task;
  let data: Uint8Array | Float32Array;
  let mask: Uint8Array | undefined;
  if (task.source) {
    const { info, y, dropAlpha } = task.source;
    const window = await readerOf(info).read({ x: 0, y, width, height: rows });
    data = dropAlpha && info.alphaBand !== undefined ? dropBand(window.data as Uint8Array, info.bands, info.alphaBand) : window.data;
    mask = window.mask;
  } else if (task.own) {
    const joined = joinParts(task.own);
    if (joined.firstRow !== task.row0 || joined.rows !== rows) {
      throw new Error(`strip of rows ${task.row0}+${rows} got rows ${joined.firstRow}+${joined.rows}`);
    }
    ({ data, mask } = joined);
  } else {
    if (!task.parent || task.levelHeight === undefined || task.row0 === undefined) {
      throw new Error('a strip task needs a source or a parent');
    }
    ({ data, mask } = resamplePartedRows(task.parent, width, task.levelHeight, task.row0, rows, task.fill));
  }
  if (data.length !== width * rows * codec.bands) {
    throw new Error(`strip holds ${data.length} samples, ${width * rows * codec.bands} expected`);
  }

  const T = codec.tileSize;
  const layout = resolveLayout({
    width,
    height: rows,
    bands: codec.bands,
    sampleType: codec.sampleType,
    tileSize: T as 256 | 512,
    alpha: false,
  });
  const across = Math.ceil(width / T);
  throwIfCancelled();
  // Every encode settles before the task does, even when one fails: a thread must not be left with zlib
  // work in flight (src/workers/cancellation.ts).
  const settled = await Promise.allSettled(
    Array.from({ length: across }, async (_, col) => {
      const image = await encodeImageTile(codec, extractTile(layout, data, width, rows, col * T));
      const maskTile = task.maskTiles
        ? await encodeMaskTile(mask ?? new Uint8Array(width * rows).fill(255), width, rows, col * T, T)
        : undefined;
      return { image, maskTile };
    }),
  );
  const encoded = settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
  let total = 0;
  for (const e of encoded) total += LEADER + e.image.length + TRAILER + (e.maskTile ? LEADER + e.maskTile.length + TRAILER : 0);
  const packed = new Uint8Array(total);
  const view = new DataView(packed.buffer);
  const result: StripResult = { packed, imageOffsets: [], imageCounts: [], maskOffsets: [], maskCounts: [] };
  let pos = 0;
  const put = (bytes: Uint8Array, offsets: number[], counts: number[]) => {
    view.setUint32(pos, bytes.length, true);
    packed.set(bytes, pos + LEADER);
    offsets.push(pos + LEADER);
    counts.push(bytes.length);
    // Trailer: the last 4 bytes of the tile again (GDAL's BLOCK_TRAILER=LAST_4_BYTES_REPEATED).
    packed.set(bytes.subarray(Math.max(0, bytes.length - TRAILER)), pos + LEADER + bytes.length + Math.max(0, TRAILER - bytes.length));
    pos += LEADER + bytes.length + TRAILER;
  };
  for (const e of encoded) {
    put(e.image, result.imageOffsets, result.imageCounts);
    if (e.maskTile) put(e.maskTile, result.maskOffsets, result.maskCounts);
  }

  if (task.keep && task.halveForNext) {
    const src = { data: data as Uint8Array, ...(mask ? { mask } : {}), width, height: rows, firstRow: 0, rows, channels: codec.bands };
    result.level = halveBytes(src, width / 2, 0, Math.ceil(rows / 2), task.fill);
  } else if (task.keep) result.level = { data: owned(data), ...(mask ? { mask: owned(mask) } : {}) };
  if (task.footprintFactor && mask) result.footprint = reduceMask(mask, width, rows, task.footprintFactor);
  const buffers = [packed, result.level?.data, result.level?.mask, result.footprint].filter((v) => v).map((v) => v!.buffer);
  return moveWith(result, buffers);
}

/** A view that owns its whole ArrayBuffer (pooled Buffers share theirs and cannot be moved). */
function owned<T extends Uint8Array | Float32Array>(v: T): T {
  if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && !(v.buffer instanceof SharedArrayBuffer)) return v;
  return v.slice() as T;
}

export interface MaskStripTask {
  info: RasterInfo;
  y: number;
  rows: number;
  factor: number;
}

/** Validity of rows [y, y + rows) of a source reduced by `factor`; undefined when it has no mask. */
export async function maskStrip(task: MaskStripTask): Promise<Uint8Array | undefined> {
  const { info, y, rows, factor } = task;
  const window = await readerOf(info).read({ x: 0, y, width: info.width, height: rows });
  return window.mask ? reduceMask(window.mask, info.width, rows, factor) : undefined;
}
