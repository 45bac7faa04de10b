import { buildSlabHeader } from './slab-header.js';
import { headerAndIndexSize, SLAB_HEADER_SIZE, tileCount, type SlabGeometry } from './slab-geometry.js';

/**
 * Builds a whole slab file from its encoded tiles, in slab order (row-major), as ROK4 does
 * (rok4.md §5.1): header, TileOffsets, TileByteCounts, then each tile at the next multiple of 16
 * after the previous one, zero gaps, no trailing padding. An empty tile (length 0) is recorded
 * with offset 0 and size 0 ("no tile", libtiff's sparse tile).
 */
export function assembleSlab(geometry: SlabGeometry, encodedTiles: readonly Uint8Array[]): Buffer {
  const n = tileCount(geometry);
  if (encodedTiles.length !== n) throw new Error(`assembleSlab: ${n} tiles expected, got ${encodedTiles.length}`);
  const offsets = new Array<number>(n);
  let pos = headerAndIndexSize(n);
  let end = pos;
  for (let i = 0; i < n; i++) {
    const size = encodedTiles[i].length;
    if (size === 0) {
      offsets[i] = 0;
      continue;
    }
    offsets[i] = pos;
    end = pos + size;
    pos = (end + 15) & ~15;
  }
  if (end > 0xffffffff) throw new Error('assembleSlab: slab larger than 4 GiB (classic TIFF)');
  const slab = Buffer.alloc(end);
  buildSlabHeader(geometry, n === 1 ? encodedTiles[0].length : 0).copy(slab, 0);
  for (let i = 0; i < n; i++) {
    slab.writeUInt32LE(offsets[i], SLAB_HEADER_SIZE + 4 * i);
    slab.writeUInt32LE(encodedTiles[i].length, SLAB_HEADER_SIZE + 4 * (n + i));
    if (encodedTiles[i].length > 0) slab.set(encodedTiles[i], offsets[i]);
  }
  return slab;
}
