/**
 * JPEG 2000 file structure, read without decoding: the JP2 boxes (ISO/IEC 15444-1 annex I: signature,
 * header, `uuid` GeoJP2, `xml `/`asoc` GMLJP2, the `jp2c` codestream), the codestream's main header
 * (annex A: SIZ, COD, COC) and the index of its tile-parts (SOT markers, walked by their Psot lengths).
 * That is all a window reader needs to cut the tiles it wants out of the file (jp2-codestream.ts).
 */
import type { ByteSource } from './byte-source.js';

/** What the structure readers need of the bytes: ranged reads (a local file or an object of a Storage). */
export type Jp2Bytes = Pick<ByteSource, 'read'>;

/** Why a JPEG 2000 file cannot be read: corrupt structure, or truncated. */
export class Jp2StructureError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'Jp2StructureError';
  }
}

/** One coding style (COD, or COC for one component): what decides the partition of a tile (annex B). */
export interface CodingStyle {
  /** Number of decomposition levels (NL). */
  levels: number;
  /** Code-block width and height exponents (xcb, ycb: blocks are 2^xcb × 2^ycb). */
  xcb: number;
  ycb: number;
  /** Precinct exponents per resolution, lowest first (PPx, PPy); 15 when none are declared (B.6). */
  ppx: number[];
  ppy: number[];
}

export interface Jp2Structure {
  /** Byte range of the codestream in the file (a bare .j2k codestream starts at 0). */
  codestreamStart: number;
  codestreamEnd: number;
  /** End of the main header (first SOT), relative to the file. */
  mainHeaderEnd: number;
  /** Byte range of the SIZ segment in the file (marker included), rewritten for sub-codestreams. */
  siz: { start: number; end: number };
  /** Main-header segments (marker included) a sub-codestream must drop: TLM and PLM (they index the file's tile-parts). */
  dropped: Array<{ start: number; end: number }>;
  /** Image area [x0, x1) × [y0, y1) on the reference grid and the tile grid. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  tileWidth: number;
  tileHeight: number;
  tileX0: number;
  tileY0: number;
  tilesAcross: number;
  tilesDown: number;
  components: Array<{ precision: number; signed: boolean; dx: number; dy: number }>;
  /** Default coding style and the per-component overrides (COC). */
  coding: CodingStyle;
  componentCoding: Map<number, CodingStyle>;
  /** Packed packet headers in the main header (PPM) tie every tile to the main header: not cut. */
  hasPpm: boolean;
  /** JP2 boxes of interest (absent for a bare codestream). */
  geoJp2?: Buffer;
  gmlJp2?: string;
  /** Colour specification (colr box, enumerated): 16 sRGB, 17 greyscale, 18 sYCC. */
  enumeratedColour?: number;
}

/** Tile-parts of each tile, in codestream order: [start, end) byte ranges in the file (SOT included). */
export type TileIndex = Array<Array<{ start: number; end: number }>>;

const JP2_SIGNATURE = Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]);
const J2K_SOC_SIZ = Buffer.from([0xff, 0x4f, 0xff, 0x51]);
/** GeoJP2's uuid (the GeoTIFF box): b14bf8bd-083d-4b43-a5ae-8cd7d5a6ce03. */
const GEOJP2_UUID = Buffer.from('b14bf8bd083d4b43a5ae8cd7d5a6ce03', 'hex');

/** 'jp2' for a JP2 file, 'j2k' for a bare codestream, undefined otherwise. */
export function jpeg2000Kind(head: Buffer): 'jp2' | 'j2k' | undefined {
  if (head.length >= 12 && head.subarray(0, 12).equals(JP2_SIGNATURE)) return 'jp2';
  if (head.length >= 4 && head.subarray(0, 4).equals(J2K_SOC_SIZ)) return 'j2k';
  return undefined;
}

function readAt(fh: Jp2Bytes, position: number, length: number): Promise<Buffer> {
  return fh.read(position, length);
}

interface Box {
  type: string;
  start: number;
  contentStart: number;
  end: number;
}

/** Boxes in [start, end) (I.4): length 0 = to the end, 1 = 64-bit length follows. */
async function boxes(fh: Jp2Bytes, start: number, end: number, file: string): Promise<Box[]> {
  const out: Box[] = [];
  let p = start;
  while (p + 8 <= end) {
    const h = await readAt(fh, p, 16);
    if (h.length < 8) throw new Jp2StructureError(`${file} is truncated: box header at byte ${p}`, true);
    let length = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    let header = 8;
    if (length === 1) {
      if (h.length < 16) throw new Jp2StructureError(`${file} is truncated: box header at byte ${p}`, true);
      length = Number(h.readBigUInt64BE(8));
      header = 16;
    } else if (length === 0) length = end - p;
    if (length < header) throw new Jp2StructureError(`${file} is corrupt: box '${type}' at byte ${p} has length ${length}`);
    out.push({ type, start: p, contentStart: p + header, end: p + length });
    p += length;
  }
  return out;
}

function codingStyle(seg: Buffer, at: number, precincts: boolean): CodingStyle {
  const levels = seg[at];
  const xcb = (seg[at + 1] & 0x0f) + 2;
  const ycb = (seg[at + 2] & 0x0f) + 2;
  const ppx: number[] = [];
  const ppy: number[] = [];
  for (let r = 0; r <= levels; r++) {
    const v = precincts ? seg[at + 5 + r] : 0xff;
    ppx.push(v & 0x0f);
    ppy.push(v >> 4);
  }
  return { levels, xcb, ycb, ppx, ppy };
}

/**
 * Reads the boxes and the codestream's main header of a JPEG 2000 file (JP2 or bare codestream).
 * @throws Jp2StructureError naming the file when a box or marker segment does not fit or is missing.
 */
export async function readJp2Structure(fh: Jp2Bytes, file: string, byteSize: number): Promise<Jp2Structure> {
  const head = await readAt(fh, 0, 12);
  const kind = jpeg2000Kind(head);
  if (!kind) throw new Jp2StructureError(`${file} is not a JPEG 2000 file`);
  let codestreamStart = 0;
  let codestreamEnd = byteSize;
  let geoJp2: Buffer | undefined;
  let gmlJp2: string | undefined;
  let enumeratedColour: number | undefined;
  if (kind === 'jp2') {
    const top = await boxes(fh, 0, byteSize, file);
    const jp2c = top.find((b) => b.type === 'jp2c');
    if (!jp2c) throw new Jp2StructureError(`${file} is truncated: no codestream box (jp2c)`, true);
    if (jp2c.end > byteSize)
      throw new Jp2StructureError(`${file} is truncated: its codestream ends at byte ${jp2c.end}, the file has ${byteSize}`, true);
    codestreamStart = jp2c.contentStart;
    codestreamEnd = jp2c.end;
    for (const b of top) {
      if (b.type === 'uuid' && b.end - b.contentStart > 16 && b.end - b.contentStart < 1 << 24) {
        const content = await readAt(fh, b.contentStart, b.end - b.contentStart);
        if (content.subarray(0, 16).equals(GEOJP2_UUID)) geoJp2 = content.subarray(16);
      } else if (b.type === 'jp2h') {
        for (const sub of await boxes(fh, b.contentStart, b.end, file)) {
          if (sub.type !== 'colr') continue;
          const c = await readAt(fh, sub.contentStart, 7);
          if (c[0] === 1) enumeratedColour = c.readUInt32BE(3);
        }
      } else if ((b.type === 'asoc' || b.type === 'xml ') && gmlJp2 === undefined && b.end - b.contentStart < 1 << 24) {
        gmlJp2 = await gmlOf(fh, b, file);
      }
    }
  }
  // Main header: SOC, then marker segments up to the first SOT (A.4).
  const soc = await readAt(fh, codestreamStart, 2);
  if (soc.length < 2 || soc.readUInt16BE(0) !== 0xff4f)
    throw new Jp2StructureError(`${file} is corrupt: the codestream does not start with SOC`);
  let p = codestreamStart + 2;
  let siz: Buffer | undefined;
  let sizRange = { start: 0, end: 0 };
  let cod: CodingStyle | undefined;
  const componentCoding = new Map<number, CodingStyle>();
  const dropped: Array<{ start: number; end: number }> = [];
  let hasPpm = false;
  const cocs: Array<Buffer> = [];
  for (;;) {
    const m = await readAt(fh, p, 4);
    if (m.length < 4) throw new Jp2StructureError(`${file} is truncated: its codestream's main header ends at byte ${p}`, true);
    const marker = m.readUInt16BE(0);
    if (marker === 0xff90) break;
    if (marker >> 8 !== 0xff) throw new Jp2StructureError(`${file} is corrupt: no marker at byte ${p} of its main header`);
    const length = m.readUInt16BE(2);
    if (p + 2 + length > codestreamEnd) throw new Jp2StructureError(`${file} is truncated: its main header ends past its codestream`, true);
    const seg = await readAt(fh, p + 4, length - 2);
    if (marker === 0xff51) {
      siz = seg;
      sizRange = { start: p, end: p + 2 + length };
    } else if (marker === 0xff52) cod = codingStyle(seg, 5, (seg[0] & 1) === 1);
    else if (marker === 0xff53) cocs.push(seg);
    else if (marker === 0xff55 || marker === 0xff57) dropped.push({ start: p, end: p + 2 + length });
    else if (marker === 0xff60) hasPpm = true;
    p += 2 + length;
  }
  if (!siz || !cod) throw new Jp2StructureError(`${file} is corrupt: its main header lacks ${siz ? 'COD' : 'SIZ'}`);
  const components: Jp2Structure['components'] = [];
  const count = siz.readUInt16BE(34);
  for (let c = 0; c < count; c++) {
    const s = siz[36 + 3 * c];
    components.push({ precision: (s & 0x7f) + 1, signed: (s & 0x80) !== 0, dx: siz[37 + 3 * c], dy: siz[38 + 3 * c] });
  }
  for (const seg of cocs) {
    const wide = count >= 257;
    const c = wide ? seg.readUInt16BE(0) : seg[0];
    const at = wide ? 2 : 1;
    componentCoding.set(c, codingStyle(seg, at + 1, (seg[at] & 1) === 1));
  }
  const x1 = siz.readUInt32BE(2);
  const y1 = siz.readUInt32BE(6);
  const x0 = siz.readUInt32BE(10);
  const y0 = siz.readUInt32BE(14);
  const tileWidth = siz.readUInt32BE(18);
  const tileHeight = siz.readUInt32BE(22);
  const tileX0 = siz.readUInt32BE(26);
  const tileY0 = siz.readUInt32BE(30);
  if (!(x1 > x0 && y1 > y0 && tileWidth > 0 && tileHeight > 0))
    throw new Jp2StructureError(`${file} is corrupt: SIZ declares an empty image or tile`);
  return {
    codestreamStart,
    codestreamEnd,
    mainHeaderEnd: p,
    siz: sizRange,
    dropped,
    x0,
    y0,
    x1,
    y1,
    tileWidth,
    tileHeight,
    tileX0,
    tileY0,
    tilesAcross: Math.ceil((x1 - tileX0) / tileWidth),
    tilesDown: Math.ceil((y1 - tileY0) / tileHeight),
    components,
    coding: cod,
    componentCoding,
    hasPpm,
    ...(geoJp2 ? { geoJp2 } : {}),
    ...(gmlJp2 !== undefined ? { gmlJp2 } : {}),
    ...(enumeratedColour !== undefined ? { enumeratedColour } : {}),
  };
}

/** The GML of a GMLJP2 box: an `xml ` box, alone or inside an `asoc` (labelled gml.data/gml.root-instance). */
async function gmlOf(fh: Jp2Bytes, box: Box, file: string): Promise<string | undefined> {
  if (box.type === 'xml ') {
    const text = (await readAt(fh, box.contentStart, box.end - box.contentStart)).toString('utf8');
    return /FeatureCollection|RectifiedGrid/.test(text) ? text : undefined;
  }
  for (const sub of await boxes(fh, box.contentStart, box.end, file)) {
    if (sub.type === 'asoc' || sub.type === 'xml ') {
      const found = await gmlOf(fh, sub, file);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Walks the tile-parts (SOT, A.4.2) by their lengths: one 12-byte read per tile-part.
 * @throws Jp2StructureError when a tile-part ends past the codestream (truncated file), a tile index
 *   is out of the grid, or a tile has no tile-part.
 */
export async function readTileIndex(fh: Jp2Bytes, file: string, s: Jp2Structure): Promise<TileIndex> {
  const tiles: TileIndex = Array.from({ length: s.tilesAcross * s.tilesDown }, () => []);
  let p = s.mainHeaderEnd;
  for (;;) {
    const h = await readAt(fh, p, 12);
    if (h.length >= 2 && h.readUInt16BE(0) === 0xffd9) break;
    if (h.length < 12) throw new Jp2StructureError(`${file} is truncated: its codestream stops at byte ${p}, before its end marker`, true);
    if (h.readUInt16BE(0) !== 0xff90) throw new Jp2StructureError(`${file} is corrupt: no tile-part (SOT) at byte ${p}`);
    const tile = h.readUInt16BE(4);
    let length = h.readUInt32BE(6);
    if (length === 0) length = s.codestreamEnd - 2 - p; // the last tile-part runs to EOC
    if (tile >= tiles.length)
      throw new Jp2StructureError(`${file} is corrupt: tile-part at byte ${p} names tile ${tile} of ${tiles.length}`);
    if (length < 14) throw new Jp2StructureError(`${file} is corrupt: tile-part at byte ${p} has length ${length}`);
    if (p + length > s.codestreamEnd)
      throw new Jp2StructureError(
        `${file} is truncated: tile ${tile} ends at byte ${p + length}, the codestream at ${s.codestreamEnd}`,
        true,
      );
    tiles[tile].push({ start: p, end: p + length });
    p += length;
    if (p >= s.codestreamEnd) break;
  }
  const missing = tiles.findIndex((t) => t.length === 0);
  if (missing >= 0) throw new Jp2StructureError(`${file} is truncated: tile ${missing} is missing from its codestream`, true);
  return tiles;
}
