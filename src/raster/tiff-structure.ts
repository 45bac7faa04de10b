/**
 * The structure of a TIFF checked from its IFD entries alone, before any reader loads a table
 * (DESIGN §8: no decompression bombs). A hostile header can declare a tile table of hundreds of
 * millions of entries in a file of a few hundred bytes; geotiff.js allocates what a count says.
 * Every count read here is bounded by what the file can hold, and the tables must cover the image.
 * TIFF 6.0 §2 (IFD layout), §15 (tiles), BigTIFF (8-byte counts and offsets).
 */
import { type ByteSource, openFileBytes } from './byte-source.js';

/** Why the file's structure cannot be trusted; `truncated` when something lies past its end. */
export class TiffStructureError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'TiffStructureError';
  }
}

// Bytes per value of each TIFF field type (TIFF 6.0 §2, BigTIFF adds 16–18). Unknown types count 1.
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};

// Tags are 16-bit and unique within an IFD, so no valid IFD has more entries.
const MAX_ENTRIES = 65_535;
// Far more than any image with overviews and masks has (a COG has two per level); a longer chain is hostile.
const MAX_IFDS = 1024;

const TAG_NAMES: Record<number, string> = {
  256: 'ImageWidth',
  257: 'ImageLength',
  273: 'StripOffsets',
  277: 'SamplesPerPixel',
  278: 'RowsPerStrip',
  279: 'StripByteCounts',
  284: 'PlanarConfiguration',
  322: 'TileWidth',
  323: 'TileLength',
  324: 'TileOffsets',
  325: 'TileByteCounts',
};
const tagName = (tag: number) => TAG_NAMES[tag] ?? `tag ${tag}`;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** The inline value bytes (4 or 8), read when the values fit there. */
  inline: Buffer;
}

/** What {@link checkTiffStructure} learnt of each IFD (for messages and tests). */
export interface IfdShape {
  width: number;
  height: number;
  tiled: boolean;
  blockWidth: number;
  blockHeight: number;
  /** Blocks the image needs: tiles or strips, times the bands when planar. */
  blocks: number;
}

/**
 * Walks the IFD chain of `file` (`byteSize` bytes) with bounded reads and checks, for every IFD:
 * each entry's values fit in the file (count × size ≤ file size, and inside it when stored out of
 * line), the image has a size, and its offset and byte-count tables hold one entry per tile or
 * strip. Refuses IFD cycles and implausibly long chains. Throws {@link TiffStructureError}.
 */
export async function checkTiffStructure(source: string | ByteSource, byteSize: number): Promise<IfdShape[]> {
  const fh = typeof source === 'string' ? await openFileBytes(source) : source;
  const file = fh.name;
  try {
    const head = await readAt(fh, 0, 16, byteSize, `${file}: the header`);
    const le = head[0] === 0x49;
    const big = (le ? head.readUInt16LE(2) : head.readUInt16BE(2)) === 43;
    const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
    const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const u64 = (b: Buffer, at: number) => safe(le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
    const shapes: IfdShape[] = [];
    const seen = new Set<number>();
    let offset = big ? u64(head, 8) : u32(head, 4);
    while (offset !== 0) {
      const index = shapes.length;
      if (seen.has(offset)) throw new TiffStructureError(`${file}: IFD ${index} points back to an earlier IFD (a loop)`);
      if (index >= MAX_IFDS) throw new TiffStructureError(`${file}: more than ${MAX_IFDS} IFDs`);
      seen.add(offset);
      const countBytes = await readAt(fh, offset, big ? 8 : 2, byteSize, `${file}: IFD ${index}`);
      const n = big ? u64(countBytes, 0) : u16(countBytes, 0);
      if (n > MAX_ENTRIES) throw new TiffStructureError(`${file}: IFD ${index} declares ${n} entries`);
      const entrySize = big ? 20 : 12;
      const start = offset + (big ? 8 : 2);
      const body = await readAt(fh, start, n * entrySize + (big ? 8 : 4), byteSize, `${file}: IFD ${index}`);
      const entries = new Map<number, Entry>();
      for (let i = 0; i < n; i++) {
        const at = i * entrySize;
        const tag = u16(body, at);
        const type = u16(body, at + 2);
        const count = big ? u64(body, at + 4) : u32(body, at + 4);
        const inline = body.subarray(at + (big ? 12 : 8), at + entrySize);
        const bytes = count * (TYPE_SIZE[type] ?? 1);
        if (bytes > byteSize) {
          throw new TiffStructureError(
            `${file}: IFD ${index} declares ${count} values for ${tagName(tag)} (${bytes} bytes) in a file of ${byteSize} bytes`,
          );
        }
        if (bytes > inline.length) {
          const at2 = big ? u64(inline, 0) : u32(inline, 0);
          if (at2 + bytes > byteSize) {
            throw new TiffStructureError(
              `${file} is truncated: ${tagName(tag)} of IFD ${index} ends at byte ${at2 + bytes}, the file has ${byteSize}`,
              true,
            );
          }
        }
        entries.set(tag, { tag, type, count, inline });
      }
      shapes.push(shapeOf(file, index, entries, { u16, u32, u64 }));
      offset = big ? u64(body, n * entrySize) : u32(body, n * entrySize);
    }
    if (shapes.length === 0) throw new TiffStructureError(`${file} has no image (no IFD)`);
    return shapes;
  } finally {
    // A source the caller opened is the caller's to close.
    if (typeof source === 'string') await fh.close();
  }
}

type Readers = { u16: (b: Buffer, at: number) => number; u32: (b: Buffer, at: number) => number; u64: (b: Buffer, at: number) => number };

/** The image size, block layout and table coverage of one IFD. */
function shapeOf(file: string, index: number, entries: Map<number, Entry>, r: Readers): IfdShape {
  const scalar = (tag: number, fallback?: number): number => {
    const e = entries.get(tag);
    if (!e) {
      if (fallback !== undefined) return fallback;
      throw new TiffStructureError(`${file}: IFD ${index} has no ${tagName(tag)}`);
    }
    if (e.count < 1) throw new TiffStructureError(`${file}: IFD ${index} has an empty ${tagName(tag)}`);
    switch (e.type) {
      case 3:
        return r.u16(e.inline, 0);
      case 4:
        return r.u32(e.inline, 0);
      case 16:
        return r.u64(e.inline, 0);
      default:
        throw new TiffStructureError(`${file}: IFD ${index}: ${tagName(tag)} has field type ${e.type}, not an integer`);
    }
  };
  const width = scalar(256);
  const height = scalar(257);
  if (width < 1 || height < 1) throw new TiffStructureError(`${file}: IFD ${index} has an empty image (${width} × ${height})`);
  const tiled = entries.has(322) || entries.has(324);
  const blockWidth = tiled ? scalar(322) : width;
  const blockHeight = tiled ? scalar(323) : Math.min(height, scalar(278, 2 ** 32 - 1));
  if (blockWidth < 1 || blockHeight < 1) {
    throw new TiffStructureError(`${file}: IFD ${index} has empty ${tiled ? 'tiles' : 'strips'} (${blockWidth} × ${blockHeight})`);
  }
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const planes = scalar(284, 1) === 2 ? scalar(277, 1) : 1;
  const blocks = across * down * planes;
  const [offsetsTag, countsTag] = tiled ? [324, 325] : [273, 279];
  for (const tag of [offsetsTag, countsTag]) {
    const e = entries.get(tag);
    const what = tiled ? `${across} × ${down} tiles of ${blockWidth} × ${blockHeight} px` : `${down} strips of ${blockHeight} rows`;
    const needed = `${blocks} (${what}${planes > 1 ? `, ${planes} planes` : ''})`;
    if (!e) throw new TiffStructureError(`${file}: IFD ${index} has no ${tagName(tag)} table; the image needs ${needed}`);
    if (e.count < blocks) {
      throw new TiffStructureError(
        `${file}: the ${tiled ? 'tile' : 'strip'} table ${tagName(tag)} of IFD ${index} has ${e.count} entries, the image needs ${needed}`,
      );
    }
  }
  return { width, height, tiled, blockWidth, blockHeight, blocks };
}

/** Reads `length` bytes at `position`, refusing what lies past the end of the file. */
async function readAt(fh: ByteSource, position: number, length: number, byteSize: number, what: string): Promise<Buffer> {
  if (position + length > byteSize) {
    throw new TiffStructureError(
      `${what} lies past the end of the file, which is truncated (bytes ${position}–${position + length}, the file has ${byteSize})`,
      true,
    );
  }
  const buf = await fh.read(position, length);
  if (buf.length < length)
    throw new TiffStructureError(`${what}: the file ends at byte ${position + buf.length}, before its size says`, true);
  return buf;
}

/** A 64-bit count or offset as a number; beyond 2^53 no file of ours can hold it anyway. */
function safe(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}
