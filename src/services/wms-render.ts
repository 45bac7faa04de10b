/**
 * WMS GetMap rendering of a published layer (issue 10), as ROK4's server renders it (rok4.md §5.4): the
 * level whose resolution is closest to the one asked, the tiles under the request read through the ROK4
 * reader into one source window, and that window resampled onto the requested grid by the same warp
 * engine as the pyramid generation (src/raster/warp.ts: masks honoured, GDAL's rules) — so a map and a
 * pyramid made from the same data agree.
 */
import { approximateTransform, type GeoTransform } from '../raster/approx-transform.js';
import { createTransform, transformBbox, type Bbox } from '../raster/crs.js';
import type { KernelName } from '../raster/kernels.js';
import { warp, type RasterImage } from '../raster/warp.js';
import type { DecodedTile } from '../rok4/reader.js';
import type { LayerLevel, PublishedLayer } from './layer.js';

/** A map request in the layer-independent terms: CRS code, bbox in x/y (easting/longitude first) order, size. */
export interface MapGrid {
  crs: string;
  bbox: Bbox;
  width: number;
  height: number;
}

/** A rendered layer: RGBA pixels (alpha 0 where the layer has no data). */
export interface RenderedLayer {
  rgba: Uint8Array;
  /** The level the pixels come from. */
  level: string;
}

/** Source window pixels a map may read: a 4096² map at the closest level reads about its own size. */
const MAX_WINDOW_PIXELS = 32 * 1024 * 1024;
/** Source pixels kept around the window for the kernel's support (bicubic: 2, plus rounding). */
const MARGIN = 3;

/**
 * The level of `layer` closest to `resolution` (TMS CRS units per pixel), on a log scale: a map at 1.9 m
 * per pixel comes from the 2 m level, not the 1 m one (rok4.md §5.4, "best level").
 */
export function closestLevel(layer: PublishedLayer, resolution: number): LayerLevel {
  let best = layer.levels[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const level of layer.levels) {
    const distance = Math.abs(Math.log(level.tm.cellSize / resolution));
    if (distance < bestDistance) {
      best = level;
      bestDistance = distance;
    }
  }
  return best;
}

/** The request's bbox in the layer's TMS CRS and the resolution it asks there (units per pixel). */
export function requestInTms(layer: PublishedLayer, grid: MapGrid): { bbox: Bbox; resolution: number } | undefined {
  const bbox = transformBbox(grid.bbox, grid.crs, layer.tms.crs);
  if (!bbox.every(Number.isFinite) || bbox[2] <= bbox[0] || bbox[3] <= bbox[1]) return undefined;
  const resolution = Math.sqrt(((bbox[2] - bbox[0]) / grid.width) * ((bbox[3] - bbox[1]) / grid.height));
  return { bbox, resolution };
}

/** Renders one layer onto the grid, or undefined when the layer has nothing there (an all-transparent map). */
export async function renderLayer(
  layer: PublishedLayer,
  grid: MapGrid,
  kernel: KernelName = 'bicubic',
): Promise<RenderedLayer | undefined> {
  const asked = requestInTms(layer, grid);
  if (!asked) return undefined;
  // The closest level, or a coarser one when the window it needs would be too large (a strongly
  // distorted request, such as a whole-world map from a Lambert-93 layer).
  const byFineness = [...layer.levels].reverse();
  let start = byFineness.indexOf(closestLevel(layer, asked.resolution));
  for (; start < byFineness.length; start++) {
    const level = byFineness[start];
    const window = sourceWindow(level, asked.bbox);
    if (!window) return undefined;
    if (window.width * window.height <= MAX_WINDOW_PIXELS) return draw(layer, level, window, grid, kernel);
  }
  return undefined;
}

interface SourceWindow {
  col0: number;
  row0: number;
  width: number;
  height: number;
}

/** Pixel window of `level` under `bbox` (TMS CRS), clipped to the level's tile limits. */
function sourceWindow(level: LayerLevel, bbox: Bbox): SourceWindow | undefined {
  const { tm, limits } = level;
  const [ox, oy] = tm.pointOfOrigin;
  const cell = tm.cellSize;
  const minCol = limits.min_col * tm.tileWidth;
  const maxCol = (limits.max_col + 1) * tm.tileWidth;
  const minRow = limits.min_row * tm.tileHeight;
  const maxRow = (limits.max_row + 1) * tm.tileHeight;
  const col0 = Math.max(minCol, Math.floor((bbox[0] - ox) / cell) - MARGIN);
  const col1 = Math.min(maxCol, Math.ceil((bbox[2] - ox) / cell) + MARGIN);
  const row0 = Math.max(minRow, Math.floor((oy - bbox[3]) / cell) - MARGIN);
  const row1 = Math.min(maxRow, Math.ceil((oy - bbox[1]) / cell) + MARGIN);
  if (col1 <= col0 || row1 <= row0) return undefined;
  return { col0, row0, width: col1 - col0, height: row1 - row0 };
}

async function draw(layer: PublishedLayer, level: LayerLevel, w: SourceWindow, grid: MapGrid, kernel: KernelName): Promise<RenderedLayer> {
  const src = await readWindow(layer, level, w);
  const { tm } = level;
  const sourceGt: GeoTransform = [
    tm.pointOfOrigin[0] + w.col0 * tm.cellSize,
    tm.cellSize,
    0,
    tm.pointOfOrigin[1] - w.row0 * tm.cellSize,
    0,
    -tm.cellSize,
  ];
  const [x0, y0, x1, y1] = grid.bbox;
  const targetGt: GeoTransform = [x0, (x1 - x0) / grid.width, 0, y1, 0, -(y1 - y0) / grid.height];
  const coords = approximateTransform(
    createTransform(grid.crs, layer.tms.crs),
    { width: grid.width, height: grid.height, geoTransform: targetGt },
    sourceGt,
  );
  const nodata = Array.from({ length: src.channels }, (_, b) => layer.nodata[b] ?? 0);
  const out = warp({ src, coords, dst: { width: grid.width, height: grid.height }, kernel, nodata });
  return { rgba: toRgba(out.data as Uint8Array, out.mask, src.channels), level: level.id };
}

/** Decoded tiles kept per layer: maps side by side share most of their tiles (decoding is half a map's cost). */
const DECODED_TILES_KEPT = 96;
const decodedTiles = new WeakMap<PublishedLayer, Map<string, Promise<{ tile: DecodedTile; mask: Uint8Array | null } | null>>>();

function decodedTile(
  layer: PublishedLayer,
  level: LayerLevel,
  col: number,
  row: number,
): Promise<{ tile: DecodedTile; mask: Uint8Array | null } | null> {
  let cache = decodedTiles.get(layer);
  if (!cache) decodedTiles.set(layer, (cache = new Map()));
  const key = `${level.id}/${col}/${row}`;
  let hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  hit = (async () => {
    const tile = await level.reader.readTile(level.id, col, row);
    return tile ? { tile, mask: await level.reader.readMaskTile(level.id, col, row) } : null;
  })();
  cache.set(key, hit);
  hit.catch(() => cache.delete(key));
  if (cache.size > DECODED_TILES_KEPT) cache.delete(cache.keys().next().value!);
  return hit;
}

/** The tiles under the window, decoded into one image with its mask (missing tiles: no data). */
async function readWindow(layer: PublishedLayer, level: LayerLevel, w: SourceWindow): Promise<RasterImage> {
  const { tm } = level;
  const C = layer.channels;
  const data = new Uint8Array(w.width * w.height * C);
  const mask = new Uint8Array(w.width * w.height);
  const tc0 = Math.floor(w.col0 / tm.tileWidth);
  const tc1 = Math.floor((w.col0 + w.width - 1) / tm.tileWidth);
  const tr0 = Math.floor(w.row0 / tm.tileHeight);
  const tr1 = Math.floor((w.row0 + w.height - 1) / tm.tileHeight);
  const jobs: Array<Promise<void>> = [];
  for (let row = tr0; row <= tr1; row++) {
    for (let col = tc0; col <= tc1; col++) {
      jobs.push(
        (async () => {
          const decoded = await decodedTile(layer, level, col, row);
          if (!decoded) return;
          const { tile, mask: tileMask } = decoded;
          const pixels = tile.pixels as Uint8Array;
          // Overlap of this tile with the window, in window pixels.
          const px0 = col * tm.tileWidth - w.col0;
          const py0 = row * tm.tileHeight - w.row0;
          const ix0 = Math.max(0, -px0);
          const iy0 = Math.max(0, -py0);
          const ix1 = Math.min(tile.width, w.width - px0);
          const iy1 = Math.min(tile.height, w.height - py0);
          for (let j = iy0; j < iy1; j++) {
            const wy = py0 + j;
            const from = (j * tile.width + ix0) * C;
            data.set(pixels.subarray(from, from + (ix1 - ix0) * C), (wy * w.width + px0 + ix0) * C);
            for (let i = ix0; i < ix1; i++) mask[wy * w.width + px0 + i] = tileMask ? tileMask[j * tile.width + i] : 255;
          }
        })(),
      );
    }
  }
  await Promise.all(jobs);
  return { data, width: w.width, height: w.height, channels: C, mask, sampleType: 'uint8' };
}

/** Gray, gray+alpha, RGB or RGBA samples → RGBA, transparent where the mask says no data. */
function toRgba(data: Uint8Array, mask: Uint8Array, channels: number): Uint8Array {
  const n = mask.length;
  const out = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    const o = p * 4;
    if (channels >= 3) {
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
    } else {
      out[o] = out[o + 1] = out[o + 2] = data[s];
    }
    const alpha = channels === 4 ? data[s + 3] : channels === 2 ? data[s + 1] : 255;
    out[o + 3] = mask[p] ? alpha : 0;
  }
  return out;
}
