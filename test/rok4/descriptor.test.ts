import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescriptorError, fileLevelStorage, parseDescriptor, s3LevelStorage, serializeDescriptor } from '../../src/rok4/descriptor.js';
import { formatName, parseFormat } from '../../src/rok4/formats.js';
import { SlabList } from '../../src/rok4/list.js';
import { sharedDir, skipUnlessShared } from '../helpers/env.js';

const skip = skipUnlessShared();
const NAMES = ['SCAN1000', 'RGEALTI', 'BDPARCELLAIRE'];

function sample(name: string, ext: string): string {
  return readFileSync(path.join(sharedDir()!, 'rok4', 'samples', `${name}.${ext}`), 'utf8');
}

test('golden descriptors: parse → serialize → parse is the identity, with only ROK4 keys', { skip }, () => {
  for (const name of NAMES) {
    const parsed = parseDescriptor(sample(name, 'json'));
    const text = serializeDescriptor(parsed);
    assert.deepEqual(parseDescriptor(text), parsed);
    // Same content as the golden JSON (key order aside).
    assert.deepEqual(JSON.parse(text), JSON.parse(sample(name, 'json')));
    assert.deepEqual(Object.keys(JSON.parse(text)), ['tile_matrix_set', 'format', 'raster_specifications', 'levels']);
  }
});

test('serializeDescriptor orders levels from the largest cellSize to the smallest when given the TMS', { skip }, () => {
  const parsed = parseDescriptor(sample('SCAN1000', 'json'));
  const tms = JSON.parse(readFileSync(path.join(sharedDir()!, 'tms', 'PM.json'), 'utf8'));
  const cellSizes = new Map<string, number>(tms.tileMatrices.map((m: { id: string; cellSize: number }) => [m.id, m.cellSize]));
  const shuffled = { ...parsed, levels: [...parsed.levels].reverse() };
  const ids = JSON.parse(serializeDescriptor(shuffled, cellSizes)).levels.map((l: { id: string }) => l.id);
  assert.deepEqual(ids, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
});

test('golden lists: parse → serialize is byte-identical', { skip }, () => {
  for (const name of NAMES) {
    const text = sample(name, 'list');
    const list = SlabList.parse(text);
    assert.equal(list.roots.get(0), `/pyramids/${name}`);
    assert.equal(list.serialize(), text);
  }
});

test('list: roots, references with md5, one line per slab', () => {
  const list = SlabList.parse(
    '0=/data/V2\n1=/data/V1\n#\n1/DATA/15/00/76/88.tif\n0/DATA/15/00/76/89.tif 0123456789abcdef0123456789abcdef\n',
  );
  assert.equal(list.getEntry('DATA/15/00/76/89.tif')!.md5, '0123456789abcdef0123456789abcdef');
  assert.equal(list.originalLocation(list.getEntry('DATA/15/00/76/88.tif')!), '/data/V1/DATA/15/00/76/88.tif');
  assert.equal(list.addRoot('/data/V1'), 1);
  assert.equal(list.addRoot('/data/V0'), 2);
  list.setEntry(0, 'DATA/15/00/76/88.tif');
  assert.equal(list.size, 2);
  assert.equal(
    list.serialize(),
    '0=/data/V2\n1=/data/V1\n2=/data/V0\n#\n0/DATA/15/00/76/89.tif 0123456789abcdef0123456789abcdef\n0/DATA/15/00/76/88.tif\n',
  );
  assert.throws(() => SlabList.parse('0=/a\n0/DATA/x.tif\n'), /line 2/);
  assert.throws(() => SlabList.parse('0=/a\n'), /no "#"/);
  assert.throws(() => SlabList.parse('0=/a\n#\n3/DATA/x.tif\n'), /unknown root index 3/);
  assert.throws(() => SlabList.parse('garbage\n#\n'), /line 1/);
});

test('formats table: names ↔ compression/sample type', () => {
  assert.equal(formatName('jpg90', 'uint8'), 'TIFF_JPG90_UINT8');
  assert.equal(formatName('zip', 'float32'), 'TIFF_ZIP_FLOAT32');
  assert.throws(() => formatName('png', 'float32'));
  assert.deepEqual(parseFormat('TIFF_JPG_UINT8').channels, [3]);
  assert.equal(parseFormat('TIFF_PKB_UINT8').tiffCompression, 32773);
  assert.equal(parseFormat('TIFF_ZIP_FLOAT32').tmsExtension, 'zbil');
  assert.throws(() => parseFormat('TIFF_PBF_MVT'));
});

const GOOD = {
  tile_matrix_set: 'PM',
  format: 'TIFF_JPG_UINT8',
  mask_format: 'TIFF_ZIP_UINT8',
  raster_specifications: { channels: 3, nodata: '255,255,255', photometric: 'rgb', interpolation: 'bicubic' },
  levels: [
    {
      id: '14',
      tiles_per_width: 16,
      tiles_per_height: 16,
      tile_limits: { min_col: 1, max_col: 2, min_row: 3, max_row: 4 },
      storage: fileLevelStorage('ORTHO', '14', 2, true),
    },
  ],
};

test('fileLevelStorage / s3LevelStorage write the conventional values (rok4.md §3.4)', () => {
  assert.deepEqual(fileLevelStorage('ORTHO', '14', 2, true), {
    type: 'FILE',
    image_directory: 'ORTHO/DATA/14',
    path_depth: 2,
    mask_directory: 'ORTHO/MASK/14',
  });
  assert.deepEqual(s3LevelStorage('data', 'pyramids/ORTHO', '15', true), {
    type: 'S3',
    bucket_name: 'data',
    image_prefix: 'pyramids/ORTHO/DATA_15',
    mask_prefix: 'pyramids/ORTHO/MASK_15',
  });
  assert.deepEqual(parseDescriptor(serializeDescriptor(parseDescriptor(GOOD))), parseDescriptor(GOOD));
});

test('bad descriptors are rejected with the offending key named', () => {
  const cases: Array<[string, (d: any) => void]> = [
    [
      'levels[0].id',
      (d) => {
        d.levels[0].id = 14;
      },
    ],
    [
      'levels[0].id',
      (d) => {
        d.levels[0].id = '1_4';
      },
    ],
    [
      'levels[0].storage.mask_directory',
      (d) => {
        delete d.levels[0].storage.mask_directory;
      },
    ],
    [
      'levels[0].storage.mask_directory',
      (d) => {
        delete d.mask_format;
      },
    ],
    [
      'mask_format',
      (d) => {
        d.mask_format = 'TIFF_PNG_UINT8';
      },
    ],
    [
      'format',
      (d) => {
        d.format = 'TIFF_PBF_MVT';
      },
    ],
    [
      'raster_specifications.channels',
      (d) => {
        d.raster_specifications.channels = 4;
      },
    ],
    [
      'raster_specifications.nodata',
      (d) => {
        d.raster_specifications.nodata = '255,255';
      },
    ],
    [
      'raster_specifications.nodata',
      (d) => {
        d.raster_specifications.nodata = 255;
      },
    ],
    [
      'raster_specifications.photometric',
      (d) => {
        d.raster_specifications.photometric = 'cmyk';
      },
    ],
    [
      'raster_specifications.interpolation',
      (d) => {
        d.raster_specifications.interpolation = 'cubic';
      },
    ],
    [
      'levels[0].tiles_per_height',
      (d) => {
        delete d.levels[0].tiles_per_height;
      },
    ],
    [
      'levels[0].tile_limits.min_col',
      (d) => {
        d.levels[0].tile_limits.min_col = 5;
      },
    ],
    [
      'levels[0].storage.path_depth',
      (d) => {
        d.levels[0].storage.path_depth = 0;
      },
    ],
    [
      'levels[1].storage.path_depth',
      (d) => {
        d.levels.push({ ...structuredClone(d.levels[0]), id: '15', storage: fileLevelStorage('ORTHO', '15', 3, true) });
      },
    ],
    [
      'levels[1].id',
      (d) => {
        d.levels.push(structuredClone(d.levels[0]));
      },
    ],
    [
      'levels',
      (d) => {
        d.levels = [];
      },
    ],
    [
      'tile_matrix_set',
      (d) => {
        delete d.tile_matrix_set;
      },
    ],
  ];
  for (const [key, mutate] of cases) {
    const bad = structuredClone(GOOD);
    mutate(bad);
    assert.throws(
      () => parseDescriptor(bad),
      (err: unknown) => err instanceof DescriptorError && err.key === key && err.message.includes(key),
      key,
    );
  }
  assert.throws(() => parseDescriptor('{not json'), DescriptorError);
});
