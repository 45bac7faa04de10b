/**
 * Update by chaining over HTTP (issue 4 "Proof" (a), rok4.md §8.7): a pyramid of the north half with masks,
 * updated with the south half (raster-to-pyramid + stored_data). Oracles: the pyramids of the full raster
 * and of the south half made by the same server with the same options, the lists and files on disk, GDAL.
 * Inputs: the synthetic map 600×1200 at 100 m (PM level 10), halves overlapping by 10 % of the height,
 * zip (lossless: exact checks) with 2×2-tile slabs, and one jpg90 run for the tolerance case.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessCommands } from '../../helpers/env.js';
import type { TestServer } from '../../helpers/server.js';
import { makeInput, openPyramid, SMALL, treeDir } from '../../helpers/pyramids.js';
import { CORSICA_ORIGIN, partRows } from '../../fixtures/synthetic-raster.js';
import { loadTms, tileMatrix, type TileMatrixSet } from '../../../src/raster/tms.js';
import {
  checkReferences,
  compareLevel,
  dataSlabs,
  gdalReadsSlabs,
  levelIds,
  listOf,
  psnrOf,
  refused,
  rowsExtent3857,
  run,
  slabsOfBbox,
  startUpdateServer,
} from '../../helpers/updates.js';

const skip = skipUnlessCommands('gdalinfo');
const common = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2 };
type Run = Awaited<ReturnType<typeof run>>;
let s: TestServer;
let pm: TileMatrixSet;
let north: Awaited<ReturnType<typeof makeInput>>, south: Awaited<ReturnType<typeof makeInput>>, full: Awaited<ReturnType<typeof makeInput>>;
const runs: Record<string, Run> = {};
/** The overlap band (rows both halves hold) in EPSG:3857, and the south half's extent. */
let band: [number, number, number, number];
let southExtent: [number, number, number, number];

before(async () => {
  if (skip) return;
  s = await startUpdateServer();
  pm = await loadTms('PM');
  north = await makeInput(s, 'north.tif', { part: 'north' });
  south = await makeInput(s, 'south.tif', { part: 'south' });
  full = await makeInput(s, 'full.tif');
  const [n0, n1] = partRows(SMALL.height, 'north');
  const [s0, s1] = partRows(SMALL.height, 'south');
  band = rowsExtent3857(CORSICA_ORIGIN.x, CORSICA_ORIGIN.y, SMALL.width, SMALL.pixelSize, s0, n1);
  southExtent = rowsExtent3857(CORSICA_ORIGIN.x, CORSICA_ORIGIN.y, SMALL.width, SMALL.pixelSize, s0, s1);
  assert.equal(n0, 0);
  for (const [name, input] of [
    ['FULL', full],
    ['NORTH', north],
    ['SOUTH', south],
  ] as const) {
    runs[name] = await run(s, 'raster-to-pyramid', { ...common, compression: 'zip', images: [{ href: input.href }], name });
  }
  runs.UPDATED = await run(s, 'raster-to-pyramid', { stored_data: runs.NORTH.record._id, images: [{ href: south.href }], name: 'UPDATED' });
});

after(() => s?.stop());

/** Pixels whose extent lies wholly north / south of the overlap band widened by `margin` metres (kernel support). */
const northOfBand = (margin: number) => (_x: number, y: number, half: number) => y - half > band[3] + margin;
const southOfBand = (margin: number) => (_x: number, y: number, half: number) => y + half < band[1] - margin;
const outsideBand = (margin: number) => (x: number, y: number, half: number) =>
  northOfBand(margin)(x, y, half) || southOfBand(margin)(x, y, half);

test('an update takes its options from the pyramid: tms, compression… given → 400 naming them', { skip }, async () => {
  const problem = await refused(s, 'raster-to-pyramid', {
    stored_data: runs.NORTH.record._id,
    images: [{ href: south.href }],
    name: 'NOPE',
    tms: 'PM',
    compression: 'png',
  });
  assert.match(String(problem.detail), /tms/);
  assert.match(String(problem.detail), /compression/);
  const unknown = await refused(s, 'raster-to-pyramid', { stored_data: 'no-such-id', images: [{ href: south.href }], name: 'NOPE' });
  assert.match(String(unknown.detail), /stored_data|no-such-id/);
});

test('referenced and recomputed counts are the ones rok4.md §8.7 predicts', { skip }, async () => {
  const ancestor = dataSlabs(await listOf(s, 'NORTH'));
  const southOnly = dataSlabs(await listOf(s, 'SOUTH'));
  const updated = dataSlabs(await listOf(s, 'UPDATED'));
  // §8.3 / §8.7.3: bottom slabs touched by the south image's bbox, and all their parents up to the top.
  const ids = levelIds(await openPyramid(s, 'NORTH'));
  const touched = new Set<string>();
  let below = slabsOfBbox(tileMatrix(pm, ids[0]), southExtent, common.width);
  for (const k of below) touched.add(k);
  for (const id of ids.slice(1)) {
    const up = new Set<string>();
    for (const k of below) {
      const [, c, r] = k.split('/').map(Number);
      up.add(`${id}/${c >> 1}/${r >> 1}`);
    }
    for (const k of up) touched.add(k);
    below = up;
  }
  // Recomputed: touched slabs holding data afterwards (the ancestor's, or the south image's — the south
  // pyramid's list tells which touched slabs get data); referenced: every other ancestor slab.
  const predictedRecomputed = new Set([...touched].filter((k) => ancestor.has(k) || southOnly.has(k)));
  const predictedReferenced = new Set([...ancestor.keys()].filter((k) => !touched.has(k)));
  for (const k of southOnly.keys()) assert.ok(touched.has(k), `south slab ${k} outside the predicted touched set`);
  const update = (runs.UPDATED.record.type_infos as { update: { referenced: number; recomputed: number; ancestor: { _id: string } } })
    .update;
  console.log(
    `chained update: predicted referenced ${predictedReferenced.size}, recomputed ${predictedRecomputed.size}; reported ${update.referenced}, ${update.recomputed}`,
  );
  assert.ok(predictedReferenced.size > 0 && predictedRecomputed.size > 0, 'the case must have both kinds');
  assert.equal(update.referenced, predictedReferenced.size);
  assert.equal(update.recomputed, predictedRecomputed.size);
  assert.equal(update.ancestor._id, runs.NORTH.record._id);
  // The same sets, slab by slab, from the list: own slabs = recomputed, others held by NORTH.
  assert.deepEqual(new Set([...updated].filter(([, root]) => root === treeDir(s, 'UPDATED')).map(([k]) => k)), predictedRecomputed);
  assert.deepEqual(new Set([...updated].filter(([, root]) => root === treeDir(s, 'NORTH')).map(([k]) => k)), predictedReferenced);
  assert.equal(updated.size, predictedRecomputed.size + predictedReferenced.size);
});

test("references: relative links to the original NORTH slabs (data and masks), listed with NORTH's root; GDAL reads every slab", {
  skip,
}, async () => {
  const update = (runs.UPDATED.record.type_infos as { update: { referenced: number; recomputed: number } }).update;
  const refs = await checkReferences(s, 'UPDATED');
  assert.deepEqual([...refs.owners], ['NORTH']);
  assert.equal(refs.links, 2 * update.referenced, 'data and mask slabs are referenced');
  assert.equal(refs.own, 2 * update.recomputed);
  const list = await listOf(s, 'UPDATED');
  assert.deepEqual([...list.roots.values()].sort(), [treeDir(s, 'NORTH'), treeDir(s, 'UPDATED')].sort());
  assert.equal(await gdalReadsSlabs(s, 'UPDATED'), refs.own + refs.links);
});

test('pixels: equal to the full-raster pyramid outside the overlap band on every level, the south image wins in the overlap', {
  skip,
}, async () => {
  const updated = await openPyramid(s, 'UPDATED');
  const fullP = await openPyramid(s, 'FULL');
  const northP = await openPyramid(s, 'NORTH');
  const southP = await openPyramid(s, 'SOUTH');
  assert.deepEqual(levelIds(updated), levelIds(fullP));
  // Levels and limits: the union of the ancestor's and the new image's (§8.7.1) = the full pyramid's.
  for (const id of levelIds(fullP)) assert.deepEqual(updated.tileLimits(id), fullP.tileLimits(id), `level ${id} tile limits`);
  const ids = levelIds(updated);
  const margin = 4 * tileMatrix(pm, ids[0]).cellSize;
  let levelsCompared = 0;
  for (const id of ids) {
    const tm = tileMatrix(pm, id);
    // North of the band: referenced or recomputed from NORTH's pixels, exactly the full pyramid's.
    const n = await compareLevel(updated, [fullP], tm, northOfBand(margin));
    // South of the band: the south image's pixels. The warp of a half and of the full raster may round a
    // few samples differently (±1: source coordinates are relative to each file's own window), so the
    // exact oracle there is the south pyramid (same warp); the full pyramid is within ±1 on < 0.1 %.
    const sf = await compareLevel(updated, [fullP], tm, southOfBand(margin));
    const ss = await compareLevel(updated, [southP], tm, southOfBand(margin));
    if (n.compared + sf.compared === 0) continue;
    levelsCompared++;
    assert.equal(
      n.maskMismatch + sf.maskMismatch + ss.maskMismatch,
      0,
      `level ${id}: data/nodata differs outside the band (${JSON.stringify({ n, sf, ss })})`,
    );
    assert.equal(n.differing, 0, `level ${id}: pixels differ from the full pyramid north of the band (${JSON.stringify(n)})`);
    assert.equal(ss.differing, 0, `level ${id}: pixels differ from the south pyramid south of the band (${JSON.stringify(ss)})`);
    assert.ok(
      sf.maxAbs <= 1 && sf.differing <= sf.compared / 1000,
      `level ${id}: south of the band vs the full pyramid ${JSON.stringify(sf)}`,
    );
    if (sf.differing)
      console.log(
        `level ${id}: south of the band, ${sf.differing}/${sf.compared} px differ by 1 from the full pyramid (the south pyramid's own warp rounding)`,
      );
  }
  assert.ok(levelsCompared >= 3, `only ${levelsCompared} levels had pixels outside the band`);
  // Bottom level, everywhere: the south pyramid where it has data (new data wins, §8.7.4), else the north one.
  const bottom = tileMatrix(pm, ids[0]);
  const priority = await compareLevel(updated, [southP, northP], bottom);
  assert.equal(priority.maskMismatch, 0, JSON.stringify(priority));
  assert.equal(priority.differing, 0, `bottom level is not "south over north": ${JSON.stringify(priority)}`);
  // …which is a real check: in the band the two halves' pyramids differ near their cut edges.
  const inBand = (_x: number, y: number) => y > band[1] && y < band[3];
  const halves = await compareLevel(northP, [southP], bottom, inBand);
  assert.ok(halves.differing > 0, 'north and south pyramids agree everywhere in the band: the priority check proves nothing');
  const vsFull = await compareLevel(updated, [fullP], bottom);
  console.log(
    `chained update, bottom level vs full pyramid: ${vsFull.differing} of ${vsFull.compared} pixels differ (max ${vsFull.maxAbs}: the halves' cut edges in the band, ±1 elsewhere); north vs south in the band: ${halves.differing} differ`,
  );
});

test('dependencies: the update uses NORTH; NORTH cannot be deleted (409 naming UPDATED)', { skip }, async () => {
  const id = runs.UPDATED.record._id as string,
    northId = runs.NORTH.record._id as string;
  assert.deepEqual(runs.UPDATED.record.use, [northId]);
  const deps = (await (await fetch(`${s.url}/stored_data/${id}/dependencies`)).json()) as {
    use: Array<{ _id: string }>;
    used_by: unknown[];
  };
  assert.deepEqual(
    deps.use.map((u) => u._id),
    [northId],
  );
  assert.deepEqual(deps.used_by, []);
  const northDeps = (await (await fetch(`${s.url}/stored_data/${northId}/dependencies`)).json()) as {
    used_by: Array<{ _id: string; name: string }>;
  };
  assert.deepEqual(
    northDeps.used_by.map((u) => u.name),
    ['UPDATED'],
  );
  const del = await fetch(`${s.url}/stored_data/${northId}`, { method: 'DELETE' });
  const text = await del.text();
  assert.equal(del.status, 409, text);
  assert.match(text, /UPDATED/);
  assert.match(text, new RegExp(id));
  // Still there and readable.
  assert.equal((await gdalReadsSlabs(s, 'NORTH')) > 0, true);
});

test('jpg90: the update equals the full-raster pyramid outside the band within JPEG tolerance', { skip }, async () => {
  const j = { ...common, compression: 'jpg90' };
  await run(s, 'raster-to-pyramid', { ...j, images: [{ href: full.href }], name: 'FULL_J' });
  const n = await run(s, 'raster-to-pyramid', { ...j, images: [{ href: north.href }], name: 'NORTH_J' });
  await run(s, 'raster-to-pyramid', { stored_data: n.record._id, images: [{ href: south.href }], name: 'UPDATED_J' });
  const updated = await openPyramid(s, 'UPDATED_J');
  const fullP = await openPyramid(s, 'FULL_J');
  assert.equal(updated.descriptor.format, 'TIFF_JPG90_UINT8');
  const ids = levelIds(updated);
  const margin = 4 * tileMatrix(pm, ids[0]).cellSize;
  for (const id of ids) {
    const d = await compareLevel(updated, [fullP], tileMatrix(pm, id), outsideBand(margin));
    // Levels with a handful of pixels outside the band say nothing about tolerance.
    if (d.compared < 1000) continue;
    const psnr = psnrOf(d);
    console.log(`jpg90 update vs full, level ${id}: ${d.differing}/${d.compared} px differ, max ${d.maxAbs}, PSNR ${psnr.toFixed(1)} dB`);
    assert.equal(d.maskMismatch, 0, `level ${id}: masks (lossless) differ outside the band`);
    assert.ok(psnr >= 38, `level ${id}: PSNR ${psnr.toFixed(1)} dB vs the full pyramid`);
  }
  await checkReferences(s, 'UPDATED_J');
});
