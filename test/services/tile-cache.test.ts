/**
 * The served-tile cache (src/services/tile-cache.ts): bounded by bytes, least recently used out, a layer's
 * tiles keyed apart from every other layer object's and dropped with it; readLayerTile reads a pyramid's
 * tile once and answers it again from memory with the same bytes and ETag. (Catalog layers, never kept, are
 * tested where their tiles change with their items: catalog-layer.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTms, tileMatrix } from '../../src/raster/tms.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { PublishedLayer, type TileReader } from '../../src/services/layer.js';
import { LayerRegistry } from '../../src/services/layer-registry.js';
import { strongEtag } from '../../src/services/service-http.js';
import { TileCache } from '../../src/services/tile-cache.js';
import { readLayerTile } from '../../src/services/tile-source.js';

const LEVEL = '12';

/** Stored tiles made of their column and row, and a count of the reads that reached the "storage". */
function countingReader(): { reader: TileReader; reads: string[] } {
  const reads: string[] = [];
  const reader = {
    async readTileBytes(_level: string, col: number, row: number) {
      reads.push(`${col}/${row}`);
      // A view of a larger buffer, as a pooled read gives: the cache must keep its own copy.
      const pool = Buffer.alloc(4096);
      pool.write(`tile ${col} ${row}`, 100);
      return col === 0 ? null : pool.subarray(100, 100 + 1000);
    },
    async readTile() {
      return null;
    },
    async readMaskTile() {
      return null;
    },
  };
  return { reader: reader as unknown as TileReader, reads };
}

async function layer(name: string, reader: TileReader): Promise<PublishedLayer> {
  const tms = await loadTms('PM');
  const tm = tileMatrix(tms, LEVEL);
  return new PublishedLayer(
    { name, title: name, pyramids: [] },
    tms,
    parseFormat('TIFF_JPG90_UINT8'),
    3,
    [255, 255, 255],
    [{ id: LEVEL, tm, limits: { min_col: 0, max_col: 10, min_row: 0, max_row: 10 }, reader }],
  );
}

const tile = (n: number, size = 1000) => ({ bytes: Buffer.alloc(size, n), etag: `"${n}"`, nodata: false });

test('TileCache: bounded by bytes, least recently used out, a hit renews its tile', async () => {
  const l = await layer('a', countingReader().reader);
  // 200 bytes of overhead per tile: 16 tiles of 1000 bytes take 19200, and no tile may take more than 1/16.
  const cache = new TileCache(19200);
  const keys = Array.from({ length: 16 }, (_, n) => cache.key(l, LEVEL, n + 1, 0, 'image/jpeg'));
  for (const [i, k] of keys.entries()) cache.set(k, tile(i + 1));
  assert.equal(cache.count, 16);
  assert.equal(cache.size, 19200);
  assert.equal(cache.get(keys[0])?.etag, '"1"', 'the oldest, asked again');
  cache.set(cache.key(l, LEVEL, 17, 0, 'image/jpeg'), tile(17));
  assert.equal(cache.count, 16);
  assert.equal(cache.size, 19200);
  assert.equal(cache.get(keys[1]), undefined, 'the least recently used went');
  assert.ok(cache.get(keys[0]), 'the renewed one stayed');
  // The same tile in another format is another entry; a tile over a sixteenth of the budget is not kept.
  assert.notEqual(cache.key(l, LEVEL, 1, 0, 'image/png'), keys[0]);
  cache.set(cache.key(l, LEVEL, 18, 0, 'image/jpeg'), tile(18, 1001));
  assert.equal(cache.get(cache.key(l, LEVEL, 18, 0, 'image/jpeg')), undefined);
  // Replacing an entry counts its bytes once.
  const before = cache.size;
  cache.set(keys[0], tile(7));
  assert.equal(cache.size, before);
  assert.equal(cache.get(keys[0])?.etag, '"7"');
});

test('TileCache: 0 bytes keeps nothing; drop forgets one layer object and only it', async () => {
  const none = new TileCache(0);
  const a = await layer('a', countingReader().reader);
  none.set(none.key(a, LEVEL, 1, 1, 'image/jpeg'), tile(1));
  assert.equal(none.count, 0);

  const cache = new TileCache(1 << 20);
  const a2 = await layer('a', countingReader().reader); // the same name, another object: a switched layer
  const b = await layer('b', countingReader().reader);
  cache.set(cache.key(a, LEVEL, 1, 1, 'image/jpeg'), tile(1));
  cache.set(cache.key(b, LEVEL, 1, 1, 'image/jpeg'), tile(2));
  assert.equal(cache.get(cache.key(a2, LEVEL, 1, 1, 'image/jpeg')), undefined, 'a new layer object never gets the old one’s tiles');
  cache.drop(a);
  assert.equal(cache.count, 1);
  assert.equal(cache.size, 1200);
  assert.equal(cache.get(cache.key(b, LEVEL, 1, 1, 'image/jpeg'))?.etag, '"2"');
});

test('LayerRegistry drops the tiles of a layer switched or unpublished', async () => {
  const registry = new LayerRegistry(1 << 20);
  const first = await layer('m', countingReader().reader);
  registry.publish(first);
  const format = first.formats[0];
  await readLayerTile(first, LEVEL, 3, 4, format, undefined, registry.tiles);
  assert.equal(registry.tiles.count, 1);
  registry.publish(first); // published again as it is (an offering synchronized without change): kept
  assert.equal(registry.tiles.count, 1);
  registry.publish(await layer('m', countingReader().reader));
  assert.equal(registry.tiles.count, 0, 'switched: the old tiles are gone');
  await readLayerTile(registry.get('m')!, LEVEL, 3, 4, format, undefined, registry.tiles);
  assert.equal(registry.tiles.count, 1);
  registry.unpublish('m');
  assert.equal(registry.tiles.count, 0, 'unpublished');
});

test('readLayerTile reads a pyramid tile once, then answers the same bytes and ETag from the cache', async () => {
  const { reader, reads } = countingReader();
  const l = await layer('m', reader);
  const cache = new TileCache(1 << 20);
  const format = l.formats[0];
  const first = await readLayerTile(l, LEVEL, 3, 4, format, undefined, cache);
  const again = await readLayerTile(l, LEVEL, 3, 4, format, undefined, cache);
  assert.equal(first.kind, 'tile');
  assert.equal(again.kind, 'tile');
  if (first.kind !== 'tile' || again.kind !== 'tile') return;
  assert.deepEqual(reads, ['3/4'], 'one read');
  assert.equal(first.bytes.toString('latin1', 0, 10), 'tile 3 4\0\0');
  assert.deepEqual(again.bytes, first.bytes);
  assert.equal(again.etag, first.etag);
  assert.equal(first.etag, strongEtag(first.bytes), 'the ETag of the bytes sent');
  assert.equal(first.bytes.buffer.byteLength, 1000, 'kept in a buffer of its own, not the 4 KiB it was read into');
  // A tile without data (no slab) is answered as the nodata tile, and kept as such.
  const empty = await readLayerTile(l, LEVEL, 0, 4, format, undefined, cache);
  await readLayerTile(l, LEVEL, 0, 4, format, undefined, cache);
  assert.equal(empty.kind === 'tile' && empty.nodata, true);
  assert.deepEqual(reads, ['3/4', '0/4']);
  // Without a cache every request reads.
  await readLayerTile(l, LEVEL, 3, 4, format);
  assert.deepEqual(reads, ['3/4', '0/4', '3/4']);
});
