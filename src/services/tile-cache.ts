/**
 * Tiles recently served, kept in memory with their strong ETag (issue 10): a tile asked again is sent
 * without opening its slab, reading it or hashing it again. Most map traffic asks the same tiles many times
 * (low levels, the places people look at), and a read through the storage costs a slab open or a
 * thread-pool round trip (S3: a ranged GET) where a hit costs a map lookup.
 *
 * Safe because a published layer's bytes never change under it: a pyramid in use cannot be deleted (409),
 * an update writes a new pyramid, and a switch publishes a new layer object — whose tiles are keyed apart —
 * while the registry drops the old one's (layer-registry.ts). Catalog layers render their tiles from a
 * catalog that grows, and are not kept here.
 *
 * Bounded by bytes (config `server.limits.tile_cache_bytes`), least recently used out.
 */
import type { PublishedLayer } from './layer.js';

/** A kept tile: its bytes as sent, and the entity tag computed once from them. */
export interface CachedTile {
  bytes: Buffer;
  etag: string;
  nodata: boolean;
}

/** Bytes counted per entry besides its tile bytes (key, object, map slot): many tiny tiles still fill the cache. */
const ENTRY_OVERHEAD = 200;

/** What an entry counts against the budget. */
function entrySize(tile: CachedTile): number {
  return tile.bytes.byteLength + ENTRY_OVERHEAD;
}

export class TileCache {
  /** In least-recently-used order (a Map iterates in insertion order; a hit re-inserts its entry). */
  private readonly entries = new Map<string, CachedTile>();
  /** Each layer object's number in the keys: a switched layer's tiles never answer for the new one. */
  private readonly layerIds = new WeakMap<PublishedLayer, number>();
  private nextLayerId = 0;
  private bytes = 0;

  /** @param maxBytes bytes kept at most (tile bytes and a fixed overhead per tile); 0 keeps nothing. */
  constructor(readonly maxBytes: number) {}

  /** The key of a tile of `layer`: level, column, row and the MIME type it is sent as. */
  key(layer: PublishedLayer, level: string, col: number, row: number, mime: string): string {
    let id = this.layerIds.get(layer);
    if (id === undefined) this.layerIds.set(layer, (id = this.nextLayerId++));
    return `${id}/${level}/${col}/${row}/${mime}`;
  }

  get(key: string): CachedTile | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, tile: CachedTile): void {
    const size = entrySize(tile);
    if (size > this.maxBytes / 16) return; // a few huge tiles (TIFF of a DTM) would push out everything else
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= entrySize(old);
    }
    this.entries.set(key, tile);
    this.bytes += size;
    for (const [k, t] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= entrySize(t);
    }
  }

  /** Forgets every tile of `layer` (unpublished, or switched to other pyramids). */
  drop(layer: PublishedLayer): void {
    const id = this.layerIds.get(layer);
    if (id === undefined) return;
    this.layerIds.delete(layer);
    const prefix = `${id}/`;
    for (const [k, t] of this.entries) {
      if (!k.startsWith(prefix)) continue;
      this.entries.delete(k);
      this.bytes -= entrySize(t);
    }
  }

  /** Bytes held now (tiles and overhead), for tests and logs. */
  get size(): number {
    return this.bytes;
  }

  /** Tiles held now. */
  get count(): number {
    return this.entries.size;
  }
}
