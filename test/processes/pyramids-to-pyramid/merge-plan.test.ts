import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMerge, type MergeSource } from '../../../processes/pyramids-to-pyramid/merge-plan.js';
import { SlabList } from '../../../src/rok4/list.js';
import { slabPath } from '../../../src/rok4/base36.js';
import type { PyramidDescriptor } from '../../../src/rok4/descriptor.js';

function source(index: number, name: string, slabs: Array<[string, number, number]>, masks = true): MergeSource {
  const list = new SlabList();
  list.setRoot(0, `/store/${name}`);
  for (const [level, col, row] of slabs) {
    list.setEntry(0, `DATA/${level}/${slabPath(col, row, 2)}`);
    if (masks) list.setEntry(0, `MASK/${level}/${slabPath(col, row, 2)}`);
  }
  const descriptor = {
    levels: [{ id: '5', tile_limits: { min_col: index, max_col: 10 + index, min_row: 0, max_row: 3 } }],
  } as unknown as PyramidDescriptor;
  return { index, name, descriptor, list };
}

test('slabs in one input are referenced, in several recomputed with the first input first (rok4.md §9.3)', () => {
  const a = source(0, 'A', [
    ['5', 0, 0],
    ['5', 1, 0],
  ]);
  const b = source(1, 'B', [
    ['5', 1, 0],
    ['5', 2, 0],
    ['6', 0, 0],
  ]);
  const plan = planMerge([a, b], ['5'], { replace: false });
  const jobs = plan.slabs.get('5')!;
  assert.equal(plan.referenced, 2);
  assert.equal(plan.recomputed, 1);
  assert.deepEqual(jobs.find((j) => j.col === 1)!.sources, [0, 1]);
  assert.deepEqual(jobs.find((j) => j.col === 2)!.sources, [1]);
  assert.equal(plan.slabs.has('6'), false, 'levels outside the range are left out');
  assert.deepEqual(plan.tileLimits.get('5'), { min_col: 0, max_col: 11, min_row: 0, max_row: 3 });
});

test('REPLACE keeps the first source only; the area filter drops slabs outside it', () => {
  const a = source(0, 'A', [['5', 1, 0]]);
  const b = source(1, 'B', [
    ['5', 1, 0],
    ['5', 9, 9],
  ]);
  const plan = planMerge([a, b], ['5'], { replace: true, area: (_l, col) => col < 5 });
  assert.equal(plan.referenced, 1);
  assert.equal(plan.recomputed, 0);
  assert.deepEqual(
    plan.slabs.get('5')!.map((j) => [j.col, j.sources]),
    [[1, [0]]],
  );
});
