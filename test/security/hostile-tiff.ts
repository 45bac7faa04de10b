/**
 * Hostile TIFFs built by code: a header of a few hundred bytes declaring tables far larger than the
 * file, and valid files whose IFD entries are patched afterwards (short tables, loops).
 */
import { encodeHeader, encodeIfd, geoKeyDirectory, type TiffEntry } from '../../src/raster/geotiff-writer.js';

const SHORT = 3;
const LONG = 4;
const DOUBLE = 12;

export const TAG = {
  ImageWidth: 256,
  StripOffsets: 273,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  TileOffsets: 324,
  TileByteCounts: 325,
} as const;

/**
 * A georeferenced (EPSG:2154) 8-bit one-band TIFF header of `width` × `height` px, in `tile`-px tiles
 * or in strips of `rowsPerStrip` rows, whose offset and byte-count tables declare `tableCount`
 * entries (default: one per block) — with no room for them in the file: a few hundred bytes that
 * ask a reader for 8 bytes per block.
 */
export function headerOnlyTiff(o: { width: number; height: number; tile?: number; rowsPerStrip?: number; tableCount?: number }): Buffer {
  const tiled = o.tile !== undefined;
  const layout: TiffEntry[] = tiled
    ? [
        { tag: 322, type: SHORT, values: [o.tile!] },
        { tag: 323, type: SHORT, values: [o.tile!] },
        { tag: TAG.TileOffsets, type: LONG, values: [8] },
        { tag: TAG.TileByteCounts, type: LONG, values: [0] },
      ]
    : [
        { tag: TAG.RowsPerStrip, type: LONG, values: [o.rowsPerStrip ?? o.height] },
        { tag: TAG.StripOffsets, type: LONG, values: [8] },
        { tag: TAG.StripByteCounts, type: LONG, values: [0] },
      ];
  const entries: TiffEntry[] = [
    { tag: 256, type: LONG, values: [o.width] },
    { tag: 257, type: LONG, values: [o.height] },
    { tag: 258, type: SHORT, values: [8] },
    { tag: 259, type: SHORT, values: [1] },
    { tag: 262, type: SHORT, values: [1] },
    { tag: 277, type: SHORT, values: [1] },
    { tag: 284, type: SHORT, values: [1] },
    { tag: 339, type: SHORT, values: [1] },
    ...layout,
    { tag: 33550, type: DOUBLE, values: [0.5, 0.5, 0] },
    { tag: 33922, type: DOUBLE, values: [0, 0, 0, 1150000, 6240000, 0] },
    { tag: 34735, type: SHORT, values: geoKeyDirectory(2154, 'projected') },
  ];
  const bytes = Buffer.concat([encodeHeader(8, false), encodeIfd(entries, 8, false)]);
  const blocks = tiled ? Math.ceil(o.width / o.tile!) * Math.ceil(o.height / o.tile!) : Math.ceil(o.height / (o.rowsPerStrip ?? o.height));
  const count = o.tableCount ?? blocks;
  patchEntry(bytes, tiled ? TAG.TileOffsets : TAG.StripOffsets, { count });
  patchEntry(bytes, tiled ? TAG.TileByteCounts : TAG.StripByteCounts, { count });
  return bytes;
}

/** Overwrites the count and/or value field of the entry `tag` in IFD `ifd` of a little-endian classic TIFF. */
export function patchEntry(bytes: Buffer, tag: number, patch: { count?: number; value?: number }, ifd = 0): void {
  const at = ifdOffset(bytes, ifd);
  const n = bytes.readUInt16LE(at);
  for (let i = 0; i < n; i++) {
    const e = at + 2 + i * 12;
    if (bytes.readUInt16LE(e) !== tag) continue;
    if (patch.count !== undefined) bytes.writeUInt32LE(patch.count, e + 4);
    if (patch.value !== undefined) bytes.writeUInt32LE(patch.value, e + 8);
    return;
  }
  throw new Error(`no tag ${tag} in IFD ${ifd}`);
}

/** Offset of IFD `ifd` (0 = first) of a little-endian classic TIFF. */
export function ifdOffset(bytes: Buffer, ifd = 0): number {
  let at = bytes.readUInt32LE(4);
  for (let i = 0; i < ifd; i++) at = bytes.readUInt32LE(at + 2 + bytes.readUInt16LE(at) * 12);
  return at;
}

/** Points the next-IFD field of IFD `ifd` at `target` (a loop when it is itself or an earlier one). */
export function setNextIfd(bytes: Buffer, ifd: number, target: number): void {
  const at = ifdOffset(bytes, ifd);
  bytes.writeUInt32LE(target, at + 2 + bytes.readUInt16LE(at) * 12);
}
