/**
 * Where a split pyramid is cut (processes/raster-to-pyramid/split.ts, issue 14): the cut level and the
 * grouping of its roots into parts, on plans of the size the benchmark makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RasterInfo } from '../../../src/raster/geotiff-source.js';
import { loadTms } from '../../../src/raster/tms.js';
import { key, planPyramid } from '../../../processes/raster-to-pyramid/plan.js';
import { cutPlan } from '../../../processes/raster-to-pyramid/split.js';

const slab = { tilesPerWidth: 16, tilesPerHeight: 16 };

/** An image of `w × h` metres at 5 m in Web Mercator, south-west corner at (x, y): only what the plan reads. */
function image(x: number, y: number, w: number, h: number): RasterInfo {
  return { bbox: [x, y, x + w, y + h], crs: 'EPSG:3857', width: w / 5, height: h / 5 } as unknown as RasterInfo;
}

test('an L-sized pyramid is cut above its bottom level, every bottom slab in exactly one part, the heaviest part first', async () => {
  const tms = await loadTms('PM');
  // Like bench:scale's L: ~160 × 290 km at z14 (≈ 40 bottom slabs of 16 × 16 tiles, 10–15 at z13).
  const plan = planPyramid(tms, [image(930_000, 5_050_000, 160_000, 290_000)], { bottom: '14', top: '0', slab });
  const bottom = plan.levels[0].slabs.size;
  assert.ok(bottom >= 30 && bottom <= 60, `${bottom} bottom slabs`);

  const cut = cutPlan(plan, 8, 16, slab);
  assert.ok(cut);
  // At the bottom level the finisher would compute every upper level alone (a quarter of the work): not chosen.
  assert.ok(cut.levelIndex >= 1, `cut at level index ${cut.levelIndex}`);
  assert.ok(cut.groups.length >= 2 && cut.groups.length <= 8, `${cut.groups.length} parts`);
  for (let i = 1; i < cut.groups.length; i++) assert.ok(cut.groups[i - 1].work >= cut.groups[i].work, 'heaviest part first');

  // Every bottom slab lies under exactly one root of one part; the parts' slab counts add up to the plan's below the cut.
  const shift = cut.levelIndex;
  const owner = new Map<string, number>();
  cut.groups.forEach((g, i) => {
    for (const [c, r] of g.roots) {
      assert.ok(!owner.has(key(c, r)), `root ${c},${r} in two parts`);
      owner.set(key(c, r), i);
    }
  });
  for (const [c, r] of plan.levels[0].slabs.values())
    assert.ok(owner.has(key(c >> shift, r >> shift)), `bottom slab ${c},${r} has no part`);
  const belowCut = plan.levels.slice(0, cut.levelIndex + 1).reduce((n, l) => n + l.slabs.size, 0);
  assert.equal(
    cut.groups.reduce((n, g) => n + g.slabs, 0),
    belowCut,
  );
});

test('a plan with fewer bottom slabs than the threshold (or than parts) is not cut; one root per part at most', async () => {
  const tms = await loadTms('PM');
  const plan = planPyramid(tms, [image(930_000, 5_050_000, 160_000, 290_000)], { bottom: '14', top: '0', slab });
  assert.equal(cutPlan(plan, 8, 10_000, slab), undefined);
  assert.equal(cutPlan(plan, plan.levels[0].slabs.size + 1, 1, slab), undefined);
  const many = cutPlan(plan, plan.levels[0].slabs.size, 1, slab)!;
  assert.ok(many.groups.length <= plan.levels[many.levelIndex].slabs.size);
  assert.ok(many.groups.every((g) => g.roots.length >= 1));
});

test('a slab on the edge of the data weighs less than one inside it', async () => {
  const tms = await loadTms('PM');
  // One image, and a second one that only grazes a far slab: that slab's part is light.
  const plan = planPyramid(tms, [image(930_000, 5_050_000, 160_000, 290_000), image(1_250_000, 5_050_000, 2_000, 2_000)], {
    bottom: '14',
    top: '0',
    slab,
  });
  const cut = cutPlan(plan, 8, 16, slab)!;
  const lightest = cut.groups.at(-1)!;
  assert.ok(lightest.work < cut.groups[0].work / 2, `lightest ${lightest.work.toFixed(2)} vs heaviest ${cut.groups[0].work.toFixed(2)}`);
});
