/**
 * The WMS decoded-tile cache recycles the pixel arrays of evicted tiles (wms-render.ts): an array may be
 * decoded into again only once no strip still reads it. Maps drawn many at once, over more tiles than the
 * cache keeps, must equal the same maps drawn one by one on a fresh layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadTms, tileMatrix } from '../../src/raster/tms.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { PublishedLayer, type TileReader } from '../../src/services/layer.js';
import { renderMap, type MapGrid } from '../../src/services/wms-render.js';

const LEVEL = '12';

/**
 * Tiles whose samples derive from their column and row, decoded into the array offered when there is one (as
 * the JPEG decoder does), after a random delay: reads of many maps interleave as they do on a server.
 */
function syntheticReader(): TileReader {
  const reader = {
    async readTile(_level: string, col: number, row: number, into?: Uint8Array) {
      await sleep(Math.random() * 15);
      const pixels = into && into.length === 256 * 256 * 3 ? into : new Uint8Array(256 * 256 * 3);
      for (let p = 0; p < 256 * 256; p++) {
        pixels[p * 3] = (col * 37 + (p & 255)) & 255;
        pixels[p * 3 + 1] = (row * 53 + (p >> 8)) & 255;
        pixels[p * 3 + 2] = (col * 11 + row * 7) & 255;
      }
      return { width: 256, height: 256, channels: 3, sampleType: 'uint8' as const, pixels };
    },
    async readMaskTile() {
      return null;
    },
    async readTileBytes() {
      return null;
    },
  };
  return reader as unknown as TileReader;
}

async function layerOfTiles(): Promise<PublishedLayer> {
  const tms = await loadTms('PM');
  const tm = tileMatrix(tms, LEVEL);
  const limits = { min_col: 2100, max_col: 2140, min_row: 1480, max_row: 1520 };
  return new PublishedLayer(
    { name: 't', title: 't', pyramids: [] },
    tms,
    parseFormat('TIFF_JPG90_UINT8'),
    3,
    [255, 255, 255],
    [{ id: LEVEL, tm, limits, reader: syntheticReader() }],
  );
}

test('maps drawn at once over more tiles than are kept equal the maps drawn one by one', async () => {
  const shared = await layerOfTiles();
  const tm = shared.levels[0].tm;
  // 40 maps of 3 × 3 tiles at the level's resolution, spread over the 41 × 41 tiles: ~360 tiles, 96 kept.
  const grids: MapGrid[] = [];
  for (let k = 0; k < 40; k++) {
    const col = 2100 + ((k * 7) % 36),
      row = 1480 + ((k * 13) % 36);
    const span = tm.cellSize * 256;
    const x0 = tm.pointOfOrigin[0] + (col + 0.3) * span,
      y1 = tm.pointOfOrigin[1] - (row + 0.6) * span;
    grids.push({ crs: 'EPSG:3857', bbox: [x0, y1 - 2.5 * span, x0 + 2.5 * span, y1], width: 640, height: 640 });
  }
  // Started a few milliseconds apart: later maps decode into arrays while earlier ones still wait for tiles.
  const together = await Promise.all(
    [...grids, ...grids].map(async (g, k) => {
      await sleep(k % 6);
      return renderMap([shared], g);
    }),
  );
  for (const [k, g] of grids.entries()) {
    const alone = await renderMap([await layerOfTiles()], g);
    assert.ok(
      Buffer.from(alone).some((v) => v !== 0),
      'the map has data',
    );
    assert.ok(Buffer.from(together[k]).equals(Buffer.from(alone)), `map ${k} differs when drawn among others`);
    assert.ok(Buffer.from(together[k + grids.length]).equals(Buffer.from(alone)), `map ${k} (second copy) differs`);
  }
});
