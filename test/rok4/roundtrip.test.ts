import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, lstat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStorage } from '../../src/storage/file.js';
import { fileLevelStorage, type PyramidDescriptor } from '../../src/rok4/descriptor.js';
import { FORMATS, MASK_FORMAT, type FormatInfo } from '../../src/rok4/formats.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { assembleSlab } from '../../src/rok4/slab-assemble.js';
import { dataSlabGeometry, maskSlabGeometry } from '../../src/rok4/slab-geometry.js';
import { encodeTile, type TilePixels } from '../../src/rok4/tile-codec.js';
import { deletePyramidFiles } from '../../src/pyramid/location.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { SlabList } from '../../src/rok4/list.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalRead } from './gdal-oracle.js';
import { psnr } from './codecs.test.js';

const TILE = 256;
const TPW = 2;
const TPH = 3;
const gdalSkip = skipUnlessCommands('gdalinfo');

/** Smooth content with a little deterministic texture (lossless formats must keep it exactly). */
function slabContent(format: FormatInfo, channels: number): TilePixels {
  const w = TILE * TPW;
  const h = TILE * TPH;
  if (format.sampleType === 'float32') {
    return Float32Array.from({ length: w * h }, (_, i) => (i % w) * 0.37 + Math.floor(i / w) * 1.13 - 100.25 + ((i * 7919) % 13) / 8);
  }
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        const smooth = c === 0 ? x / 2 : c === 1 ? y / 3 : c === 2 ? (x + y) / 5 : 128 + 100 * Math.sin(x / 40);
        const texture = format.compression.startsWith('jpg') ? 0 : (x * 31 + y * 17 + c * 7) % 5;
        out[(y * w + x) * channels + c] = Math.max(0, Math.min(255, Math.round(smooth + texture)));
      }
    }
  }
  return out;
}

function cutTile(slab: TilePixels, channels: number, index: number): TilePixels {
  const w = TILE * TPW;
  const x0 = (index % TPW) * TILE;
  const y0 = Math.floor(index / TPW) * TILE;
  const tile = slab instanceof Float32Array ? new Float32Array(TILE * TILE * channels) : new Uint8Array(TILE * TILE * channels);
  for (let y = 0; y < TILE; y++) {
    tile.set(slab.subarray(((y0 + y) * w + x0) * channels, ((y0 + y) * w + x0 + TILE) * channels) as never, y * TILE * channels);
  }
  return tile;
}

function descriptorFor(name: string, format: FormatInfo, channels: number, withMask: boolean): PyramidDescriptor {
  return {
    tile_matrix_set: 'PM',
    format: format.name,
    ...(withMask ? { mask_format: MASK_FORMAT } : {}),
    raster_specifications: {
      channels,
      nodata: Array(channels)
        .fill(format.sampleType === 'float32' ? '-99999' : '255')
        .join(','),
      photometric: channels >= 3 ? 'rgb' : 'gray',
      interpolation: 'bicubic',
    },
    levels: [
      {
        id: '12',
        tiles_per_width: TPW,
        tiles_per_height: TPH,
        tile_limits: { min_col: 10 * TPW, max_col: 10 * TPW + TPW - 1, min_row: 20 * TPH, max_row: 20 * TPH + TPH - 1 },
        storage: fileLevelStorage(name, '12', 2, withMask),
      },
    ],
  };
}

function bytesOf(pixels: TilePixels): Buffer {
  return Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
}

for (const format of FORMATS) {
  for (const channels of format.channels) {
    const label = `${format.name} × ${channels} channel(s)`;
    test(`round trip ${label}: write with the writer, read back with the reader, GDAL agrees`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'rok4-rt-'));
      try {
        const storage = new FileStorage(dir);
        const withMask = channels === 1 || channels === 3;
        const name = 'PYR';
        const writer = new Rok4PyramidWriter(storage, name, descriptorFor(name, format, channels, withMask));
        const geometry = dataSlabGeometry(
          format.name,
          channels,
          { tileWidth: TILE, tileHeight: TILE },
          { tilesPerWidth: TPW, tilesPerHeight: TPH },
        );
        const spec = { width: TILE, height: TILE, channels, compression: format.compression, sampleType: format.sampleType };
        const slab = slabContent(format, channels);
        const tiles = await Promise.all(Array.from({ length: TPW * TPH }, (_, i) => encodeTile(cutTile(slab, channels, i), spec)));
        const key = await writer.writeSlab('12', 10, 20, 'DATA', assembleSlab(geometry, tiles));
        assert.equal(key, 'PYR/DATA/12/00/00/AK.tif');
        // Mask: left half data, right half nodata.
        const mask = new Uint8Array(TILE * TPW * TILE * TPH);
        for (let i = 0; i < mask.length; i++) mask[i] = i % (TILE * TPW) < TILE ? 255 : 0;
        if (withMask) {
          const maskSpec = { width: TILE, height: TILE, channels: 1, compression: 'zip' as const, sampleType: 'uint8' as const };
          const maskTiles = await Promise.all(Array.from({ length: TPW * TPH }, (_, i) => encodeTile(cutTile(mask, 1, i), maskSpec)));
          await writer.writeSlab('12', 10, 20, 'MASK', assembleSlab(maskSlabGeometry(geometry), maskTiles));
        }
        await writer.commit();

        const list = SlabList.parse(await readFile(path.join(dir, 'PYR.list'), 'utf8'));
        assert.equal(list.roots.get(0), `${dir}/PYR`);
        assert.deepEqual(
          [...list.entries()].map((e) => `${e.rootIndex}/${e.path}`),
          withMask ? ['0/DATA/12/00/00/AK.tif', '0/MASK/12/00/00/AK.tif'] : ['0/DATA/12/00/00/AK.tif'],
        );

        const reader = await Rok4Reader.open(storage, name);
        const lossless = !format.compression.startsWith('jpg');
        for (let t = 0; t < TPW * TPH; t++) {
          const col = 10 * TPW + (t % TPW);
          const row = 20 * TPH + Math.floor(t / TPW);
          const tile = await reader.readTile('12', col, row);
          assert.ok(tile, `tile ${t}`);
          const expected = cutTile(slab, channels, t);
          if (lossless) assert.deepEqual(tile.pixels, expected, `tile ${t}`);
          else assert.ok(psnr(tile.pixels as Uint8Array, expected as Uint8Array) > 30, `tile ${t} PSNR`);
          if (withMask) {
            assert.deepEqual(await reader.readMaskTile('12', col, row), cutTile(mask, 1, t));
            // A full mask tile (the left column) is recognised by its bytes when the caller treats null as full.
            const full = t % TPW === 0;
            assert.deepEqual(await reader.readMaskTile('12', col, row, { fullAsNull: true }), full ? null : cutTile(mask, 1, t));
          }
        }
        assert.equal(await reader.readTile('12', 10 * TPW + TPW, 20 * TPH), null, 'outside tile_limits');
        const whole = await reader.readSlab('12', 10, 20);
        assert.ok(whole);
        assert.deepEqual([whole.width, whole.height, whole.channels], [TILE * TPW, TILE * TPH, channels]);
        if (lossless) assert.deepEqual(whole.pixels, slab);
        assert.equal(whole.fromMaskSlab, withMask);
        assert.deepEqual(whole.mask, withMask ? mask : new Uint8Array(mask.length).fill(255));
        assert.equal(await reader.readSlab('12', 11, 20), null, 'missing slab');

        if (format.compression !== 'png' && !gdalSkip) {
          // GDAL (libtiff) reads every non-PNG slab: same pixels as our reader (JPEG: both decode with libjpeg).
          const gdal = gdalRead(storage.path(key));
          assert.deepEqual([gdal.width, gdal.height, gdal.bands], [TILE * TPW, TILE * TPH, channels]);
          assert.equal(gdal.dataType, format.sampleType === 'float32' ? 'Float32' : 'Byte');
          if (lossless) {
            assert.ok(gdal.bytes.equals(bytesOf(whole.pixels)), `${label}: GDAL pixels differ`);
          } else {
            const ours = bytesOf(whole.pixels);
            let maxDiff = 0;
            for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - gdal.bytes[i]));
            assert.equal(maxDiff, 0, `${label}: GDAL JPEG decode differs by up to ${maxDiff}`);
          }
          if (withMask) {
            const gdalMask = gdalRead(path.join(dir, 'PYR/MASK/12/00/00/AK.tif'));
            assert.ok(gdalMask.bytes.equals(Buffer.from(mask)), 'mask via GDAL');
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test('1x1-tile slabs: the header carries the tile offset/size inline and GDAL reads them', { skip: gdalSkip }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rok4-1x1-'));
  try {
    const pixels = Uint8Array.from({ length: TILE * TILE }, (_, i) => (i * 13) & 0xff);
    const geometry = {
      tileWidth: TILE,
      tileHeight: TILE,
      tilesPerWidth: 1,
      tilesPerHeight: 1,
      channels: 1,
      compression: 'zip' as const,
      sampleType: 'uint8' as const,
    };
    const tile = await encodeTile(pixels, { width: TILE, height: TILE, channels: 1, compression: 'zip', sampleType: 'uint8' });
    const slab = assembleSlab(geometry, [tile]);
    assert.equal(slab.readUInt32LE(18 + 8 * 12 + 8), 2056, 'TileOffsets value');
    assert.equal(slab.readUInt32LE(18 + 9 * 12 + 8), tile.length, 'TileByteCounts value');
    const storage = new FileStorage(dir);
    await storage.write('one.tif', slab);
    assert.ok(gdalRead(storage.path('one.tif')).bytes.equals(Buffer.from(pixels)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('references: linkSlab records the original root; the reader follows FILE links and S3-style SYMLINK# objects', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rok4-ref-'));
  try {
    const storage = new FileStorage(dir);
    const format = FORMATS.find((f) => f.name === 'TIFF_ZIP_UINT8')!;
    const geometry = dataSlabGeometry(format.name, 1, { tileWidth: TILE, tileHeight: TILE }, { tilesPerWidth: TPW, tilesPerHeight: TPH });
    const spec = { width: TILE, height: TILE, channels: 1, compression: 'zip' as const, sampleType: 'uint8' as const };
    const slab = slabContent(format, 1);
    const tiles: Uint8Array[] = await Promise.all(Array.from({ length: TPW * TPH }, (_, i) => encodeTile(cutTile(slab, 1, i), spec)));
    // One tile absent (size 0): the reader answers null for it.
    tiles[5] = new Uint8Array(0);
    const a = new Rok4PyramidWriter(storage, 'A', descriptorFor('A', format, 1, false));
    const originalKey = await a.writeSlab('12', 10, 20, 'DATA', assembleSlab(geometry, tiles));
    await a.commit();

    const b = new Rok4PyramidWriter(storage, 'B', descriptorFor('B', format, 1, false));
    const root = b.addRoot(`${dir}/A`);
    assert.equal(root, 1);
    const linkKey = await b.linkSlab('12', 10, 20, 'DATA', root, originalKey);
    await b.commit();
    assert.ok((await lstat(storage.path(linkKey))).isSymbolicLink());
    assert.equal(await readFile(path.join(dir, 'B.list'), 'utf8'), `0=${dir}/B\n1=${dir}/A\n#\n1/DATA/12/00/00/AK.tif\n`);
    const reader = await Rok4Reader.open(storage, 'B');
    assert.deepEqual((await reader.readTile('12', 20, 60))!.pixels, cutTile(slab, 1, 0));
    assert.equal(await reader.readTile('12', 21, 62), null, 'size-0 tile');

    // S3-style reference object: "SYMLINK#<root>/<key>" (rok4.md §7.2), followed once.
    const c = new Rok4PyramidWriter(storage, 'C', descriptorFor('C', format, 1, false));
    await c.writeSlab('12', 10, 20, 'DATA', Buffer.from(`SYMLINK#${dir}/${originalKey}`));
    await c.commit();
    const readerC = await Rok4Reader.open(storage, 'C');
    assert.deepEqual((await readerC.readTile('12', 21, 61))!.pixels, cutTile(slab, 1, 3));
    // A reference to a reference is an error.
    await storage.write('D/DATA/12/00/00/AK.tif', `SYMLINK#${dir}/C/DATA/12/00/00/AK.tif`);
    await storage.write('D.json', (await readFile(path.join(dir, 'C.json'), 'utf8')).replaceAll('C/DATA', 'D/DATA'));
    await assert.rejects(async () => (await Rok4Reader.open(storage, 'D')).readTile('12', 20, 60), /reference to a reference/);

    // Removing a pyramid removes the tree, the list and the descriptor, not the link targets.
    await deletePyramidFiles(storage, { name: 'B', folder: '' });
    assert.equal(await storage.exists('B.json'), false);
    assert.equal(await storage.exists('B.list'), false);
    assert.equal(await storage.exists(linkKey), false);
    assert.equal(await storage.exists(originalKey), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
