/**
 * Our own structure check of a COG (cog.md §3, §5: what GDAL's validator does not check): ghost area,
 * IFD order and NewSubfileType, overview halving, georeferencing only in IFD 0, every tile framed by
 * its leader and trailer, data smallest level first, mask tiles right after their image tiles.
 * Returns the list of problems (empty = conforming).
 */
import { readFileSync } from 'node:fs';

interface Ifd {
  offset: number;
  end: number;
  /** End of its out-of-line TileOffsets/TileByteCounts arrays. */
  arraysEnd: number;
  tags: Map<number, number[]>;
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 12: 8, 16: 8 };

function readIfds(buf: Buffer): { bigTiff: boolean; first: number; ifds: Ifd[] } {
  const bigTiff = buf.readUInt16LE(2) === 43;
  const first = bigTiff ? Number(buf.readBigUInt64LE(8)) : buf.readUInt32LE(4);
  const ifds: Ifd[] = [];
  let off = first;
  while (off) {
    const n = bigTiff ? Number(buf.readBigUInt64LE(off)) : buf.readUInt16LE(off);
    const tags = new Map<number, number[]>();
    const es = bigTiff ? 20 : 12;
    const head = bigTiff ? 8 : 2;
    let end = off + head + n * es + (bigTiff ? 8 : 4);
    let arraysEnd = 0;
    for (let i = 0; i < n; i++) {
      const p = off + head + i * es;
      const tag = buf.readUInt16LE(p),
        type = buf.readUInt16LE(p + 2);
      const count = bigTiff ? Number(buf.readBigUInt64LE(p + 4)) : buf.readUInt32LE(p + 4);
      const size = (TYPE_SIZE[type] ?? 1) * count;
      const inline = size <= (bigTiff ? 8 : 4);
      const at = inline ? p + (bigTiff ? 12 : 8) : bigTiff ? Number(buf.readBigUInt64LE(p + 12)) : buf.readUInt32LE(p + 8);
      if (!inline && tag !== 324 && tag !== 325) end = Math.max(end, at + size);
      if (!inline && (tag === 324 || tag === 325)) arraysEnd = Math.max(arraysEnd, at + size);
      const values: number[] = [];
      if (type === 3 || type === 4 || type === 16) {
        for (let k = 0; k < count; k++) {
          values.push(
            type === 3 ? buf.readUInt16LE(at + 2 * k) : type === 4 ? buf.readUInt32LE(at + 4 * k) : Number(buf.readBigUInt64LE(at + 8 * k)),
          );
        }
      }
      tags.set(tag, values);
    }
    ifds.push({ offset: off, end, arraysEnd, tags });
    const nextAt = off + head + n * es;
    off = bigTiff ? Number(buf.readBigUInt64LE(nextAt)) : buf.readUInt32LE(nextAt);
  }
  return { bigTiff, first, ifds };
}

export interface StructureReport {
  problems: string[];
  bigTiff: boolean;
  imageIfds: number;
  maskIfds: number;
  tiles: number;
}

/** `limited`: the overview count was capped (maxZoomLevel), so the smallest level may span several tiles. */
export function checkCogStructure(file: string, tileSize: number, limited = false): StructureReport {
  const buf = readFileSync(file);
  const problems: string[] = [];
  const { bigTiff, first, ifds } = readIfds(buf);
  const ghostStart = bigTiff ? 16 : 8;
  const ghost = buf.subarray(ghostStart, first).toString('latin1');
  const m = /^GDAL_STRUCTURAL_METADATA_SIZE=(\d{6}) bytes\n/.exec(ghost);
  if (!m) problems.push('no ghost area before the first IFD');
  const body = m ? ghost.slice(m[0].length, m[0].length + Number(m[1])) : '';
  for (const line of [
    'LAYOUT=IFDS_BEFORE_DATA',
    'BLOCK_ORDER=ROW_MAJOR',
    'BLOCK_LEADER=SIZE_AS_UINT4',
    'BLOCK_TRAILER=LAST_4_BYTES_REPEATED',
    'KNOWN_INCOMPATIBLE_EDITION=NO',
  ]) {
    if (!body.includes(`${line}\n`)) problems.push(`ghost area lacks ${line}`);
  }
  if (!body.endsWith('KNOWN_INCOMPATIBLE_EDITION=NO\n ')) problems.push('ghost area does not end with "KNOWN_INCOMPATIBLE_EDITION=NO\\n "');
  const nst = (i: Ifd) => i.tags.get(254)?.[0] ?? 0;
  const images = ifds.filter((i) => (nst(i) & 4) === 0);
  const masks = ifds.filter((i) => (nst(i) & 4) !== 0);
  if (masks.length && !body.includes('MASK_INTERLEAVED_WITH_IMAGERY=YES\n'))
    problems.push('mask IFDs without MASK_INTERLEAVED_WITH_IMAGERY=YES');
  // Order: image full, mask full, image overviews, mask overviews.
  const expected = masks.length ? [images[0], masks[0], ...images.slice(1), ...masks.slice(1)] : images;
  if (expected.some((i, k) => i !== ifds[k])) problems.push('IFD order is not image, mask, overviews, mask overviews');
  if (nst(images[0]) !== 0) problems.push('IFD 0 is not full resolution');
  for (const [k, i] of images.slice(1).entries()) {
    if (nst(i) !== 1) problems.push(`overview ${k + 1} has NewSubfileType ${nst(i)}`);
  }
  for (const [k, i] of masks.entries()) {
    if (nst(i) !== (k === 0 ? 4 : 5)) problems.push(`mask ${k} has NewSubfileType ${nst(i)}`);
  }
  if (masks.length && masks.length !== images.length) problems.push(`${images.length} image IFDs but ${masks.length} mask IFDs`);
  const size = (i: Ifd) => [i.tags.get(256)![0], i.tags.get(257)![0]];
  for (let k = 1; k < images.length; k++) {
    const [pw, ph] = size(images[k - 1]);
    const [w, h] = size(images[k]);
    if (w !== Math.floor(pw / 2) || h !== Math.floor(ph / 2)) problems.push(`overview ${k} is ${w}x${h}, not half of ${pw}x${ph}`);
    if (masks.length && (size(masks[k])[0] !== w || size(masks[k])[1] !== h)) problems.push(`mask of overview ${k} has another size`);
  }
  for (const [k, i] of ifds.entries()) {
    for (const tag of [33550, 33922, 34735]) if (k > 0 && i.tags.has(tag)) problems.push(`IFD ${k} carries georeferencing tag ${tag}`);
    if (i.tags.get(322)?.[0] !== tileSize || i.tags.get(323)?.[0] !== tileSize) problems.push(`IFD ${k} is not tiled ${tileSize}`);
  }
  for (const tag of [33550, 33922, 34735]) if (!images[0].tags.has(tag)) problems.push(`IFD 0 lacks georeferencing tag ${tag}`);
  const [lw, lh] = size(images[images.length - 1]);
  if (!limited && (lw > tileSize || lh > tileSize)) problems.push(`the smallest level ${lw}x${lh} spans more than one tile`);

  // Tiles: leaders, trailers, order.
  const headerEnd = Math.max(...ifds.map((i) => i.end));
  const arraysEnd = Math.max(headerEnd, ...ifds.map((i) => i.arraysEnd));
  // IFDs come first, then the arrays (cog.md §3).
  if (Math.min(...ifds.map((i) => i.arraysEnd).filter((e) => e > 0), Infinity) < headerEnd) problems.push('tile arrays between IFDs');
  let tiles = 0;
  let previousLevelStart = Infinity;
  images.forEach((img, k) => {
    const offs = img.tags.get(324)!,
      counts = img.tags.get(325)!;
    const mOffs = masks[k]?.tags.get(324),
      mCounts = masks[k]?.tags.get(325);
    const framed = (o: number, c: number, what: string) => {
      if (buf.readUInt32LE(o - 4) !== c) problems.push(`${what}: leader ${buf.readUInt32LE(o - 4)} ≠ byte count ${c}`);
      if (!buf.subarray(o + c - 4, o + c).equals(buf.subarray(o + c, o + c + 4))) problems.push(`${what}: trailer is not the last 4 bytes`);
    };
    for (let t = 0; t < offs.length; t++) {
      tiles++;
      framed(offs[t], counts[t], `level ${k} tile ${t}`);
      if (offs[t] <= arraysEnd) problems.push(`level ${k} tile ${t} lies inside the header`);
      if (t > 0) {
        const prevEnd = mOffs ? mOffs[t - 1] + mCounts![t - 1] + 4 : offs[t - 1] + counts[t - 1] + 4;
        if (offs[t] !== prevEnd + 4) problems.push(`level ${k} tile ${t} does not follow tile ${t - 1} (row-major, contiguous)`);
      }
      if (mOffs) {
        framed(mOffs[t], mCounts![t], `mask ${k} tile ${t}`);
        if (mOffs[t] !== offs[t] + counts[t] + 8) problems.push(`mask ${k} tile ${t} does not follow its image tile`);
      }
    }
    // Larger levels come after smaller ones: level k ends before level k-1 starts.
    const last = offs.length - 1;
    const end = (mOffs ? mOffs[last] + mCounts![last] : offs[last] + counts[last]) + 4;
    if (k > 0 && end > previousLevelStart) problems.push(`level ${k} data is not before level ${k - 1}`);
    previousLevelStart = offs[0] - 4;
  });
  return { problems, bigTiff, imageIfds: images.length, maskIfds: masks.length, tiles };
}
