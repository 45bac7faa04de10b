/**
 * A WMS map as an image: drawn by wms-render.ts, then encoded. The same function runs on the main thread
 * and in the worker pool (map-tasks.ts), so both give the same bytes.
 */
import sharp from 'sharp';
import { encodePng } from '../raster/png-encoder.js';
import { threadScratch } from '../raster/thread-scratch.js';
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
  const n = grid.width * grid.height;
  // PNG through our encoder (src/raster/png-encoder.ts: 2.5x faster than sharp's on a map, as small).
  if (look.transparent && look.format === 'image/png') return encodePng(canvas, grid.width, grid.height, 4);
  const { bg } = look;
  // PNG reads the composite before its first await; sharp reads it after this returns: a JPEG map gets its own.
  const rgb = look.format === 'image/png' ? threadScratch('mapRgb', n * 3) : new Uint8Array(n * 3);
  for (let p = 0, o = 0; p < n * 4; p += 4, o += 3) {
    const a = canvas[p + 3];
    if (a === 255) {
      rgb[o] = canvas[p];
      rgb[o + 1] = canvas[p + 1];
      rgb[o + 2] = canvas[p + 2];
    } else {
      for (let c = 0; c < 3; c++) rgb[o + c] = Math.round((canvas[p + c] * a + bg[c] * (255 - a)) / 255);
    }
  }
  if (look.format === 'image/png') return encodePng(rgb, grid.width, grid.height, 3);
  return sharp(rgb, { raw: { width: grid.width, height: grid.height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}
