/**
 * A WMS map as an image: drawn by wms-render.ts, then encoded. The same function runs on the main thread
 * and in the worker pool (map-tasks.ts), so both give the same bytes.
 */
import sharp from 'sharp';
import { flattenRgbaOver } from '../raster/flatten-rgba.js';
import { encodePng, encodePngOver } from '../raster/png-encoder.js';
import type { PublishedLayer } from './layer.js';
import { releaseCanvas, renderMap, type MapGrid } from './wms-render.js';

/** How a map is delivered (WMS FORMAT, TRANSPARENT, BGCOLOR; 06-042 §7.3.3). */
export interface MapLook {
  format: 'image/png' | 'image/jpeg';
  transparent: boolean;
  /** Background colour, RGB 0–255. */
  bg: [number, number, number];
}

/** Draws `layers` on `grid` and encodes the map. */
export async function drawMapImage(layers: readonly PublishedLayer[], grid: MapGrid, look: MapLook): Promise<Buffer> {
  const canvas = await renderMap(layers, grid);
  try {
    return await encodeMap(canvas, grid, look);
  } finally {
    releaseCanvas(canvas);
  }
}

/** The RGBA canvas as PNG (transparent or over the background) or JPEG (over the background). */
export async function encodeMap(canvas: Uint8Array, grid: MapGrid, look: MapLook): Promise<Buffer> {
  // PNG through our encoder (src/raster/png-encoder.ts: 2.5x faster than sharp's on a map, as small).
  if (look.format === 'image/png')
    return look.transparent ? encodePng(canvas, grid.width, grid.height, 4) : encodePngOver(canvas, grid.width, grid.height, look.bg);
  // sharp reads the pixels after this returns: a JPEG map gets its own.
  const rgb = flattenRgbaOver(canvas, grid.width * grid.height, look.bg, new Uint8Array(grid.width * grid.height * 3));
  return sharp(rgb, { raw: { width: grid.width, height: grid.height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}
