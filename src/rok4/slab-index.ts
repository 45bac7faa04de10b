import { headerAndIndexSize, SLAB_HEADER_SIZE } from './slab-geometry.js';

/** Tile offsets and byte counts of a slab, in slab tile order (row-major). */
export interface SlabIndex {
  offsets: Uint32Array;
  sizes: Uint32Array;
}

/**
 * Reads the tile index at byte 2048 of a slab prefix holding at least 2048 + 8N bytes
 * (rok4.md §5.1). Readers rely only on this index, never on tile alignment.
 */
export function parseSlabIndex(headerAndIndex: Uint8Array, tileCount: number): SlabIndex {
  if (headerAndIndex.length < headerAndIndexSize(tileCount)) {
    throw new Error(`slab index: ${headerAndIndexSize(tileCount)} bytes needed, got ${headerAndIndex.length}`);
  }
  const view = new DataView(headerAndIndex.buffer, headerAndIndex.byteOffset, headerAndIndex.byteLength);
  const offsets = new Uint32Array(tileCount);
  const sizes = new Uint32Array(tileCount);
  for (let i = 0; i < tileCount; i++) {
    offsets[i] = view.getUint32(SLAB_HEADER_SIZE + 4 * i, true);
    sizes[i] = view.getUint32(SLAB_HEADER_SIZE + 4 * (tileCount + i), true);
  }
  return { offsets, sizes };
}

/** The encoded tiles of a whole slab file, in slab order (empty arrays for size 0). Views, not copies. */
export function splitSlabTiles(slab: Uint8Array, tileCount: number): Uint8Array[] {
  const { offsets, sizes } = parseSlabIndex(slab, tileCount);
  const tiles: Uint8Array[] = [];
  for (let i = 0; i < tileCount; i++) {
    if (sizes[i] === 0) {
      tiles.push(new Uint8Array(0));
      continue;
    }
    if (offsets[i] + sizes[i] > slab.length) throw new Error(`slab tile ${i} lies beyond the end of the slab`);
    tiles.push(slab.subarray(offsets[i], offsets[i] + sizes[i]));
  }
  return tiles;
}
