/**
 * The layers the services serve right now, by name. Offerings fill it (publish, synchronize, unpublish);
 * services look a layer up once per request and keep that object to the end, so a switch is atomic for
 * them: a request that started on the old pyramids finishes on them, the next one sees the new layer
 * (issue 10: "no failed request during the switch; caches are dropped" — the old layer's readers and
 * their slab-index caches are dropped with it).
 */
import type { PublishedLayer } from './layer.js';
import { TileCache } from './tile-cache.js';

export class LayerRegistry {
  private layers = new Map<string, PublishedLayer>();
  /** Tiles recently served from these layers; a layer's go when it is switched or unpublished. */
  readonly tiles: TileCache;

  /** Counts changes, so that documents built from the whole registry (capabilities) can be cached per version. */
  private changes = 0;

  /** @param tileCacheBytes bytes of served tiles kept in memory (config `server.limits.tile_cache_bytes`; 0 = none). */
  constructor(tileCacheBytes = 0) {
    this.tiles = new TileCache(tileCacheBytes);
  }

  get(name: string): PublishedLayer | undefined {
    return this.layers.get(name);
  }

  /** Layers sorted by name (stable capabilities documents). */
  list(): PublishedLayer[] {
    return [...this.layers.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Serves `layer` under its name from now on, in place of the layer of that name if any. */
  publish(layer: PublishedLayer): void {
    const old = this.layers.get(layer.name);
    if (old && old !== layer) this.tiles.drop(old);
    const next = new Map(this.layers);
    next.set(layer.name, layer);
    this.layers = next;
    this.changes++;
  }

  /** Stops serving a layer; false when it was not published. */
  unpublish(name: string): boolean {
    const old = this.layers.get(name);
    if (!old) return false;
    this.tiles.drop(old);
    const next = new Map(this.layers);
    next.delete(name);
    this.layers = next;
    this.changes++;
    return true;
  }

  get version(): number {
    return this.changes;
  }
}
