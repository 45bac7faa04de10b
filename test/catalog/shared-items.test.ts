/**
 * Catalog items shared by machines (issue 14): each machine keeps its own SQLite file and replays the
 * catalogs' history from a Redis stream (a real redis-server). What a worker on one machine commits is
 * seen by another machine; deletions too; a machine that joins later replays everything; two processes of
 * one machine sharing a file apply each entry once; a commit appended before its process died is kept
 * (its folder's registration ends when the machine catches up, so start-up does not remove its files).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CatalogItemStore } from '../../src/catalog/item-store.js';
import { RedisItemLog } from '../../src/catalog/redis-item-log.js';
import { connectRedis } from '../../src/redis/connection.js';
import { skipUnlessRedis, startRedis } from '../helpers/redis.js';
import { item } from './test-item.js';

const itemAt = (id: string, x: number) => item(id, [x, 45, x + 1, 46]);

const ids = (store: CatalogItemStore, catalog: string) => store.query(catalog, { limit: 1000, offset: 0 }).items.map((i) => i.id);

test('catalog items: machines share them through a Redis stream, each replaying it into its own file', {
  skip: skipUnlessRedis(),
}, async () => {
  const redis = await startRedis();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-shared-items-'));
  const connection = connectRedis(redis.url);
  const stores: CatalogItemStore[] = [];
  const open = (machine: string) => {
    const s = new CatalogItemStore(path.join(dir, machine, 'items.sqlite'), new RedisItemLog(connection, 'dallage:catalog-items'));
    stores.push(s);
    return s;
  };
  try {
    const a = open('a');
    const b = open('b');
    b.beginWrite({ catalogId: 'C', folder: 'catalogs/c/j1', jobId: 'j1' });
    const totals = await b.commit('C', 'catalogs/c/j1', [itemAt('one', 0), itemAt('two', 2)]);
    assert.deepEqual(totals, { count: 2, bytes: 200 });
    assert.deepEqual(b.pendingWrites(), [], 'the committing machine ended its registration');
    assert.deepEqual(ids(a, 'C'), [], 'not applied on machine a until it syncs');
    await a.sync();
    assert.deepEqual(ids(a, 'C'), ['one', 'two'], 'machine a sees what machine b committed');
    assert.deepEqual(
      a.query('C', { bbox: [1.5, 44, 3, 47], limit: 10, offset: 0 }).items.map((i) => i.id),
      ['two'],
      "the R-tree of machine a's file holds them",
    );

    // Commits from both machines, in the log's order; applying again changes nothing.
    await a.commit('C', 'catalogs/c/j2', [itemAt('three', 4)]);
    await b.sync();
    await b.sync();
    assert.deepEqual(ids(b, 'C'), ['one', 'two', 'three']);
    assert.deepEqual(b.totals('C'), { count: 3, bytes: 300 });

    // A second process of machine b, on the same file: nothing applied twice.
    const b2 = open('b');
    await b2.sync();
    await a.commit('D', 'catalogs/d/j3', [itemAt('four', 6)]);
    await Promise.all([b.sync(), b2.sync()]);
    assert.deepEqual(ids(b2, 'D'), ['four']);
    assert.equal(b.totals('C').count + b.totals('D').count, 4);

    // A deletion on machine a reaches machine b.
    await a.deleteCatalog('C');
    await b.sync();
    assert.deepEqual(ids(b, 'C'), []);
    assert.deepEqual(ids(b, 'D'), ['four']);

    // A machine that joins later replays the whole history; with maxAgeMs it reads Redis at most that often.
    const c = open('c');
    await c.sync({ maxAgeMs: 60_000 });
    assert.deepEqual([ids(c, 'C'), ids(c, 'D')], [[], ['four']]);
    await b.commit('D', 'catalogs/d/j4', [itemAt('five', 8)]);
    await c.sync({ maxAgeMs: 60_000 });
    assert.deepEqual(ids(c, 'D'), ['four'], 'caught up less than maxAgeMs ago: not read again');
    await c.sync();
    assert.deepEqual(ids(c, 'D'), ['four', 'five']);

    // A process that appended its commit and died before applying it: its machine registered the folder;
    // catching up applies the commit and ends the registration (start-up then keeps the folder).
    a.beginWrite({ catalogId: 'D', folder: 'catalogs/d/j5', jobId: 'j5' });
    await new RedisItemLog(connection, 'dallage:catalog-items').append({
      op: 'add',
      catalog: 'D',
      folder: 'catalogs/d/j5',
      items: [itemAt('six', 10)],
    });
    assert.deepEqual(
      a.pendingWrites().map((w) => w.folder),
      ['catalogs/d/j5'],
    );
    await a.sync();
    assert.deepEqual(a.pendingWrites(), []);
    assert.deepEqual(ids(a, 'D'), ['four', 'five', 'six']);

    // Reopened, a file goes on from the position it reached.
    a.close();
    const again = open('a');
    await again.sync();
    assert.deepEqual(ids(again, 'D'), ['four', 'five', 'six']);
  } finally {
    for (const s of stores) s.close();
    connection.disconnect();
    await redis.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
