/**
 * Update by composition over HTTP (issue 4 "Proof" (b), rok4.md §9): pyramids of the north and south
 * halves submitted as two async jobs at once, then pyramids-to-pyramid [north, south]. Oracles: the two
 * input pyramids (first input on top wherever it has data), the full-raster pyramid, the lists on disk,
 * GDAL. Plus the preconditions of §9.2, the no-mask warning, REPLACE and bbox.
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
  jobStatus,
  levelIds,
  listOf,
  refused,
  rowsExtent3857,
  run,
  slabsOfBbox,
  startUpdateServer,
  submit,
} from '../../helpers/updates.js';
import { waitForJob } from '../../helpers/server.js';

const skip = skipUnlessCommands('gdalinfo');
const common = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip' };
type Run = Awaited<ReturnType<typeof run>>;
let s: TestServer;
let pm: TileMatrixSet;
let north: Awaited<ReturnType<typeof makeInput>>;
let ids: { NORTH: string; SOUTH: string };
let merged: Run;
let band: [number, number, number, number];
/** Statuses of the two generations seen in the same poll. */
let bothRunning = false;

before(async () => {
  if (skip) return;
  s = await startUpdateServer({ max_running_jobs: 2 });
  pm = await loadTms('PM');
  north = await makeInput(s, 'north.tif', { part: 'north' });
  const south = await makeInput(s, 'south.tif', { part: 'south' });
  const full = await makeInput(s, 'full.tif');
  band = rowsExtent3857(
    CORSICA_ORIGIN.x,
    CORSICA_ORIGIN.y,
    SMALL.width,
    SMALL.pixelSize,
    partRows(SMALL.height, 'south')[0],
    partRows(SMALL.height, 'north')[1],
  );
  await run(s, 'raster-to-pyramid', { ...common, images: [{ href: full.href }], name: 'FULL' });
  // The two halves at once (the user's flow): both must run in parallel.
  const jobN = await submit(s, 'raster-to-pyramid', { ...common, images: [{ href: north.href }], name: 'NORTH' });
  const jobS = await submit(s, 'raster-to-pyramid', { ...common, images: [{ href: south.href }], name: 'SOUTH' });
  // Not the wait helper: this loop looks at both jobs in one poll, to see them running at once.
  for (;;) {
    const [a, b] = await Promise.all([jobStatus(s, jobN), jobStatus(s, jobS)]);
    if (a.status === 'running' && b.status === 'running') bothRunning = true;
    if (!['accepted', 'running'].includes(a.status as string) && !['accepted', 'running'].includes(b.status as string)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await waitForJob(s.url, jobN)).status, 'successful');
  assert.equal((await waitForJob(s.url, jobS)).status, 'successful');
  const record = async (name: string) =>
    (
      (await (await fetch(`${s.url}/stored_data?name=${name}`, { headers: { Accept: 'application/json' } })).json()) as {
        stored_data: Array<{ _id: string; name: string }>;
      }
    ).stored_data.find((r) => r.name === name)!._id;
  ids = { NORTH: await record('NORTH'), SOUTH: await record('SOUTH') };
  merged = await run(s, 'pyramids-to-pyramid', { stored_data: [ids.NORTH, ids.SOUTH], name: 'MERGED' });
});

after(() => s?.stop());

interface MergeInfos {
  referenced: number;
  recomputed: number;
  converted: number;
  method: string;
}
const mergeInfos = (r: Run) => (r.record.type_infos as { merge: MergeInfos }).merge;

test('the two half pyramids ran at the same time (max_running_jobs 2)', { skip }, () => {
  assert.ok(bothRunning, 'never saw both generations running in one poll');
});

test('counts: slabs in one input referenced, in both recomputed (rok4.md §9.3), as in the list', { skip }, async () => {
  const n = dataSlabs(await listOf(s, 'NORTH')),
    so = dataSlabs(await listOf(s, 'SOUTH'));
  const both = [...n.keys()].filter((k) => so.has(k));
  const one = [...n.keys(), ...so.keys()].filter((k) => !(n.has(k) && so.has(k)));
  const infos = mergeInfos(merged);
  console.log(`merge: predicted referenced ${one.length}, recomputed ${both.length}; reported ${infos.referenced}, ${infos.recomputed}`);
  assert.ok(both.length > 0 && one.length > 0);
  assert.deepEqual(
    { referenced: infos.referenced, recomputed: infos.recomputed, converted: infos.converted, method: infos.method },
    { referenced: one.length, recomputed: both.length, converted: 0, method: 'TOP' },
  );
  const m = dataSlabs(await listOf(s, 'MERGED'));
  const root = (name: string) => treeDir(s, name);
  assert.deepEqual(new Set([...m].filter(([, r]) => r === root('MERGED')).map(([k]) => k)), new Set(both));
  assert.deepEqual(
    new Set([...m].filter(([, r]) => r === root('NORTH')).map(([k]) => k)),
    new Set([...n.keys()].filter((k) => !so.has(k))),
  );
  assert.deepEqual(
    new Set([...m].filter(([, r]) => r === root('SOUTH')).map(([k]) => k)),
    new Set([...so.keys()].filter((k) => !n.has(k))),
  );
});

test("references are relative links to the inputs' original slabs; GDAL reads every slab", { skip }, async () => {
  const refs = await checkReferences(s, 'MERGED');
  // Owners: the inputs holding slabs that only they have (at this size every south slab is also a north one).
  const n = dataSlabs(await listOf(s, 'NORTH')),
    so = dataSlabs(await listOf(s, 'SOUTH'));
  const owners = new Set([
    ...([...n.keys()].some((k) => !so.has(k)) ? ['NORTH'] : []),
    ...([...so.keys()].some((k) => !n.has(k)) ? ['SOUTH'] : []),
  ]);
  assert.deepEqual(refs.owners, owners);
  const infos = mergeInfos(merged);
  assert.equal(refs.links, 2 * infos.referenced);
  assert.equal(refs.own, 2 * infos.recomputed);
  assert.equal(await gdalReadsSlabs(s, 'MERGED'), refs.links + refs.own);
});

test('pixels: north on top wherever it has data on every level; equal to the full pyramid outside the band', { skip }, async () => {
  const m = await openPyramid(s, 'MERGED'),
    n = await openPyramid(s, 'NORTH'),
    so = await openPyramid(s, 'SOUTH'),
    f = await openPyramid(s, 'FULL');
  assert.deepEqual(levelIds(m), levelIds(f));
  const levels = levelIds(m);
  const margin = 4 * tileMatrix(pm, levels[0]).cellSize;
  let outside = 0;
  for (const id of levels) {
    const tm = tileMatrix(pm, id);
    const top = await compareLevel(m, [n, so], tm);
    assert.equal(top.maskMismatch, 0, `level ${id}: ${JSON.stringify(top)}`);
    assert.equal(top.differing, 0, `level ${id}: not "north over south": ${JSON.stringify(top)}`);
    const northSide = await compareLevel(m, [f], tm, (_x, y, h) => y - h > band[3] + margin);
    const southSide = await compareLevel(m, [f], tm, (_x, y, h) => y + h < band[1] - margin);
    assert.equal(northSide.maskMismatch + southSide.maskMismatch, 0);
    assert.equal(northSide.differing, 0, `level ${id}: north of the band ≠ full pyramid ${JSON.stringify(northSide)}`);
    // South: the south pyramid's warp (exact above); within ±1 of the full one's (window rounding).
    assert.ok(southSide.maxAbs <= 1 && southSide.differing <= southSide.compared / 1000, `level ${id}: ${JSON.stringify(southSide)}`);
    if (northSide.compared && southSide.compared) outside++;
  }
  assert.ok(outside >= 3);
  // North-over-south is not south-over-north: the priority shows in the band.
  const reversed = await compareLevel(m, [so, n], tileMatrix(pm, levels[0]));
  assert.ok(reversed.differing > 0, 'north and south agree in the band: the priority check proves nothing');
});

test('dependencies: MERGED uses both; DELETE of either input → 409 naming MERGED', { skip }, async () => {
  const deps = (await (await fetch(`${s.url}/stored_data/${merged.record._id}/dependencies`)).json()) as { use: Array<{ _id: string }> };
  assert.deepEqual(deps.use.map((u) => u._id).sort(), [ids.NORTH, ids.SOUTH].sort());
  for (const id of [ids.NORTH, ids.SOUTH]) {
    const del = await fetch(`${s.url}/stored_data/${id}`, { method: 'DELETE' });
    const text = await del.text();
    assert.equal(del.status, 409, text);
    assert.match(text, /MERGED/);
  }
});

test('preconditions (rok4.md §9.2): another tms or slab size → 400 naming stored_data[i], before any work', { skip }, async () => {
  const small = { mask: true, nodata: 255, compression: 'zip', images: [{ href: north.href }] };
  const slab4 = await run(s, 'raster-to-pyramid', { ...small, tms: 'PM', width: 4, height: 4, bottom: '7', name: 'SLAB4' });
  const geo = await run(s, 'raster-to-pyramid', { ...small, tms: '4326', width: 2, height: 2, name: 'GEO' });
  const bySlab = await refused(s, 'pyramids-to-pyramid', { stored_data: [ids.NORTH, slab4.record._id], name: 'X1' });
  assert.match(String(bySlab.detail), /stored_data\[1\]/);
  assert.match(String(bySlab.detail), /slab size/);
  const byTms = await refused(s, 'pyramids-to-pyramid', { stored_data: [ids.SOUTH, ids.NORTH, geo.record._id], name: 'X2' });
  assert.match(String(byTms.detail), /stored_data\[2\]/);
  assert.match(String(byTms.detail), /tile matrix set/);
  const unknown = await refused(s, 'pyramids-to-pyramid', { stored_data: [ids.NORTH, 'nope'], name: 'X3' });
  assert.match(String(unknown.detail), /stored_data\[1\]/);
  const names = (
    (await (await fetch(`${s.url}/stored_data`, { headers: { Accept: 'application/json' } })).json()) as {
      stored_data: Array<{ name: string }>;
    }
  ).stored_data.map((r) => r.name);
  assert.ok(!names.some((n) => /^X\d$/.test(n)), 'a refused merge left a stored data');
});

test('inputs without masks: the merge warns in the job status (and the process description says why)', { skip }, async () => {
  const a = await run(s, 'raster-to-pyramid', { ...common, mask: false, bottom: '8', images: [{ href: north.href }], name: 'NOMASK_A' });
  const b = await run(s, 'raster-to-pyramid', { ...common, mask: false, bottom: '8', images: [{ href: north.href }], name: 'NOMASK_B' });
  const r = await run(s, 'pyramids-to-pyramid', { stored_data: [a.record._id, b.record._id], name: 'NOMASK_M' });
  const warnings = (r.final.warnings ?? []) as string[];
  assert.ok(
    warnings.some((w) => /mask/.test(w) && /NOMASK_A/.test(w)),
    JSON.stringify(r.final),
  );
  const desc = (await (await fetch(`${s.url}/processes/pyramids-to-pyramid`)).json()) as { description: string };
  assert.match(desc.description, /mask: true/);
  // With masks, no warning.
  assert.deepEqual(merged.final.warnings ?? [], []);
});

test('REPLACE: every slab referenced, from the first input that has it', { skip }, async () => {
  // South first, so that slabs in both come from SOUTH and the others from NORTH: links to both inputs.
  const r = await run(s, 'pyramids-to-pyramid', { stored_data: [ids.SOUTH, ids.NORTH], name: 'REPLACED', method: 'REPLACE' });
  const n = dataSlabs(await listOf(s, 'NORTH')),
    so = dataSlabs(await listOf(s, 'SOUTH'));
  const union = new Set([...n.keys(), ...so.keys()]);
  const infos = mergeInfos(r);
  assert.deepEqual({ referenced: infos.referenced, recomputed: infos.recomputed }, { referenced: union.size, recomputed: 0 });
  const m = dataSlabs(await listOf(s, 'REPLACED'));
  for (const k of union) assert.equal(m.get(k), treeDir(s, so.has(k) ? 'SOUTH' : 'NORTH'), k);
  const refs = await checkReferences(s, 'REPLACED');
  assert.deepEqual([...refs.owners].sort(), ['NORTH', 'SOUTH']);
  assert.equal(refs.own, 0);
  // Where both have slabs, SOUTH's whole slab wins (nodata included): north data under it is lost.
  const rp = await openPyramid(s, 'REPLACED'),
    np = await openPyramid(s, 'NORTH'),
    sp = await openPyramid(s, 'SOUTH');
  const bottom = tileMatrix(pm, levelIds(rp)[0]);
  assert.equal((await compareLevel(rp, [sp], bottom)).differing, 0);
  const top = await compareLevel(rp, [sp, np], bottom);
  assert.ok(top.maskMismatch > 0, "REPLACE should lose north data under south's slabs");
  assert.equal(await gdalReadsSlabs(s, 'REPLACED'), refs.links);
});

test('bbox: only input slabs touching the area are used', { skip }, async () => {
  // The northern third of the north half, in EPSG:3857.
  const area = rowsExtent3857(CORSICA_ORIGIN.x, CORSICA_ORIGIN.y, SMALL.width, SMALL.pixelSize, 0, 200);
  const r = await run(s, 'pyramids-to-pyramid', {
    stored_data: [ids.NORTH, ids.SOUTH],
    name: 'CLIPPED',
    bbox: { bbox: area, crs: 'http://www.opengis.net/def/crs/EPSG/0/3857' },
  });
  const n = dataSlabs(await listOf(s, 'NORTH')),
    so = dataSlabs(await listOf(s, 'SOUTH'));
  const all = new Set([...n.keys(), ...so.keys()]);
  const expected = new Set<string>();
  for (const id of levelIds(await openPyramid(s, 'NORTH')))
    for (const k of slabsOfBbox(tileMatrix(pm, id), area, 2)) if (all.has(k)) expected.add(k);
  const got = new Set(dataSlabs(await listOf(s, 'CLIPPED')).keys());
  assert.deepEqual(got, expected);
  assert.ok(got.size < all.size, 'the bbox should leave slabs out');
  const infos = mergeInfos(r);
  assert.equal(infos.referenced + infos.recomputed, expected.size);
  await checkReferences(s, 'CLIPPED');
});
