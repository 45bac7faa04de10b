/**
 * Byte layout of a Cloud Optimized GeoTIFF as GDAL's COG driver writes it (cog.md §3, §4 steps 4–6):
 * header → ghost area → IFDs (image full, mask full, image overviews large→small, mask overviews),
 * each followed by its out-of-line values → every TileOffsets/TileByteCounts array → tile data,
 * smallest level first, each tile framed by a 4-byte size leader and its last 4 bytes as trailer,
 * mask tiles right after their image tile. Pure functions: sizes in, bytes out.
 */
import type { TiffEntry } from '../raster/geotiff-writer.js';

const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const DOUBLE = 12;
const LONG8 = 16;
const ASCII = 2;
const TYPE_SIZE: Record<number, number> = { [ASCII]: 1, [SHORT]: 2, [LONG]: 4, [RATIONAL]: 8, [DOUBLE]: 8, [LONG8]: 8 };

/** Classic TIFF offsets are uint32: a file reaching 2³² bytes must be BigTIFF (OGC 21-026 /use-geotiff). */
export const CLASSIC_LIMIT = 2 ** 32;

/** Size of the tile leader (uint32 byte count) and trailer (last 4 bytes repeated), cog.md §3. */
export const LEADER = 4;
export const TRAILER = 4;

export interface LevelSize {
  width: number;
  height: number;
  tilesAcross: number;
  tilesDown: number;
}

/**
 * Level sizes, full resolution first: each overview is floor(previous / 2), added while the previous
 * level is wider or taller than one tile (GDAL's stop rule, cog.md §3), at most `maxOverviews` of them.
 */
export function levelSizes(width: number, height: number, tileSize: number, maxOverviews?: number): LevelSize[] {
  const levels: LevelSize[] = [];
  let w = width;
  let h = height;
  for (;;) {
    levels.push({ width: w, height: h, tilesAcross: Math.ceil(w / tileSize), tilesDown: Math.ceil(h / tileSize) });
    if (w <= tileSize && h <= tileSize) break;
    if (maxOverviews !== undefined && levels.length > maxOverviews) break;
    if (w < 2 || h < 2) break;
    w = Math.floor(w / 2);
    h = Math.floor(h / 2);
  }
  return levels;
}

/**
 * GDAL_STRUCTURAL_METADATA ("ghost area", cog.md §3): the header line gives the size of the body;
 * the body ends with "KNOWN_INCOMPATIBLE_EDITION=NO\n " (the space leaves room for "YES\n").
 * Padded to an even length, as GDAL does.
 */
export function ghostArea(maskInterleaved: boolean): Uint8Array {
  let body = 'LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\nBLOCK_TRAILER=LAST_4_BYTES_REPEATED\n';
  if (maskInterleaved) body += 'MASK_INTERLEAVED_WITH_IMAGERY=YES\n';
  body += 'KNOWN_INCOMPATIBLE_EDITION=NO\n ';
  let text = `GDAL_STRUCTURAL_METADATA_SIZE=${String(body.length).padStart(6, '0')} bytes\n${body}`;
  if (text.length & 1) text += '\0';
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** One IFD to place: its entries without the tile arrays, and where its tiles are. */
export interface IfdPlan {
  entries: TiffEntry[];
  /** Absolute file offsets of the tile bytes (after the leader) and their byte counts. */
  tileOffsets: ArrayLike<number>;
  tileCounts: ArrayLike<number>;
}

function payload(e: TiffEntry): Uint8Array {
  if (typeof e.values === 'string') return new Uint8Array(Buffer.from(e.values + '\0', 'latin1'));
  const size = TYPE_SIZE[e.type];
  if (!size) throw new Error(`unsupported TIFF type ${e.type}`);
  const bytes = new Uint8Array(e.values.length * (e.type === RATIONAL ? 4 : size));
  const view = new DataView(bytes.buffer);
  e.values.forEach((v, i) => {
    if (e.type === SHORT) view.setUint16(i * 2, v, true);
    else if (e.type === LONG || e.type === RATIONAL) view.setUint32(i * 4, v, true);
    else if (e.type === DOUBLE) view.setFloat64(i * 8, v, true);
    else view.setBigUint64(i * 8, BigInt(v), true);
  });
  return bytes;
}

function countOf(e: TiffEntry, p: Uint8Array): number {
  return typeof e.values === 'string' ? p.length : e.type === RATIONAL ? e.values.length / 2 : e.values.length;
}

/** Bytes taken by an IFD and its out-of-line values (tile arrays excluded), word aligned. */
function ifdSize(entries: readonly TiffEntry[], bigTiff: boolean): number {
  const n = entries.length + 2; // + TileOffsets, TileByteCounts
  const inline = bigTiff ? 8 : 4;
  let size = (bigTiff ? 8 : 2) + n * (bigTiff ? 20 : 12) + (bigTiff ? 8 : 4);
  for (const e of entries) {
    const p = payload(e);
    if (p.length > inline) size += p.length + (p.length & 1);
  }
  return size;
}

/** The arrays of an IFD with more tiles than fit inline, in bytes (offsets array, counts array). */
function arraysSize(tiles: number, bigTiff: boolean): number {
  const word = bigTiff ? 8 : 4;
  return tiles * word > (bigTiff ? 8 : 4) ? 2 * tiles * word : 0;
}

export interface HeaderLayout {
  /** Bytes of header + ghost area + IFDs + tile arrays: where tile data starts. */
  dataStart: number;
  bigTiff: boolean;
}

/**
 * Offset where tile data starts for IFDs with these entries and tile counts (sizes do not depend on
 * the offset values, so the layout is computed before the offsets are known).
 */
export function headerSize(
  ifds: ReadonlyArray<{ entries: TiffEntry[]; tiles: number }>,
  bigTiff: boolean,
  maskInterleaved: boolean,
): number {
  let size = (bigTiff ? 16 : 8) + ghostArea(maskInterleaved).length;
  for (const ifd of ifds) size += ifdSize(ifd.entries, bigTiff) + arraysSize(ifd.tiles, bigTiff);
  return size;
}

/**
 * Serialises header, ghost area, the IFD chain (in the given order, which is the file order) and
 * the tile arrays. The result has exactly {@link headerSize} bytes; tile data follows it.
 */
export function encodeHeaderAndIfds(ifds: readonly IfdPlan[], bigTiff: boolean, maskInterleaved: boolean): Uint8Array {
  const ghost = ghostArea(maskInterleaved);
  const headLen = bigTiff ? 16 : 8;
  const total = headerSize(
    ifds.map((i) => ({ entries: i.entries, tiles: i.tileOffsets.length })),
    bigTiff,
    maskInterleaved,
  );
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  const firstIfd = headLen + ghost.length;
  if (bigTiff) {
    view.setUint16(2, 43, true);
    view.setUint16(4, 8, true);
    view.setBigUint64(8, BigInt(firstIfd), true);
  } else {
    view.setUint16(2, 42, true);
    view.setUint32(4, firstIfd, true);
  }
  out.set(ghost, headLen);

  const word = bigTiff ? 8 : 4;
  const offType = bigTiff ? LONG8 : LONG;
  // Where each IFD starts, then where the arrays block starts.
  const ifdStarts: number[] = [];
  let pos = firstIfd;
  for (const ifd of ifds) {
    ifdStarts.push(pos);
    pos += ifdSize(ifd.entries, bigTiff);
  }
  let arrayPos = pos;
  const setWord = (at: number, v: number) => (bigTiff ? view.setBigUint64(at, BigInt(v), true) : view.setUint32(at, v, true));

  ifds.forEach((ifd, k) => {
    const tiles = ifd.tileOffsets.length;
    const external = arraysSize(tiles, bigTiff) > 0;
    let offsetsAt = 0;
    let countsAt = 0;
    if (external) {
      offsetsAt = arrayPos;
      countsAt = arrayPos + tiles * word;
      for (let i = 0; i < tiles; i++) {
        setWord(offsetsAt + i * word, ifd.tileOffsets[i]);
        setWord(countsAt + i * word, ifd.tileCounts[i]);
      }
      arrayPos += 2 * tiles * word;
    }
    type Placed = { tag: number; type: number; count: number; bytes?: Uint8Array; at?: number };
    const placed: Placed[] = ifd.entries.map((e) => {
      const p = payload(e);
      return { tag: e.tag, type: e.type, count: countOf(e, p), bytes: p };
    });
    const inlineArray = (values: ArrayLike<number>): Uint8Array => {
      const b = new Uint8Array(word);
      const dv = new DataView(b.buffer);
      if (bigTiff) dv.setBigUint64(0, BigInt(values[0]), true);
      else dv.setUint32(0, values[0], true);
      return b;
    };
    placed.push(
      external
        ? { tag: 324, type: offType, count: tiles, at: offsetsAt }
        : { tag: 324, type: offType, count: 1, bytes: inlineArray(ifd.tileOffsets) },
    );
    placed.push(
      external
        ? { tag: 325, type: offType, count: tiles, at: countsAt }
        : { tag: 325, type: offType, count: 1, bytes: inlineArray(ifd.tileCounts) },
    );
    placed.sort((a, b) => a.tag - b.tag);

    const start = ifdStarts[k];
    const entrySize = bigTiff ? 20 : 12;
    const inline = bigTiff ? 8 : 4;
    let p = start;
    if (bigTiff) {
      view.setBigUint64(p, BigInt(placed.length), true);
      p += 8;
    } else {
      view.setUint16(p, placed.length, true);
      p += 2;
    }
    let valuePos = start + (bigTiff ? 8 : 2) + placed.length * entrySize + (bigTiff ? 8 : 4);
    for (const e of placed) {
      view.setUint16(p, e.tag, true);
      view.setUint16(p + 2, e.type, true);
      if (bigTiff) view.setBigUint64(p + 4, BigInt(e.count), true);
      else view.setUint32(p + 4, e.count, true);
      const slot = p + (bigTiff ? 12 : 8);
      if (e.at !== undefined) setWord(slot, e.at);
      else if (e.bytes!.length <= inline) out.set(e.bytes!, slot);
      else {
        setWord(slot, valuePos);
        out.set(e.bytes!, valuePos);
        valuePos += e.bytes!.length + (e.bytes!.length & 1);
      }
      p += entrySize;
    }
    setWord(p, k + 1 < ifds.length ? ifdStarts[k + 1] : 0);
  });
  if (arrayPos !== total) throw new Error(`COG layout: header is ${arrayPos} bytes, ${total} planned`);
  return out;
}
