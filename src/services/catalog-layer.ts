/**
 * The tile layer of a raster catalog (issue 12, "Shown as one layer"): no pyramid, each tile is rendered
 * when asked from the COGs of the catalog's items that intersect it. A tile's CRS84 bbox queries the
 * item store's R*Tree; the items are drawn newest `datetime` first (on top; equal datetimes: the last
 * added on top), each from the coarsest overview of its COG that is still at least as fine as the tile,
 * only the window under the tile decoded, resampled by the pyramid's warp engine (cubic, the COG's mask or
 * nodata honoured), and a pixel keeps the first item that has data there. No item → the layer's nodata
 * tile, as for pyramids.
 *
 * The layer is a {@link PublishedLayer} whose levels' `reader` is a {@link CatalogLevelReader}: the tile
 * services, the WMS GetMap and GetFeatureInfo read it as they read a pyramid's levels.
 */
import type { CatalogItem } from '../catalog/catalog-item.js';
import type { CatalogItemStore } from '../catalog/item-store.js';
import { invalidInput } from '../errors.js';
import { approximateTransform } from '../raster/approx-transform.js';
import { createTransform, resolveCrs, transformBbox, type Bbox } from '../raster/crs.js';
import {
  clipWindow,
  describeRasterAt,
  storedRasterLocation,
  openRasterWindows,
  type RasterInfo,
  type RasterWindow,
  type RasterWindowReader,
} from '../raster/geotiff-source.js';
import { levelsSortedByResolution, loadTms, tileBbox, tileRangeOfBbox, type TileMatrix, type TileMatrixSet } from '../raster/tms.js';
import { warp } from '../raster/warp.js';
import { jpegEncode } from '../rok4/codec-jpeg.js';
import { pngEncode } from '../rok4/codec-png.js';
import { parseFormat } from '../rok4/formats.js';
import type { DecodedTile } from '../rok4/reader.js';
import type { StoredData } from '../records/stored-data.js';
import type { Storage } from '../storage/storage.js';
import { type LayerLevel, type LayerSpec, PublishedLayer } from './layer.js';
import { parseTileFilter, type TileFilter } from './tile-filter.js';

/** What a configuration says of a catalog layer (`type_infos.used_data[0]`). */
export interface CatalogLayerOptions {
  tile_matrix_set?: string;
  format?: 'png' | 'jpeg';
  bottom_level?: string;
  top_level?: string;
}

/** Items drawn in one tile at most (newest first): a low-zoom tile over a huge catalog stays bounded. */
const ITEMS_PER_TILE = 200;
/** Decoded windows kept per layer (a window is at most a few tiles' worth of pixels). */
const WINDOWS_KEPT = 64;
/** COGs kept open per layer. */
const READERS_KEPT = 32;
/** Rendered tiles kept per layer: WMS reads a tile's pixels then its mask. */
const RENDERED_KEPT = 32;
/** Source pixels added around the window under a tile: the cubic kernel's reach, widened when downsampling. */
const WINDOW_MARGIN = 4;
/** Nodata colour of JPEG tiles (and the hidden colour of transparent PNG pixels). */
const NODATA = 255;

interface Rendered {
  /** Pixel-interleaved, `channels` samples. */
  pixels: Uint8Array;
  mask: Uint8Array;
  drawn: number;
}

/** How stale the items a layer draws may be, on a machine that shares them with others (issue 14). */
const ITEMS_LAG_MS = 1000;

/** Renders the tiles of one catalog layer; caches what it decoded (bounded). */
export class CatalogTiles {
  private readonly infos = new Map<string, Promise<RasterInfo>>();
  /** Open COGs, least recently read first; `busy` counts reads in flight (never closed under them). */
  private readonly readers = new Map<string, { reader: RasterWindowReader; busy: number }>();
  private readonly windows = new Map<string, Promise<RasterWindow>>();
  private readonly rendered = new Map<string, Promise<Rendered>>();

  constructor(
    readonly catalog: Pick<StoredData, '_id' | 'name' | 'type_infos'>,
    private readonly items: CatalogItemStore,
    private readonly storage: Storage,
    readonly tms: TileMatrixSet,
    readonly channels: number,
  ) {}

  /** The filter of a tile request checked against the catalog's attributes (a {@link TileFilterError} otherwise). */
  filter(text: string | undefined): TileFilter | undefined {
    return parseTileFilter(this.catalog, text);
  }

  /** Items under a tile, in drawing order: newest datetime first, then the last added first. */
  itemsUnder(tm: TileMatrix, col: number, row: number, filter?: TileFilter): CatalogItem[] {
    const bbox = transformBbox(tileBbox(tm, col, row), this.tms.crs, 'EPSG:4326');
    const found = this.items.query(this.catalog._id, { bbox: bbox as [number, number, number, number], limit: 100_000, offset: 0 }).items;
    const kept = (filter ? found.filter((it) => filter.test(it)) : found).map((it, added) => ({ it, added }));
    kept.sort((a, b) => (a.it.datetime < b.it.datetime ? 1 : a.it.datetime > b.it.datetime ? -1 : b.added - a.added));
    return kept.slice(0, ITEMS_PER_TILE).map((k) => k.it);
  }

  /**
   * The tile's pixels and mask; `drawn` = 0 when no item has data in it. Rendered tiles are kept for the
   * items they were drawn from: once items are added (or the catalog emptied) they are drawn again.
   */
  async render(tm: TileMatrix, col: number, row: number, filter?: TileFilter): Promise<Rendered> {
    // Items other machines added reach this one within a second (one Redis read per second at most).
    await this.items.sync({ maxAgeMs: ITEMS_LAG_MS });
    const key = `${this.items.revision()}/${tm.id}/${col}/${row}/${filter?.text ?? ''}`;
    return remember(this.rendered, key, RENDERED_KEPT, () => this.draw(tm, col, row, filter));
  }

  private async draw(tm: TileMatrix, col: number, row: number, filter?: TileFilter): Promise<Rendered> {
    const { tileWidth: w, tileHeight: h } = tm;
    const C = this.channels;
    const pixels = new Uint8Array(w * h * C).fill(NODATA);
    const mask = new Uint8Array(w * h);
    let missing = w * h;
    let drawn = 0;
    const bbox = tileBbox(tm, col, row);
    for (const item of this.itemsUnder(tm, col, row, filter)) {
      if (missing === 0) break;
      const warped = await this.warpItem(item, tm, bbox);
      if (!warped) continue;
      const sc = warped.channels;
      let any = false;
      for (let p = 0; p < w * h; p++) {
        if (mask[p] || !warped.mask[p]) continue;
        for (let c = 0; c < C; c++) pixels[p * C + c] = warped.data[p * sc + Math.min(c, sc - 1)];
        mask[p] = 255;
        missing--;
        any = true;
      }
      if (any) drawn++;
    }
    return { pixels, mask, drawn };
  }

  /** One item resampled onto the tile grid, or undefined when its COG has nothing under the tile. */
  private async warpItem(
    item: CatalogItem,
    tm: TileMatrix,
    bbox: Bbox,
  ): Promise<{ data: Uint8Array; mask: Uint8Array; channels: number } | undefined> {
    const info = await this.info(item);
    // 8-bit images only (what the tiling process writes for imagery); a float32 catalog is not drawn.
    if (info.sampleType !== 'uint8') return undefined;
    const [gx0, gdx, , gy0, , gdy] = info.geoTransform;
    let srcBbox: Bbox;
    try {
      srcBbox = transformBbox(bbox, this.tms.crs, info.crs);
    } catch {
      return undefined;
    }
    // Overview: the coarsest one still at least as fine as the tile (the full image when none is).
    const tileRes = Math.min((srcBbox[2] - srcBbox[0]) / tm.tileWidth, (srcBbox[3] - srcBbox[1]) / tm.tileHeight);
    let overview: number | undefined;
    let lw = info.width,
      lh = info.height;
    for (const [i, ov] of info.overviews.entries()) {
      if (Math.abs(gdx) * (info.width / ov.width) > tileRes) break;
      overview = i;
      lw = ov.width;
      lh = ov.height;
    }
    const dx = (gdx * info.width) / lw,
      dy = (gdy * info.height) / lh;
    // The window under the tile (north-up COGs: the tiling process writes no rotation).
    const xs = [(srcBbox[0] - gx0) / dx, (srcBbox[2] - gx0) / dx];
    const ys = [(srcBbox[1] - gy0) / dy, (srcBbox[3] - gy0) / dy];
    const x0 = Math.floor(Math.min(...xs)) - WINDOW_MARGIN,
      x1 = Math.ceil(Math.max(...xs)) + WINDOW_MARGIN;
    const y0 = Math.floor(Math.min(...ys)) - WINDOW_MARGIN,
      y1 = Math.ceil(Math.max(...ys)) + WINDOW_MARGIN;
    const win = clipWindow(info, { x: x0, y: y0, width: x1 - x0, height: y1 - y0, overview });
    if (!win) return undefined;
    const src = await this.window(item, info, win);
    const exact = createTransform(this.tms.crs, info.crs);
    const coords = approximateTransform(
      exact,
      { width: tm.tileWidth, height: tm.tileHeight, geoTransform: [bbox[0], tm.cellSize, 0, bbox[3], 0, -tm.cellSize] },
      [gx0 + win.x * dx, dx, 0, gy0 + win.y * dy, 0, dy],
    );
    const out = warp({
      src: { data: src.data, width: src.width, height: src.height, channels: src.channels, mask: src.mask, sampleType: info.sampleType },
      coords,
      dst: { width: tm.tileWidth, height: tm.tileHeight },
      kernel: 'bicubic',
      nodata: Array.from({ length: src.channels }, () => NODATA),
    });
    return { data: out.data as Uint8Array, mask: out.mask, channels: src.channels };
  }

  private info(item: CatalogItem): Promise<RasterInfo> {
    let p = this.infos.get(item.key);
    if (!p) {
      p = describeItem(this.storage, item);
      this.infos.set(item.key, p);
      p.catch(() => this.infos.delete(item.key));
    }
    return p;
  }

  private window(item: CatalogItem, info: RasterInfo, win: NonNullable<ReturnType<typeof clipWindow>>): Promise<RasterWindow> {
    const key = `${item.key} ${win.overview ?? -1} ${win.x} ${win.y} ${win.width} ${win.height}`;
    return remember(this.windows, key, WINDOWS_KEPT, async () => {
      let open = this.readers.get(item.key);
      if (open) this.readers.delete(item.key);
      else open = { reader: openRasterWindows(info), busy: 0 };
      this.readers.set(item.key, open);
      open.busy++;
      try {
        return await open.reader.read(win);
      } finally {
        open.busy--;
        this.closeIdleReaders();
      }
    });
  }

  /** Keeps at most {@link READERS_KEPT} COGs open (a file handle each): the least recently read idle ones are closed. */
  private closeIdleReaders(): void {
    for (const [key, open] of this.readers) {
      if (this.readers.size <= READERS_KEPT) return;
      if (open.busy > 0) continue;
      this.readers.delete(key);
      void open.reader.close().catch(() => {});
    }
  }
}

/** A bounded LRU of promises: a failed one is forgotten. */
function remember<T>(cache: Map<string, Promise<T>>, key: string, kept: number, make: () => Promise<T>): Promise<T> {
  let hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  hit = make();
  cache.set(key, hit);
  hit.catch(() => cache.delete(key));
  if (cache.size > kept) cache.delete(cache.keys().next().value!);
  return hit;
}

/**
 * A level of a catalog layer read as a pyramid level is (tile-source.ts, wms-render.ts, feature-info.ts):
 * pixels and mask of a rendered tile, or null where no item has data.
 */
export class CatalogLevelReader {
  constructor(
    readonly tiles: CatalogTiles,
    private readonly tm: TileMatrix,
    private readonly format: 'png' | 'jpeg',
  ) {}

  /** The encoded tile, or null where no item has data (the caller answers its nodata tile). */
  async readTileBytes(_level: string, col: number, row: number, filter?: TileFilter): Promise<Buffer | null> {
    const r = await this.tiles.render(this.tm, col, row, filter);
    if (r.drawn === 0) return null;
    const { tileWidth: w, tileHeight: h } = this.tm;
    const C = this.tiles.channels;
    if (this.format === 'jpeg') {
      const rgb = new Uint8Array(w * h * 3);
      for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = r.pixels[p * C + Math.min(c, C - 1)];
      return jpegEncode(rgb, w, h, 90);
    }
    // PNG: grey + alpha or RGBA, transparent where no item has data.
    const out = C === 1 ? 2 : 4;
    const data = new Uint8Array(w * h * out);
    for (let p = 0; p < w * h; p++) {
      for (let c = 0; c < out - 1; c++) data[p * out + c] = r.pixels[p * C + Math.min(c, C - 1)];
      data[p * out + out - 1] = r.mask[p];
    }
    return pngEncode(data, w, h, out);
  }

  async readTile(_level: string, col: number, row: number): Promise<DecodedTile | null> {
    const r = await this.tiles.render(this.tm, col, row);
    if (r.drawn === 0) return null;
    return { width: this.tm.tileWidth, height: this.tm.tileHeight, channels: this.tiles.channels, sampleType: 'uint8', pixels: r.pixels };
  }

  async readMaskTile(_level: string, col: number, row: number): Promise<Uint8Array | null> {
    const r = await this.tiles.render(this.tm, col, row);
    return r.drawn === 0 ? null : r.mask;
  }
}

/**
 * Opens the layer of a READY catalog. Errors are 400s naming `field` members (`tile_matrix_set`,
 * `bottom_level`, …), as for pyramids.
 */
export async function openCatalogLayer(
  spec: LayerSpec,
  catalog: Pick<StoredData, '_id' | 'name' | 'type_infos'>,
  options: CatalogLayerOptions,
  items: CatalogItemStore,
  storage: Storage,
  tmsFolders: string[],
  field: string,
): Promise<PublishedLayer> {
  const extent = items.extent(catalog._id);
  if (!extent) throw invalidInput(`${field}.stored_data`, `catalog '${catalog.name}' has no item: there is nothing to show`);
  let tms: TileMatrixSet;
  try {
    tms = await loadTms(options.tile_matrix_set ?? 'PM', tmsFolders);
  } catch (err) {
    throw invalidInput(`${field}.tile_matrix_set`, (err as Error).message);
  }
  const levels = levelsSortedByResolution(tms);
  const byId = (id: string, key: string): TileMatrix => {
    const tm = levels.find((l) => l.id === id);
    if (!tm) throw invalidInput(`${field}.${key}`, `tile matrix set ${tms.id} has no level '${id}'`);
    return tm;
  };
  const all = items.query(catalog._id, { limit: 100_000, offset: 0 }).items;
  const finest =
    options.bottom_level !== undefined ? byId(options.bottom_level, 'bottom_level') : closestLevel(levels, finestResolution(all, tms));
  const coarsest = options.top_level !== undefined ? byId(options.top_level, 'top_level') : levels[levels.length - 1];
  if (finest.cellSize > coarsest.cellSize)
    throw invalidInput(`${field}.bottom_level`, `level ${finest.id} is coarser than top_level ${coarsest.id}`);
  const channels = Math.max(1, ...(await Promise.all(all.slice(0, 1).map(async (it) => bandsOf(it, storage)))));
  const format = options.format ?? 'png';
  const tiles = new CatalogTiles(catalog, items, storage, tms, format === 'jpeg' ? 3 : channels);
  let bbox: Bbox;
  try {
    bbox = transformBbox(extent.bbox, 'EPSG:4326', tms.crs);
  } catch {
    throw invalidInput(`${field}.tile_matrix_set`, `the catalog's extent cannot be expressed in ${tms.crs}`);
  }
  const layerLevels: LayerLevel[] = levels
    .filter((tm) => tm.cellSize >= finest.cellSize && tm.cellSize <= coarsest.cellSize)
    .map((tm) => {
      const r = tileRangeOfBbox(tm, bbox);
      const limits = {
        min_col: Math.max(0, r.colMin),
        max_col: Math.min(tm.matrixWidth - 1, r.colMax),
        min_row: Math.max(0, r.rowMin),
        max_row: Math.min(tm.matrixHeight - 1, r.rowMax),
      };
      return { id: tm.id, tm, limits, reader: new CatalogLevelReader(tiles, tm, format) };
    });
  const formatInfo = parseFormat(format === 'jpeg' ? 'TIFF_JPG90_UINT8' : 'TIFF_PNG_UINT8');
  const layer = new PublishedLayer(spec, tms, formatInfo, tiles.channels, Array(tiles.channels).fill(NODATA), layerLevels);
  layer.catalog = tiles;
  return layer;
}

/**
 * The COG of an item: a local file on FILE (libvips decodes it), an object read by ranged GETs on S3
 * (issue 13; geotiff.js decodes it).
 */
function describeItem(storage: Storage, item: CatalogItem): Promise<RasterInfo> {
  return describeRasterAt(storedRasterLocation(storage, item.key));
}

/** Bands of an item's COG, alpha left out (an alpha band becomes the mask). */
async function bandsOf(item: CatalogItem, storage: Storage): Promise<number> {
  const info = await describeItem(storage, item);
  return info.mask === 'alpha' ? info.bands - 1 : info.bands;
}

/** The finest pixel size of the items, in TMS units, measured at each item's centre. */
function finestResolution(items: CatalogItem[], tms: TileMatrixSet): number {
  let finest = Infinity;
  for (const it of items) {
    if (it.epsg === null) continue;
    const [g1, , g0, , g5, g3] = it.transform;
    const [rows, cols] = it.shape;
    const cx = g0 + (g1 * cols) / 2,
      cy = g3 + (g5 * rows) / 2;
    try {
      const t = createTransform(resolveCrs(`EPSG:${it.epsg}`), tms.crs);
      const xs = Float64Array.of(cx, cx + g1, cx),
        ys = Float64Array.of(cy, cy, cy + g5);
      t(xs, ys);
      const res = Math.min(Math.hypot(xs[1] - xs[0], ys[1] - ys[0]), Math.hypot(xs[2] - xs[0], ys[2] - ys[0]));
      if (Number.isFinite(res) && res > 0) finest = Math.min(finest, res);
    } catch {
      // An item whose CRS we cannot transform does not choose the bottom level.
    }
  }
  return finest;
}

/** The level whose cell size is closest to `resolution` (ratio-wise); the finest level when unknown. */
function closestLevel(levels: TileMatrix[], resolution: number): TileMatrix {
  if (!Number.isFinite(resolution)) return levels[0];
  let best = levels[0];
  for (const tm of levels) if (Math.abs(Math.log(tm.cellSize / resolution)) < Math.abs(Math.log(best.cellSize / resolution))) best = tm;
  return best;
}
