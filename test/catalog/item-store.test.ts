/**
 * The catalog item store (issue 12): queries by bbox (R-tree, antimeridian), datetime, attributes and
 * pages; adds from two processes at once on one SQLite file lose nothing; registered job folders
 * survive a reopen until committed or ended.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CatalogItemStore } from '../../src/catalog/item-store.js';
import { item } from './test-item.js';

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-items-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('item store: bbox (R-tree, across the antimeridian), datetime, attributes, paging, per catalog', async () => {
  const store = new CatalogItemStore(':memory:');
  try {
    store.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j1', jobId: 'j1' });
    const totals = await store.commit('A', 'catalogs/a/j1', [
      item('corsica', [8.5, 41.3, 9.6, 43.1], { name: 'Corse', cloud: 0.1, clear: true }, '2023-12-08T12:00:00.000Z'),
      item('paris', [2.2, 48.8, 2.5, 48.9], { name: 'Paris', cloud: 0.5, clear: false }, '2024-06-01T00:00:00.000Z'),
      item('fiji', [177, -18.5, 179.9, -16], { name: 'Fiji', cloud: 0.1 }, '2025-01-01T00:00:00.000Z'),
      item('samoa', [-172.8, -14.1, -171.4, -13.4], { name: 'Samoa' }, '2025-02-01T00:00:00.000Z'),
    ]);
    assert.deepEqual(totals, { count: 4, bytes: 400 });
    store.beginWrite({ catalogId: 'B', folder: 'catalogs/b/j2', jobId: 'j2' });
    await store.commit('B', 'catalogs/b/j2', [item('other', [8.5, 41.3, 9.6, 43.1], { name: 'Corse' })]);

    const ids = (q: Partial<Parameters<CatalogItemStore['query']>[1]>) =>
      store.query('A', { limit: 100, offset: 0, ...q }).items.map((i) => i.id);
    assert.deepEqual(ids({}), ['corsica', 'paris', 'fiji', 'samoa'], 'in the order added, catalog B apart');
    assert.deepEqual(ids({ bbox: [8, 41, 10, 44] }), ['corsica']);
    assert.deepEqual(ids({ bbox: [9.6, 43.1, 12, 45] }), ['corsica'], 'touching is intersecting');
    assert.deepEqual(ids({ bbox: [9.7, 43.2, 12, 45] }), [], 'just outside: the exact bounds, not the float32 boxes');
    assert.deepEqual(ids({ bbox: [170, -20, -170, -10] }), ['fiji', 'samoa'], 'west > east crosses the antimeridian');
    assert.deepEqual(ids({ datetime: { start: '2024-01-01T00:00:00.000Z' } }), ['paris', 'fiji', 'samoa']);
    assert.deepEqual(ids({ datetime: { end: '2023-12-08T12:00:00.000Z' } }), ['corsica'], 'bounds are inclusive');
    assert.deepEqual(ids({ datetime: { start: '2024-06-01T00:00:00.000Z', end: '2025-01-01T00:00:00.000Z' } }), ['paris', 'fiji']);
    assert.deepEqual(ids({ attributes: { name: 'Paris' } }), ['paris']);
    assert.deepEqual(ids({ attributes: { cloud: 0.1 } }), ['corsica', 'fiji']);
    assert.deepEqual(ids({ attributes: { clear: true } }), ['corsica']);
    assert.deepEqual(ids({ attributes: { clear: false } }), ['paris']);
    assert.deepEqual(ids({ attributes: { cloud: 0.1 }, bbox: [170, -20, 180, -10] }), ['fiji']);
    assert.deepEqual(ids({ attributes: { 'odd"name': 'x' } }), [], 'any attribute name is one JSON key, never SQL');

    const page = store.query('A', { limit: 3, offset: 3 });
    assert.deepEqual(
      page.items.map((i) => i.id),
      ['samoa'],
    );
    assert.equal(page.numberMatched, 4);
    assert.deepEqual(store.get('A', 'paris')?.attributes, { name: 'Paris', cloud: 0.5, clear: false });
    assert.equal(store.get('B', 'paris'), undefined);
    assert.deepEqual(store.extent('A'), {
      bbox: [-172.8, -18.5, 179.9, 48.9],
      interval: ['2023-12-08T12:00:00.000Z', '2025-02-01T00:00:00.000Z'],
    });
    assert.deepEqual(store.pendingWrites(), [], 'commits ended the registrations');

    await store.deleteCatalog('A');
    assert.deepEqual(store.totals('A'), { count: 0, bytes: 0 });
    assert.equal(store.query('A', { bbox: [8, 41, 10, 44], limit: 10, offset: 0 }).numberMatched, 0, 'the R-tree rows went too');
    assert.equal(store.totals('B').count, 1);
  } finally {
    store.close();
  }
});

test('item store: registered folders are kept across a reopen until committed or ended', () =>
  withFolder(async (dir) => {
    const file = path.join(dir, 'items.sqlite');
    const first = new CatalogItemStore(file);
    first.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j1', jobId: 'j1' });
    first.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j2', jobId: 'j2' });
    await first.commit('A', 'catalogs/a/j2', [item('one', [0, 0, 1, 1])]);
    first.close(); // as a kill would leave it: j1 registered, never committed
    const again = new CatalogItemStore(file);
    try {
      assert.deepEqual(
        again.pendingWrites().map((w) => [w.folder, w.catalogId, w.jobId]),
        [['catalogs/a/j1', 'A', 'j1']],
      );
      assert.equal(again.totals('A').count, 1);
      again.endWrite('catalogs/a/j1');
      assert.deepEqual(again.pendingWrites(), []);
    } finally {
      again.close();
    }
  }));

const ADDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'item-adder.js');

/** A separate process adding `count` items one transaction each, as a job of another server would. */
function adder(file: string, prefix: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ADDER, file, prefix, String(count)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`adder ${prefix} exited ${code}: ${err}`))));
  });
}

test('item store: two processes adding to one catalog at once lose no item', () =>
  withFolder(async (dir) => {
    const file = path.join(dir, 'items.sqlite');
    new CatalogItemStore(file).close(); // the schema exists before both start
    await Promise.all([adder(file, 'a', 150), adder(file, 'b', 150), adder(file, 'c', 150)]);
    const store = new CatalogItemStore(file);
    try {
      assert.deepEqual(store.totals('A'), { count: 450, bytes: 45000 });
      const all = store.query('A', { limit: 1000, offset: 0 }).items.map((i) => i.id);
      for (const p of ['a', 'b', 'c']) assert.equal(all.filter((id) => id.startsWith(`${p}-`)).length, 150, `every item of ${p}`);
      assert.deepEqual(store.pendingWrites(), []);
    } finally {
      store.close();
    }
  }));

test('item store: a folder registered again (the job taken again after its run stopped) is one registration, the new run’s', async () => {
  const store = new CatalogItemStore(':memory:');
  try {
    assert.equal(store.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j1', jobId: 'j1' }), false);
    const [first] = store.pendingWrites();
    await new Promise((r) => setTimeout(r, 5));
    // Before: the primary key refused it, and the retaken tiling or catalog-copy job failed.
    assert.equal(store.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j1', jobId: 'j1' }), true);
    const pending = store.pendingWrites();
    assert.equal(pending.length, 1);
    assert.ok(pending[0].started > first.started, 'the registration is the new run’s');
    await store.commit('A', 'catalogs/a/j1', [item('one', [8.5, 41.3, 9.6, 43.1], { name: 'one' })]);
    assert.deepEqual(store.pendingWrites(), []);
    assert.equal(store.beginWrite({ catalogId: 'A', folder: 'catalogs/a/j2', jobId: 'j2' }), false);
  } finally {
    store.close();
  }
});
