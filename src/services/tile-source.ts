/**
 * Reading one tile of a published layer, as the ROK4 server serves it (rok4.md §5.4): the slab index read
 * once (cached by the layer's Rok4Reader), then one ranged read of the tile's bytes, sent as stored. A
 * tile inside the matrix without data (outside the tile limits, missing slab, size 0) is a nodata tile
 * — transparent PNG, nodata-coloured JPEG, nodata samples in TIFF/BIL — as ROK4's server answers;
 * outside the matrix (or a level the layer does not have) is out of range, each service saying so its
 * own way.
 */
import { jpegEncode } from '../rok4/codec-jpeg.js';
import { pngEncode } from '../rok4/codec-png.js';
import { CatalogLevelReader } from './catalog-layer.js';
import type { LayerLevel, PublishedLayer } from './layer.js';
import type { TileFilter } from './tile-filter.js';
import { cacheable, strongEtag, type ServiceRequest, type ServiceResponse } from './service-http.js';
import type { CachedTile, TileCache } from './tile-cache.js';
import type { OfferedFormat } from './tile-formats.js';
import { wrapTileInTiff } from './tiff-wrap.js';

export type TileAnswer =
  | { kind: 'tile'; bytes: Buffer; etag: string; contentType: string; contentEncoding?: string; nodata: boolean }
  | { kind: 'no-such-level' }
  | { kind: 'out-of-range'; axis: 'row' | 'col' };

/**
 * The tile (`level`, `col`, `row`) of a layer in an offered format. Rows count from the top (WMTS).
 * `filter` keeps only some items of a catalog layer (tile-filter.ts); pyramids ignore it. A pyramid's
 * tiles are answered from `cache` when it holds them, and kept there once read.
 */
export async function readLayerTile(
  layer: PublishedLayer,
  levelId: string,
  col: number,
  row: number,
  format: OfferedFormat,
  filter?: TileFilter,
  cache?: TileCache,
): Promise<TileAnswer> {
  const level = layer.level(levelId);
  if (!level) return { kind: 'no-such-level' };
  if (row < 0 || row >= level.tm.matrixHeight) return { kind: 'out-of-range', axis: 'row' };
  if (col < 0 || col >= level.tm.matrixWidth) return { kind: 'out-of-range', axis: 'col' };
  // A catalog layer renders the tile (catalog-layer.ts), from items that change: never kept.
  if (level.reader instanceof CatalogLevelReader)
    return answer(await storedAsSent(layer, level, await level.reader.readTileBytes(levelId, col, row, filter), format), format);
  const key = cache?.key(layer, levelId, col, row, format.mime);
  const kept = key !== undefined ? cache!.get(key) : undefined;
  if (kept) return answer(kept, format);
  const sent = await storedAsSent(layer, level, await level.reader.readTileBytes(levelId, col, row), format);
  if (key !== undefined) cache!.set(key, sent);
  return answer(sent, format);
}

/** A tile answer as the services send it: cacheable (ETag, 304, CORS), with its Content-Encoding if any. */
export function tileResponse(req: ServiceRequest, t: Extract<TileAnswer, { kind: 'tile' }>): ServiceResponse {
  return cacheable(req, t.bytes, t.contentType, t.contentEncoding ? { 'Content-Encoding': t.contentEncoding } : {}, t.etag);
}

function answer(tile: CachedTile, format: OfferedFormat): TileAnswer {
  // Stored bytes keep the encoding they were stored with; a nodata tile or a TIFF made here has none.
  const encoded = !tile.nodata && format.from !== 'tiff';
  return { kind: 'tile', ...tile, contentType: format.mime, contentEncoding: encoded ? format.contentEncoding : undefined };
}

/** A stored tile (or its absence) as the bytes sent in `format`, with their entity tag. */
async function storedAsSent(layer: PublishedLayer, level: LayerLevel, stored: Buffer | null, format: OfferedFormat): Promise<CachedTile> {
  if (!stored) {
    const bytes = await nodataTile(layer, level, format);
    return { bytes, etag: strongEtag(bytes), nodata: true };
  }
  const bytes = format.from === 'tiff' ? wrapTileInTiff(stored, wrapSpec(layer, level, layer.format.tiffCompression)) : ownBytes(stored);
  return { bytes, etag: strongEtag(bytes), nodata: false };
}

/**
 * The bytes in a buffer of their own: a tile read as a view of a larger buffer (Node's 8 KiB pool for small
 * reads, a batched read) would keep all of that buffer alive in the cache.
 */
function ownBytes(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  own.set(bytes);
  return own;
}

function wrapSpec(layer: PublishedLayer, level: LayerLevel, compression: number): Parameters<typeof wrapTileInTiff>[1] {
  const float = layer.format.sampleType === 'float32';
  return {
    width: level.tm.tileWidth,
    height: level.tm.tileHeight,
    channels: layer.channels,
    bitsPerSample: float ? 32 : 8,
    sampleFormat: float ? 3 : 1,
    compression,
  };
}

/** A layer's nodata tile in a format, made once (tile sizes are the same at every level of ROK4's TMS). */
function nodataTile(layer: PublishedLayer, level: LayerLevel, format: OfferedFormat): Promise<Buffer> {
  const key = `${format.mime} ${level.tm.tileWidth}x${level.tm.tileHeight}`;
  let tile = layer.nodataTiles.get(key);
  if (!tile) {
    tile = makeNodataTile(layer, level, format);
    layer.nodataTiles.set(key, tile);
  }
  return tile;
}

async function makeNodataTile(layer: PublishedLayer, level: LayerLevel, format: OfferedFormat): Promise<Buffer> {
  const { tileWidth: w, tileHeight: h } = level.tm;
  const pixels = w * h;
  const channels = layer.channels;
  if (format.mime === 'image/png') {
    // Transparent whatever the layer's bands: gray + alpha or RGBA, nodata colour, alpha 0.
    const out = channels <= 2 ? 2 : 4;
    const data = new Uint8Array(pixels * out);
    for (let p = 0; p < pixels; p++) for (let c = 0; c < out - 1; c++) data[p * out + c] = layer.nodata[Math.min(c, channels - 1)] ?? 0;
    return pngEncode(data, w, h, out);
  }
  if (format.mime === 'image/jpeg') {
    const data = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) data[p * 3 + c] = layer.nodata[c] ?? layer.nodata[0] ?? 255;
    return jpegEncode(data, w, h, layer.format.compression === 'jpg90' ? 90 : 75);
  }
  // TIFF and BIL: nodata samples, uncompressed.
  const float = layer.format.sampleType === 'float32';
  const raw = float ? new Float32Array(pixels * channels) : new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) raw[p * channels + c] = layer.nodata[c] ?? 0;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (format.from === 'tiff') return wrapTileInTiff(bytes, wrapSpec(layer, level, 1));
  return bytes;
}
