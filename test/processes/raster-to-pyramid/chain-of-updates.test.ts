/**
 * Update of an update of an update (issue 4 "Proof", rok4.md §7.1, §8.7.7): the third pyramid's list
 * references every slab it did not recompute at the pyramid that physically holds it — never a reference
 * to a reference — and deleting the newest leaves the older ones intact and readable.
 * Chain: NORTH → U1 (+ south half) → U2 (+ a small image in the south) → U3 (+ a small image in the north).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessCommands } from '../../helpers/env.js';
import type { TestServer } from '../../helpers/server.js';
import { keysUnder, makeInput, treeDir } from '../../helpers/pyramids.js';
import { CORSICA_ORIGIN } from '../../fixtures/synthetic-raster.js';
import { checkReferences, dataSlabs, gdalReadsSlabs, listOf, pyramidSnapshot, run, startUpdateServer } from '../../helpers/updates.js';

const skip = skipUnlessCommands('gdalinfo');
type Run = Awaited<ReturnType<typeof run>>;
let s: TestServer;
const runs: Record<string, Run> = {};

before(async () => {
  if (skip) return;
  s = await startUpdateServer();
  const north = await makeInput(s, 'north.tif', { part: 'north' });
  const south = await makeInput(s, 'south.tif', { part: 'south' });
  // 10 km × 10 km patches: one in the far south, one in the far north (other maps: another extent).
  const a = await makeInput(s, 'a.tif', { width: 100, height: 100, origin: { x: CORSICA_ORIGIN.x + 20000, y: CORSICA_ORIGIN.y - 105000 } });
  const b = await makeInput(s, 'b.tif', { width: 100, height: 100, origin: { x: CORSICA_ORIGIN.x + 30000, y: CORSICA_ORIGIN.y - 5000 } });
  runs.NORTH = await run(s, 'raster-to-pyramid', {
    tms: 'PM',
    mask: true,
    nodata: 255,
    width: 2,
    height: 2,
    compression: 'zip',
    images: [{ href: north.href }],
    name: 'NORTH',
  });
  runs.U1 = await run(s, 'raster-to-pyramid', { stored_data: runs.NORTH.record._id, images: [{ href: south.href }], name: 'U1' });
  runs.U2 = await run(s, 'raster-to-pyramid', { stored_data: runs.U1.record._id, images: [{ href: a.href }], name: 'U2' });
  runs.U3 = await run(s, 'raster-to-pyramid', { stored_data: runs.U2.record._id, images: [{ href: b.href }], name: 'U3' });
});

after(() => s?.stop());

test('U3: every reference points at the pyramid that physically holds the slab, no chains', { skip }, async () => {
  const refs = await checkReferences(s, 'U3');
  // Slabs of NORTH never touched, of U1 and of U2: three owners, all by their own root.
  assert.deepEqual([...refs.owners].sort(), ['NORTH', 'U1', 'U2']);
  const u2 = dataSlabs(await listOf(s, 'U2'));
  const u3 = dataSlabs(await listOf(s, 'U3'));
  const root = (name: string) => treeDir(s, name);
  for (const [k, owner] of u3) {
    // Either recomputed by U3, or the slab's owner in U2 (U2 itself when U2 wrote it) — U2's list root.
    if (owner !== root('U3')) assert.equal(owner, u2.get(k), `${k}: U3 points at ${owner}, U2 had it from ${u2.get(k)}`);
  }
  assert.equal(await gdalReadsSlabs(s, 'U3'), refs.own + refs.links);
  const ids = Object.fromEntries(Object.entries(runs).map(([n, r]) => [n, r.record._id as string]));
  assert.deepEqual([...(runs.U3.record.use as string[])].sort(), [ids.NORTH, ids.U1, ids.U2].sort());
  const counts = (n: string) => (runs[n].record.type_infos as { update: { referenced: number; recomputed: number } }).update;
  console.log(`chain: U1 ${JSON.stringify(counts('U1'))}, U2 ${JSON.stringify(counts('U2'))}, U3 ${JSON.stringify(counts('U3'))}`);
  for (const n of ['U1', 'U2']) await checkReferences(s, n);
});

test('older pyramids cannot go while used; deleting the newest leaves them intact and readable', { skip }, async () => {
  for (const n of ['NORTH', 'U1', 'U2']) {
    const del = await fetch(`${s.url}/stored_data/${runs[n].record._id}`, { method: 'DELETE' });
    const text = await del.text();
    assert.equal(del.status, 409, `${n}: ${text}`);
    assert.match(text, /U3|U2|U1/);
  }
  const before = new Map<string, Map<string, string>>();
  for (const n of ['NORTH', 'U1', 'U2']) before.set(n, await pyramidSnapshot(s, n));
  const del = await fetch(`${s.url}/stored_data/${runs.U3.record._id}`, { method: 'DELETE' });
  assert.equal(del.status, 204, await del.text());
  for (const n of ['NORTH', 'U1', 'U2']) {
    assert.deepEqual(await pyramidSnapshot(s, n), before.get(n), `${n} changed when U3 was deleted`);
    const refs = await checkReferences(s, n);
    assert.equal(await gdalReadsSlabs(s, n), refs.own + refs.links);
  }
  assert.deepEqual(await keysUnder(s, 'pyramids/U3/'), [], 'the folder of U3 left after DELETE');
  // U2 is free now; U1 still used by U2.
  const deps = (await (await fetch(`${s.url}/stored_data/${runs.U2.record._id}/dependencies`)).json()) as { used_by: unknown[] };
  assert.deepEqual(deps.used_by, []);
  assert.equal((await fetch(`${s.url}/stored_data/${runs.U1.record._id}`, { method: 'DELETE' })).status, 409);
});
