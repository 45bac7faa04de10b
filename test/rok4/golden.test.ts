import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FileStorage } from '../../src/storage/file.js';
import { parseSlabPath } from '../../src/rok4/base36.js';
import { parseDescriptor } from '../../src/rok4/descriptor.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { SlabList } from '../../src/rok4/list.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { assembleSlab } from '../../src/rok4/slab-assemble.js';
import { buildSlabHeader, parseSlabHeader } from '../../src/rok4/slab-header.js';
import { splitSlabTiles } from '../../src/rok4/slab-index.js';
import { sharedDir, skipUnlessCommands, skipUnlessShared } from '../helpers/env.js';
import { gdalRead } from './gdal-oracle.js';

const NAMES = ['SCAN1000', 'RGEALTI', 'BDPARCELLAIRE'];
const skip = skipUnlessShared();

interface GoldenSlab {
  pyramid: string;
  level: string;
  col: number;
  row: number;
  file: string;
}

function samplesDir(): string {
  return path.join(sharedDir()!, 'rok4', 'samples');
}

/** Every slab of a sample pyramid from its list, with the list root mapped to the samples folder. */
function goldenSlabs(name: string): GoldenSlab[] {
  const list = SlabList.parse(readFileSync(path.join(samplesDir(), `${name}.list`), 'utf8'));
  assert.equal(list.roots.get(0), `/pyramids/${name}`);
  return [...list.entries()].map((entry) => {
    const [kind, level, ...rest] = entry.path.split('/');
    assert.equal(kind, 'DATA');
    const { col, row } = parseSlabPath(rest.join('/'));
    const file = list.originalLocation(entry).replace(`/pyramids/${name}`, path.join(samplesDir(), name));
    return { pyramid: name, level, col, row, file };
  });
}

function tileSizeOf(tms: string, level: string): { tileWidth: number; tileHeight: number } {
  const json = JSON.parse(readFileSync(path.join(sharedDir()!, 'tms', `${tms}.json`), 'utf8'));
  const matrix = json.tileMatrices.find((m: { id: string }) => m.id === level);
  return { tileWidth: matrix.tileWidth, tileHeight: matrix.tileHeight };
}

test('golden slabs: our header generator reproduces the first 2048 bytes of every slab', { skip }, () => {
  let count = 0;
  for (const name of NAMES) {
    const descriptor = parseDescriptor(readFileSync(path.join(samplesDir(), `${name}.json`), 'utf8'));
    const format = parseFormat(descriptor.format);
    for (const slab of goldenSlabs(name)) {
      const bytes = readFileSync(slab.file);
      const level = descriptor.levels.find((l) => l.id === slab.level)!;
      const header = buildSlabHeader({
        ...tileSizeOf(descriptor.tile_matrix_set, slab.level),
        tilesPerWidth: level.tiles_per_width,
        tilesPerHeight: level.tiles_per_height,
        channels: descriptor.raster_specifications.channels,
        compression: format.compression,
        sampleType: format.sampleType,
      });
      assert.ok(header.equals(bytes.subarray(0, 2048)), `header of ${slab.file}`);
      count++;
    }
  }
  // 11 SCAN1000 + 10 RGEALTI + 30 BDPARCELLAIRE slabs.
  assert.equal(count, 51);
});

test('golden slabs: assembleSlab of their own tiles gives the whole file byte for byte', { skip }, () => {
  for (const name of NAMES) {
    for (const slab of goldenSlabs(name)) {
      const bytes = readFileSync(slab.file);
      const info = parseSlabHeader(bytes);
      const format = parseFormat(parseDescriptor(readFileSync(path.join(samplesDir(), `${name}.json`), 'utf8')).format);
      const tiles = splitSlabTiles(bytes, info.tilesPerWidth * info.tilesPerHeight);
      const rebuilt = assembleSlab(
        { ...info, extraSample: info.extraSample as 0 | 1 | 2 | undefined, compression: format.compression, sampleType: format.sampleType },
        tiles,
      );
      assert.equal(rebuilt.length, bytes.length, slab.file);
      assert.ok(rebuilt.equals(bytes), slab.file);
    }
  }
});

test("golden pyramids: the reader decodes every tile inside the tile limits; PNG tiles equal sharp's decode", { skip }, async () => {
  const storage = new FileStorage(samplesDir());
  let tiles = 0;
  for (const name of NAMES) {
    const reader = await Rok4Reader.open(storage, name);
    const isPng = reader.formatInfo.compression === 'png';
    const channels = reader.descriptor.raster_specifications.channels;
    for (const level of reader.levels) {
      const limits = reader.tileLimits(level.id);
      for (let row = limits.min_row; row <= limits.max_row; row++) {
        for (let col = limits.min_col; col <= limits.max_col; col++) {
          const bytes = await reader.readTileBytes(level.id, col, row);
          assert.ok(bytes, `${name} ${level.id} ${col} ${row}`);
          const tile = await reader.readTile(level.id, col, row);
          assert.ok(tile);
          assert.equal(tile.pixels.length, 256 * 256 * reader.descriptor.raster_specifications.channels);
          tiles++;
          if (isPng) {
            // libvips turns gray into sRGB unless told to keep it single-band.
            const image = channels === 1 ? sharp(bytes).toColourspace('b-w') : sharp(bytes);
            const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
            assert.equal(info.channels, reader.descriptor.raster_specifications.channels);
            assert.ok(
              Buffer.from(tile.pixels.buffer, tile.pixels.byteOffset, tile.pixels.byteLength).equals(data),
              `${name} ${level.id} ${col} ${row}`,
            );
          }
        }
      }
      // Outside the limits: no data, without touching storage.
      assert.equal(await reader.readTileBytes(level.id, limits.max_col + 1, limits.max_row), null);
    }
  }
  assert.ok(tiles > 50, `${tiles} tiles`);
});

test("golden RGEALTI (zip float32): reader slabs equal GDAL's decode of every slab", {
  skip: skip || skipUnlessCommands('gdalinfo'),
}, async () => {
  const reader = await Rok4Reader.open(new FileStorage(samplesDir()), 'RGEALTI');
  let slabs = 0;
  const distinct = new Set<number>();
  for (const slab of goldenSlabs('RGEALTI')) {
    const ours = await reader.readSlab(slab.level, slab.col, slab.row);
    assert.ok(ours);
    const gdal = gdalRead(slab.file);
    assert.equal(gdal.dataType, 'Float32');
    assert.deepEqual([gdal.width, gdal.height, gdal.bands], [ours.width, ours.height, 1]);
    const expected = new Float32Array(gdal.bytes.buffer.slice(gdal.bytes.byteOffset, gdal.bytes.byteOffset + gdal.bytes.byteLength));
    assert.deepEqual(ours.pixels, expected, slab.file);
    for (const value of expected) distinct.add(value);
    assert.ok(ours.mask.every((v) => v === 255));
    slabs++;
  }
  assert.equal(slabs, 10);
  // Real elevations, not a constant buffer: the comparison means something.
  assert.ok(distinct.size > 1000, `${distinct.size} distinct values`);
});
