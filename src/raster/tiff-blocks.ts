/**
 * Windows of a plain 8-bit TIFF level decoded block by block, without libvips: the bottom slabs' bands
 * (banded-reader.ts) read ~2 source pixels per target pixel on a fine source, and libvips' pipeline
 * around its own inflate (region copies, a fresh output buffer faulted in page by page, its thread hops)
 * cost as much again as the inflate itself (issue 16: L's extra cost per tile over M was in libvips,
 * memmove and page faults).
 *
 * Handled here (TIFF 6.0 §8, §14, §15; Adobe's deflate, TIFF technical note 2): tiles or strips, chunky
 * samples (PlanarConfiguration 1), 8 bits per sample, no compression, Deflate (8 and 32946), LZW (5) or
 * PackBits (32773), horizontal differencing (Predictor 2), min-is-black or RGB samples (extra samples
 * such as alpha included), delivered as stored. Anything else (JPEG, YCbCr, palette, CMYK, planar,
 * 16-bit…) stays with libvips: {@link blockLayoutOf} says undefined.
 *
 * Measured on the bench's rasters (bench:pyramid --only ours, alternated with DALLAGE_TIFF_BLOCKS=off):
 * L 24.2–32.2 s → 19.4–20.9 s, M 6.3–8.4 s → 5.3–5.5 s, the same slabs to the byte.
 */
import { read as readCallback, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import type { GeoTIFFImage } from 'geotiff';
import { lzwDecode } from '../rok4/codec-lzw.js';
import { packBitsDecode } from '../rok4/codec-packbits.js';
import { inflateAsync, inflateIntoSync, libdeflateAvailable } from './inflate.js';

const readAt = promisify(readCallback);

/** How a TIFF level's blocks are laid out and coded, when this module can decode them. */
export interface BlockLayout {
  width: number;
  height: number;
  /** Block size: the tile's, or the full width and RowsPerStrip for strips. */
  blockWidth: number;
  blockHeight: number;
  samples: number;
  compression: 1 | 5 | 8 | 32773;
  /** 2 = horizontal differencing. */
  predictor: 1 | 2;
  offsets: ArrayLike<number | bigint>;
  counts: ArrayLike<number | bigint>;
}

/** Photometric interpretations delivered as stored: min-is-black and RGB (libvips keeps min-is-white, palette, CMYK and YCbCr, which it converts). */
const AS_STORED_PHOTOMETRIC = new Set([1, 2]);

/** The layout of `image` when its blocks can be decoded here, else undefined. */
export async function blockLayoutOf(image: GeoTIFFImage): Promise<BlockLayout | undefined> {
  const fd = image.getFileDirectory();
  const bits = fd.getValue('BitsPerSample') as ArrayLike<number> | number | undefined;
  const bitList = typeof bits === 'number' ? [bits] : Array.from(bits ?? [1]);
  const samples = Number(fd.getValue('SamplesPerPixel') ?? 1);
  const planar = Number(fd.getValue('PlanarConfiguration') ?? 1);
  const rawCompression = Number(fd.getValue('Compression') ?? 1);
  const compression = rawCompression === 32946 ? 8 : rawCompression;
  const predictor = Number((fd as unknown as { getValue(t: string): unknown }).getValue('Predictor') ?? 1);
  const photometric = Number(fd.getValue('PhotometricInterpretation') ?? 1);
  const sampleFormat = fd.getValue('SampleFormat') as ArrayLike<number> | number | undefined;
  const formats = typeof sampleFormat === 'number' ? [sampleFormat] : Array.from(sampleFormat ?? [1]);
  if (!bitList.every((b) => b === 8) || !formats.every((f) => f === 1)) return undefined;
  if (planar !== 1 && samples > 1) return undefined;
  if (compression !== 1 && compression !== 5 && compression !== 8 && compression !== 32773) return undefined;
  if (predictor !== 1 && predictor !== 2) return undefined;
  if (!AS_STORED_PHOTOMETRIC.has(photometric)) return undefined;
  const tiled = fd.hasTag('TileOffsets');
  const offsets = (await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets')) as ArrayLike<number | bigint> | undefined;
  const counts = (await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts')) as ArrayLike<number | bigint> | undefined;
  if (!offsets || !counts) return undefined;
  const width = image.getWidth(),
    height = image.getHeight();
  const blockWidth = tiled ? image.getTileWidth() : width;
  const blockHeight = tiled ? image.getTileHeight() : Math.min(height, Number(fd.getValue('RowsPerStrip') ?? height));
  const expected = Math.ceil(width / blockWidth) * Math.ceil(height / blockHeight);
  if (!(blockWidth > 0 && blockHeight > 0) || offsets.length < expected || counts.length < expected) return undefined;
  return {
    width,
    height,
    blockWidth,
    blockHeight,
    samples,
    compression: compression as BlockLayout['compression'],
    predictor: predictor as 1 | 2,
    offsets,
    counts,
  };
}

/** A decoding error that names the block, so a corrupt source says where it is. */
export class TiffBlockError extends Error {
  override name = 'TiffBlockError';
}

/**
 * This thread's buffers for a block's stored bytes and its samples, reused block after block by the
 * synchronous path (a window's blocks are decoded one at a time, with no await between a block's decode
 * and its copy, so one pair per thread is enough).
 */
const scratch = { stored: new Uint8Array(0), samples: new Uint8Array(0) };
function scratchOf(kind: 'stored' | 'samples', bytes: number): Uint8Array {
  if (scratch[kind].length < bytes) scratch[kind] = new Uint8Array(Math.ceil(bytes * 1.25));
  return scratch[kind].subarray(0, bytes);
}

/**
 * True when this thread decodes synchronously: a worker thread (it has nothing else to do meanwhile, and
 * the file is on a local disk or in the page cache: the same choice as FILE storage's kept-open ranges),
 * with libdeflate for Deflate blocks. The main thread, which must keep serving, reads and inflates
 * asynchronously, as does a worker without libdeflate (node:zlib's inflate then runs on libuv's pool).
 */
function synchronous(layout: BlockLayout): boolean {
  return !isMainThread && (layout.compression !== 8 || libdeflateAvailable());
}

/** Checks a block's decoded length (`samples` holds at least what it should) and undoes its predictor. */
function finish(samples: Uint8Array, decoded: number, layout: BlockLayout, index: number, rows: number): Uint8Array {
  const rowBytes = layout.blockWidth * layout.samples;
  const expected = rowBytes * rows;
  if (decoded < expected) throw new TiffBlockError(`block ${index} decodes to ${decoded} bytes, ${expected} expected`);
  if (layout.predictor === 2) undoHorizontalDifferencing(samples, rowBytes, rows, layout.samples);
  return samples;
}

/** Decodes what does not need zlib: uncompressed, LZW, PackBits (and Deflate with libdeflate). */
function decodeStored(stored: Uint8Array, samples: Uint8Array, layout: BlockLayout): number {
  if (layout.compression === 1) {
    samples.set(stored.subarray(0, Math.min(stored.length, samples.length)));
    return Math.min(stored.length, samples.length);
  }
  if (layout.compression === 8) return inflateIntoSync(stored, samples) ?? 0;
  const raw = layout.compression === 5 ? lzwDecode(stored, samples.length) : packBitsDecode(stored, samples.length);
  const decoded = Math.min(raw.length, samples.length);
  samples.set(raw.subarray(0, decoded));
  return decoded;
}

function decodeError(index: number, err: unknown): TiffBlockError {
  return err instanceof TiffBlockError ? err : new TiffBlockError(`block ${index} cannot be decoded: ${(err as Error).message}`);
}

/**
 * Block `index` decoded into this thread's sample buffer (`rows` × blockWidth × samples bytes; a strip
 * at the bottom has fewer rows), valid until the next block is decoded. An empty block (byte count 0: a
 * sparse file) is all zeros, as GDAL reads it.
 */
function decodeBlockSync(fd: number, layout: BlockLayout, index: number, rows: number): Uint8Array {
  const samples = scratchOf('samples', layout.blockWidth * layout.samples * rows);
  const count = Number(layout.counts[index]);
  if (count === 0) return samples.fill(0);
  const stored = scratchOf('stored', count);
  const bytesRead = readSync(fd, stored, 0, count, Number(layout.offsets[index]));
  if (bytesRead !== count) throw new TiffBlockError(`block ${index}: ${bytesRead} of its ${count} bytes could be read`);
  try {
    return finish(samples, decodeStored(stored, samples, layout), layout, index, rows);
  } catch (err) {
    throw decodeError(index, err);
  }
}

/** {@link decodeBlockSync} without blocking the thread, into a buffer of its own. */
async function decodeBlockAsync(fd: number, layout: BlockLayout, index: number, rows: number): Promise<Uint8Array> {
  const length = layout.blockWidth * layout.samples * rows;
  const count = Number(layout.counts[index]);
  if (count === 0) return new Uint8Array(length);
  const stored = new Uint8Array(count);
  const { bytesRead } = await readAt(fd, stored, 0, count, Number(layout.offsets[index]));
  if (bytesRead !== count) throw new TiffBlockError(`block ${index}: ${bytesRead} of its ${count} bytes could be read`);
  try {
    if (layout.compression === 8 && !libdeflateAvailable()) {
      const raw = await inflateAsync(stored, length);
      return finish(raw.subarray(0, length), raw.length, layout, index, rows);
    }
    const samples = new Uint8Array(length);
    return finish(samples, decodeStored(stored, samples, layout), layout, index, rows);
  } catch (err) {
    throw decodeError(index, err);
  }
}

/** TIFF 6.0 §14: each sample after the first of a row is stored as its difference to the sample one pixel left. */
function undoHorizontalDifferencing(raw: Uint8Array, rowBytes: number, rows: number, samples: number): void {
  for (let r = 0; r < rows; r++) {
    const start = r * rowBytes;
    for (let i = start + samples, end = start + rowBytes; i < end; i++) raw[i] = (raw[i] + raw[i - samples]) & 0xff;
  }
}

/** The blocks a window touches, row of blocks by row of blocks, with the part of each it takes. */
function* blocksOf(layout: BlockLayout, window: { x: number; y: number; width: number; height: number }) {
  const { blockWidth: bw, blockHeight: bh } = layout;
  const { x, y, width, height } = window;
  const across = Math.ceil(layout.width / bw);
  const stripped = bw === layout.width;
  for (let by = Math.floor(y / bh); by * bh < y + height; by++) {
    const top = by * bh;
    // Strips end at the image's last row; tiles are whole blocks (padded) in the file.
    const rows = stripped ? Math.min(bh, layout.height - top) : bh;
    for (let bx = Math.floor(x / bw); bx * bw < x + width; bx++) {
      const left = bx * bw;
      yield {
        index: by * across + bx,
        rows,
        top,
        left,
        r0: Math.max(y, top),
        r1: Math.min(y + height, top + rows),
        c0: Math.max(x, left),
        c1: Math.min(x + width, left + bw),
      };
    }
  }
}

/**
 * Samples of the window [x, x + width) × [y, y + height) of a level, interleaved, into `into` when given
 * (at least width × height × samples bytes) or a new array. Each block the window touches is decoded
 * once and its rows copied into place.
 */
export async function readBlockWindow(
  fd: number,
  layout: BlockLayout,
  window: { x: number; y: number; width: number; height: number },
  into?: Uint8Array,
): Promise<Uint8Array> {
  const { blockWidth: bw, samples } = layout;
  const { x, y, width, height } = window;
  const out = into ?? new Uint8Array(width * height * samples);
  const sync = synchronous(layout);
  for (const b of blocksOf(layout, window)) {
    // No await between a synchronous decode and its copy: the block lives in the thread's scratch.
    const block = sync ? decodeBlockSync(fd, layout, b.index, b.rows) : await decodeBlockAsync(fd, layout, b.index, b.rows);
    const bytes = (b.c1 - b.c0) * samples;
    for (let r = b.r0; r < b.r1; r++) {
      const from = ((r - b.top) * bw + (b.c0 - b.left)) * samples;
      out.set(block.subarray(from, from + bytes), ((r - y) * width + (b.c0 - x)) * samples);
    }
  }
  return out;
}
