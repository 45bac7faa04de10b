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
  /** Tiles (padded to whole blocks at the right and bottom) rather than strips (the last one shorter). */
  tiled: boolean;
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
  // A compressed block is decoded whole for each band it crosses (bands are ~256 rows, whole blocks up to
  // 1024: banded-reader.ts), into a buffer of its size: taller or larger ones stay with libvips, which
  // streams them. Uncompressed blocks are read row span by row span, whatever their size.
  if (compression !== 1 && (blockHeight > MAX_BLOCK_ROWS || blockWidth * blockHeight * samples > MAX_BLOCK_BYTES)) return undefined;
  return {
    width,
    height,
    blockWidth,
    blockHeight,
    tiled,
    samples,
    compression: compression as BlockLayout['compression'],
    // The predictor belongs to LZW and Deflate: libtiff (so GDAL and libvips) ignores it elsewhere.
    predictor: compression === 5 || compression === 8 ? (predictor as 1 | 2) : 1,
    offsets,
    counts,
  };
}

/** Limits of the compressed blocks decoded here (see {@link blockLayoutOf}). */
const MAX_BLOCK_ROWS = 1024;
const MAX_BLOCK_BYTES = 64 << 20;

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
 * with libdeflate for Deflate blocks. The main thread, which must keep serving, reads each block
 * asynchronously and so yields between blocks (a block's decode itself, with libdeflate, LZW or PackBits,
 * is well under a millisecond); without libdeflate, node:zlib's inflate runs on libuv's pool.
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

/** Decodes a compressed block's stored bytes into `samples`: LZW, PackBits, and Deflate with libdeflate. */
function decodeStored(stored: Uint8Array, samples: Uint8Array, layout: BlockLayout): number {
  if (layout.compression === 8) return inflateIntoSync(stored, samples) ?? 0;
  const raw = layout.compression === 5 ? lzwDecode(stored, samples.length) : packBitsDecode(stored, samples.length);
  const decoded = Math.min(raw.length, samples.length);
  samples.set(raw.subarray(0, decoded));
  return decoded;
}

function decodeError(index: number, err: unknown): TiffBlockError {
  return err instanceof TiffBlockError ? err : new TiffBlockError(`block ${index} cannot be decoded: ${(err as Error).message}`);
}

/** The part of one block a window takes: rows [r0, r1) and columns [c0, c1) of the level. */
interface BlockPiece {
  index: number;
  /** Rows the block holds (a strip at the bottom has fewer), its first row and column in the level. */
  rows: number;
  top: number;
  left: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/**
 * What is read of a block: an uncompressed block only its rows [r0, r1) (a file in one huge strip is read
 * band by band), a compressed one whole. `first` is the block row the answer starts at.
 */
function span(layout: BlockLayout, b: BlockPiece): { first: number; rows: number; offset: number; bytes: number } {
  const rowBytes = layout.blockWidth * layout.samples;
  const offset = Number(layout.offsets[b.index]);
  if (layout.compression !== 1) return { first: 0, rows: b.rows, offset, bytes: Number(layout.counts[b.index]) };
  const first = b.r0 - b.top;
  const rows = b.r1 - b.r0;
  if (Number(layout.counts[b.index]) < (first + rows) * rowBytes)
    throw new TiffBlockError(`block ${b.index} holds ${layout.counts[b.index]} bytes, ${(first + rows) * rowBytes} expected`);
  return { first, rows, offset: offset + first * rowBytes, bytes: rows * rowBytes };
}

/**
 * Block `b` read and decoded into this thread's sample buffer (from block row `first` on), valid until the
 * next block is decoded. An empty block (byte count 0: a sparse file) is all zeros, as GDAL reads it.
 */
function decodeBlockSync(fd: number, layout: BlockLayout, b: BlockPiece): { samples: Uint8Array; first: number } {
  const part = Number(layout.counts[b.index]) === 0 ? undefined : span(layout, b);
  const rowBytes = layout.blockWidth * layout.samples;
  if (!part) return { samples: scratchOf('samples', rowBytes * b.rows).fill(0), first: 0 };
  if (layout.compression === 1) {
    const samples = scratchOf('samples', part.bytes);
    readFully(fd, samples, part.offset, b.index);
    return { samples, first: part.first };
  }
  const stored = scratchOf('stored', part.bytes);
  readFully(fd, stored, part.offset, b.index);
  return { samples: decodeWhole(stored, scratchOf('samples', rowBytes * b.rows), layout, b), first: 0 };
}

/** A compressed block's stored bytes decoded into `samples` (its whole rows), checked, its predictor undone. */
function decodeWhole(stored: Uint8Array, samples: Uint8Array, layout: BlockLayout, b: BlockPiece): Uint8Array {
  try {
    return finish(samples, decodeStored(stored, samples, layout), layout, b.index, b.rows);
  } catch (err) {
    throw decodeError(b.index, err);
  }
}

function readFully(fd: number, into: Uint8Array, offset: number, index: number): void {
  checkRead(readSync(fd, into, 0, into.length, offset), into.length, index);
}

function checkRead(bytesRead: number, expected: number, index: number): void {
  if (bytesRead !== expected) throw new TiffBlockError(`block ${index}: ${bytesRead} of its ${expected} bytes could be read`);
}

/** {@link decodeBlockSync} with an asynchronous read (and node:zlib's inflate on libuv's pool), into buffers of its own. */
async function decodeBlockAsync(fd: number, layout: BlockLayout, b: BlockPiece): Promise<{ samples: Uint8Array; first: number }> {
  const length = layout.blockWidth * layout.samples * b.rows;
  const part = Number(layout.counts[b.index]) === 0 ? undefined : span(layout, b);
  if (!part) return { samples: new Uint8Array(length), first: 0 };
  const stored = new Uint8Array(part.bytes);
  checkRead((await readAt(fd, stored, 0, part.bytes, part.offset)).bytesRead, part.bytes, b.index);
  if (layout.compression === 1) return { samples: stored, first: part.first };
  if (layout.compression !== 8 || libdeflateAvailable())
    return { samples: decodeWhole(stored, new Uint8Array(length), layout, b), first: 0 };
  try {
    const raw = await inflateAsync(stored, length);
    return { samples: finish(raw.subarray(0, length), raw.length, layout, b.index, b.rows), first: 0 };
  } catch (err) {
    throw decodeError(b.index, err);
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
function* blocksOf(layout: BlockLayout, window: { x: number; y: number; width: number; height: number }): Generator<BlockPiece> {
  const { blockWidth: bw, blockHeight: bh } = layout;
  const { x, y, width, height } = window;
  const across = Math.ceil(layout.width / bw);
  const stripped = !layout.tiled;
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
 * Samples of the window [x, x + width) × [y, y + height) of a level, interleaved, in the first
 * width × height × samples bytes of `into` when it has room, else in a new array. Each block the window
 * touches is decoded once and its rows copied into place.
 */
export async function readBlockWindow(
  fd: number,
  layout: BlockLayout,
  window: { x: number; y: number; width: number; height: number },
  into?: Uint8Array,
): Promise<Uint8Array> {
  const { blockWidth: bw, samples } = layout;
  const { x, y, width, height } = window;
  const length = width * height * samples;
  const out = into && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
  const sync = synchronous(layout);
  for (const b of blocksOf(layout, window)) {
    // No await between a synchronous decode and its copy: the block lives in the thread's scratch.
    const block = sync ? decodeBlockSync(fd, layout, b) : await decodeBlockAsync(fd, layout, b);
    const bytes = (b.c1 - b.c0) * samples;
    for (let r = b.r0; r < b.r1; r++) {
      const from = ((r - b.top - block.first) * bw + (b.c0 - b.left)) * samples;
      out.set(block.samples.subarray(from, from + bytes), ((r - y) * width + (b.c0 - x)) * samples);
    }
  }
  return out;
}
