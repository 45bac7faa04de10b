import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSlabObjectName, parseSlabPath, slabObjectName, slabPath } from '../../src/rok4/base36.js';

// rok4.md §4.1 examples: [col, row, depth, path].
const EXAMPLES: Array<[number, number, number, string]> = [
  [33030, 23940, 2, 'PI/HH/I0.tif'],
  [0, 0, 2, '00/00/00.tif'],
  [1, 0, 2, '00/00/10.tif'],
  [25, 195, 2, '00/05/PF.tif'],
  [1296, 1, 2, '10/00/01.tif'],
  [1295, 46655, 2, '0Z/ZZ/ZZ.tif'],
  [50000, 3, 1, '1020K0/W3.tif'],
  [5, 7, 3, '00/00/00/57.tif'],
];

test('slabPath gives the base-36 paths of rok4.md §4.1', () => {
  for (const [col, row, depth, path] of EXAMPLES) assert.equal(slabPath(col, row, depth), path, `(${col},${row},${depth})`);
});

test('parseSlabPath inverts the examples of rok4.md §4.1', () => {
  for (const [col, row, depth, path] of EXAMPLES) assert.deepEqual(parseSlabPath(path), { col, row, depth });
});

test('slabPath/parseSlabPath round trip on pseudo-random indices and depths', () => {
  let seed = 12345;
  const next = (max: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % max;
  };
  for (let i = 0; i < 5000; i++) {
    const magnitude = 10 ** next(10);
    const col = next(magnitude + 1);
    const row = next(magnitude + 1);
    const depth = 1 + next(4);
    const path = slabPath(col, row, depth);
    assert.match(path, /^[0-9A-Z]+(\/[0-9A-Z]{2})+\.tif$/);
    assert.equal(path.split('/').length, depth + 1);
    assert.deepEqual(parseSlabPath(path), { col, row, depth }, path);
  }
});

test('slabPath rejects negative or fractional indices and bad depths; parseSlabPath rejects junk', () => {
  assert.throws(() => slabPath(-1, 0, 2));
  assert.throws(() => slabPath(1.5, 0, 2));
  assert.throws(() => slabPath(0, 0, 0));
  for (const bad of ['00/00/00', '0/00/00.tif', '00/0a/00.tif', 'AB.tif', '000/00.tif']) assert.throws(() => parseSlabPath(bad), bad);
});

test('object names are DATA_<level>_<col>_<row> (rok4.md §4.2)', () => {
  assert.equal(slabObjectName('DATA', '11', 24, 195), 'DATA_11_24_195');
  assert.equal(slabObjectName('MASK', '15', 8296, 5632), 'MASK_15_8296_5632');
  assert.deepEqual(parseSlabObjectName('DATA_11_24_195'), { kind: 'DATA', level: '11', col: 24, row: 195 });
  assert.deepEqual(parseSlabObjectName('MSK_3_1_2'), { kind: 'MASK', level: '3', col: 1, row: 2 });
  assert.throws(() => slabObjectName('DATA', 'a_b', 1, 2));
  assert.throws(() => parseSlabObjectName('DATA_11_24'));
});
