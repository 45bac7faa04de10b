/**
 * Worker-thread side of WMS map drawing (map-renderer.ts): a map is drawn and encoded in the worker pool,
 * so that the main thread only parses requests and sends bytes, and maps use every core.
 *
 * Each worker opens the layers it is asked to draw from their {@link LayerSource} and keeps them (their
 * slab handles, index caches and decoded tiles) by key, the few most recently used.
 */
import { openLayer, type LayerSource, type PublishedLayer } from './layer.js';
import { drawMapImage, type MapLook } from './map-image.js';
import type { MapGrid } from './wms-render.js';
import { storageOf } from '../storage/factory.js';
import { moveWith } from '../workers/transfer.js';

/** One map to draw: its layers (in drawing order), grid and look. */
export interface MapTask {
  layers: LayerSource[];
  grid: MapGrid;
  look: MapLook;
}

/** Layers kept open per worker: the ones published together and the one just switched from. */
const LAYERS_KEPT = 16;
const opened = new Map<string, Promise<PublishedLayer>>();

function layerOf(source: LayerSource): Promise<PublishedLayer> {
  let layer = opened.get(source.key);
  if (layer) {
    opened.delete(source.key);
  } else {
    layer = openLayer(source.spec, storageOf(source.storage), source.tmsFolders);
    layer.catch(() => opened.delete(source.key));
  }
  opened.set(source.key, layer);
  // Slab handles of a layer that leaves are closed when it is collected (rok4/slab-handles.ts).
  if (opened.size > LAYERS_KEPT) opened.delete(opened.keys().next().value!);
  return layer;
}

/** Draws and encodes one map; its bytes (a few hundred kB, a buffer of their own) are moved back, not copied. */
export async function drawMap(task: MapTask): Promise<Uint8Array> {
  const layers = await Promise.all(task.layers.map(layerOf));
  const bytes = await drawMapImage(layers, task.grid, task.look);
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
  return moveWith(own, [own.buffer]);
}
