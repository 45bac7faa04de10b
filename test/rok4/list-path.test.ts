import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slabListPath, slabOfListPath } from '../../src/rok4/list-path.js';
import { slabPath } from '../../src/rok4/base36.js';

test('list paths give slab indices back (FILE and object names, rok4.md §6)', () => {
  assert.deepEqual(slabOfListPath(`DATA/15/${slabPath(33030, 23940, 2)}`), { kind: 'DATA', level: '15', col: 33030, row: 23940 });
  assert.deepEqual(slabOfListPath('MASK_11_24_195'), { kind: 'MASK', level: '11', col: 24, row: 195 });
});

test('the codec builds what it parses, on FILE and object storage', () => {
  for (const slab of [
    { kind: 'DATA' as const, level: '15', col: 33030, row: 23940 },
    { kind: 'MASK' as const, level: '3', col: 0, row: 7 },
  ]) {
    assert.equal(slabListPath('FILE', slab, 2), `${slab.kind}/${slab.level}/${slabPath(slab.col, slab.row, 2)}`);
    assert.deepEqual(slabOfListPath(slabListPath('FILE', slab, 3)), slab);
    assert.deepEqual(slabOfListPath(slabListPath('S3', slab, 0)), slab);
  }
});

test('what is no slab path gives undefined', () => {
  for (const junk of ['DATA/15/zz.tif', 'README', 'DATA_11_24', 'OTHER/15/00/00/00.tif'])
    assert.equal(slabOfListPath(junk), undefined, junk);
});
