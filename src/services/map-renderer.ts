/**
 * Where WMS maps are drawn. In a server, in the worker pool (map-tasks.ts): a 512² map costs tens of
 * milliseconds of warping and encoding, which on the main thread would hold every other request and use
 * one core. Handlers called without a pool (tests), and layers whose storage workers cannot open, draw
 * on the calling thread — the same function, the same bytes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerPool } from '../workers/pool.js';
import type { LayerSource, PublishedLayer } from './layer.js';
import { drawMapImage, type MapLook } from './map-image.js';
import type { MapTask } from './map-tasks.js';
import type { MapGrid } from './wms-render.js';

/** Draws `layers` (in order) on `grid` and encodes the map as `look` says. */
export type MapRenderer = (layers: readonly PublishedLayer[], grid: MapGrid, look: MapLook) => Promise<Buffer>;

export const drawOnThisThread: MapRenderer = drawMapImage;

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'map-tasks.js');

/** Draws maps in `pool`'s worker threads. */
export function drawInPool(pool: WorkerPool): MapRenderer {
  return async (layers, grid, look) => {
    const sources = layers.map((l) => l.source);
    if (sources.some((s) => s === undefined)) return drawMapImage(layers, grid, look);
    const task: MapTask = { layers: sources as LayerSource[], grid, look };
    const bytes = await pool.run<Uint8Array>(TASKS, 'drawMap', task);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}
