import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordKind, RecordStore } from '../../src/records/record-store.js';

/** How the shared suite obtains a store: a fresh, opened one per test, and how to dispose of it. */
export interface RecordStoreFactory {
  name: string;
  /** A skip reason (a missing redis-server outside CI), or false. */
  skip?: string | false;
  open(kinds: ReadonlyArray<RecordKind<object>>): Promise<RecordStore>;
  /** Persistent stores: a new store over the same place, opened (the suite checks what survives). */
  reopen?(store: RecordStore, kinds: ReadonlyArray<RecordKind<object>>): Promise<RecordStore>;
  dispose(store: RecordStore): Promise<void>;
}

export interface Thing {
  id: string;
  name: string;
  n: number;
  tags: string[];
  note?: string;
}

export const THINGS: RecordKind<Thing> = {
  name: 'things',
  file: 'things.json',
  idField: 'id',
  required: { id: 'string', name: 'string', n: 'number', tags: 'array' },
};
export const OTHERS: RecordKind<Thing> = { ...THINGS, name: 'others', file: 'others.json' };
const KINDS = [THINGS, OTHERS] as unknown as ReadonlyArray<RecordKind<object>>;

export const thing = (n: number, extra: Partial<Thing> = {}): Thing => ({
  id: `t${n}`,
  name: `thing ${n}`,
  n,
  tags: n % 2 ? ['odd'] : ['even'],
  ...extra,
});

/**
 * The contract every RecordStore keeps (src/records/record-store.ts), run against each
 * implementation by test/records/record-stores.test.ts.
 */
export function recordStoreSuite(factory: RecordStoreFactory): void {
  const withStore = (name: string, fn: (store: RecordStore) => Promise<RecordStore | undefined | void>) =>
    test(`${factory.name}: ${name}`, { skip: factory.skip ?? false }, async () => {
      let store = await factory.open(KINDS);
      try {
        store = (await fn(store)) ?? store;
      } finally {
        await factory.dispose(store);
      }
    });

  withStore('create then get returns an equal copy, not the stored object', async (store) => {
    const things = store.collection(THINGS);
    const t = thing(1);
    const created = await things.create(t);
    assert.deepEqual(created, t);
    created.name = 'changed';
    t.tags.push('mutated');
    const got = await things.get('t1');
    assert.deepEqual(got, thing(1));
    got!.n = 99;
    assert.equal((await things.get('t1'))!.n, 1);
    assert.equal(await things.get('absent'), undefined);
  });

  withStore('create refuses an existing id and changes nothing', async (store) => {
    const things = store.collection(THINGS);
    await things.create(thing(1));
    await assert.rejects(things.create(thing(1, { name: 'other' })));
    assert.equal((await things.get('t1'))!.name, 'thing 1');
    assert.equal((await things.list()).items.length, 1);
  });

  withStore('each kind is a collection of its own', async (store) => {
    await store.collection(THINGS).create(thing(1));
    await store.collection(OTHERS).create(thing(1, { name: 'other one' }));
    assert.equal((await store.collection(THINGS).get('t1'))!.name, 'thing 1');
    assert.equal((await store.collection(OTHERS).get('t1'))!.name, 'other one');
    await store.collection(OTHERS).delete('t1');
    assert.ok(await store.collection(THINGS).get('t1'));
  });

  withStore('update merges a patch; an undefined member removes the field; absent → undefined', async (store) => {
    const things = store.collection(THINGS);
    await things.create(thing(1, { note: 'n' }));
    const updated = await things.update('t1', { n: 10, tags: ['x'] });
    assert.deepEqual(updated, { ...thing(1, { note: 'n' }), n: 10, tags: ['x'] });
    assert.deepEqual(await things.get('t1'), updated);
    const cleared = await things.update('t1', { note: undefined });
    assert.equal('note' in cleared!, false);
    assert.equal('note' in (await things.get('t1'))!, false);
    assert.equal(await things.update('absent', { n: 1 }), undefined);
  });

  withStore('updateIf writes only while the expected members hold (a compare-and-set); concurrent ones: one wins', async (store) => {
    const things = store.collection(THINGS);
    await things.create(thing(1, { note: 'GENERATING' }));
    assert.equal(await things.updateIf('t1', { note: 'DELETED' }, { n: 2 }), undefined);
    assert.equal(await things.updateIf('t1', { note: 'GENERATING', name: 'another' }, { n: 2 }), undefined);
    assert.equal(await things.updateIf('t1', { note: 'GENERATING', tags: ['even'] }, { n: 2 }), undefined, 'arrays compared whole');
    assert.equal(await things.updateIf('absent', {}, { n: 2 }), undefined);
    assert.equal((await things.get('t1'))!.n, 1, 'nothing written');
    // Two runs racing on one record: the first turns it, the second finds it turned.
    const [a, b] = await Promise.all([
      things.updateIf('t1', { note: 'GENERATING', tags: ['odd'] }, { note: 'READY', n: 3 }),
      things.updateIf('t1', { note: 'GENERATING' }, { note: 'READY', n: 4 }),
    ]);
    assert.equal([a, b].filter(Boolean).length, 1, 'one of two compare-and-sets wins');
    const won = (a ?? b)!;
    assert.deepEqual(await things.get('t1'), won);
    assert.equal(won.note, 'READY');
    // An undefined expected member is no condition; an undefined patch member removes the field.
    const { note: _, ...rest } = won;
    assert.deepEqual(await things.updateIf('t1', { note: 'READY', name: undefined }, { note: undefined }), rest);
    assert.deepEqual(await things.get('t1'), rest);
    // An expected member the record does not have is not held.
    assert.equal(await things.updateIf('t1', { note: 'READY' }, { n: 5 }), undefined);
  });

  withStore('delete removes the record from get, list and find', async (store) => {
    const things = store.collection(THINGS);
    for (let i = 1; i <= 3; i++) await things.create(thing(i));
    assert.equal(await things.delete('t2'), true);
    assert.equal(await things.delete('t2'), false);
    assert.equal(await things.get('t2'), undefined);
    assert.deepEqual(
      (await things.list()).items.map((t) => t.id),
      ['t1', 't3'],
    );
    assert.equal(await things.find((t) => t.n === 2), undefined);
  });

  withStore('list is in creation order, filters with where, pages with offset/limit and a more flag', async (store) => {
    const things = store.collection(THINGS);
    for (const n of [5, 3, 9, 1, 2, 8, 4, 7, 6]) await things.create(thing(n));
    assert.deepEqual(
      (await things.list()).items.map((t) => t.n),
      [5, 3, 9, 1, 2, 8, 4, 7, 6],
    );
    const odd = (t: Thing) => t.tags.includes('odd');
    assert.deepEqual(
      (await things.list({ where: odd })).items.map((t) => t.n),
      [5, 3, 9, 1, 7],
    );
    const p1 = await things.list({ where: odd, limit: 2 });
    assert.deepEqual([p1.items.map((t) => t.n), p1.more], [[5, 3], true]);
    const p3 = await things.list({ where: odd, offset: 4, limit: 2 });
    assert.deepEqual([p3.items.map((t) => t.n), p3.more], [[7], false]);
    const exact = await things.list({ where: odd, offset: 3, limit: 2 });
    assert.deepEqual([exact.items.map((t) => t.n), exact.more], [[1, 7], false]);
    assert.deepEqual(await things.list({ offset: 100 }), { items: [], more: false });
    assert.equal((await things.find(odd))!.n, 5);
  });

  withStore('concurrent creates, updates and deletes are all kept', async (store) => {
    const things = store.collection(THINGS);
    await Promise.all(Array.from({ length: 200 }, (_, i) => things.create(thing(i))));
    await Promise.all([
      ...Array.from({ length: 200 }, (_, i) => things.update(`t${i}`, { n: i * 2 })),
      ...Array.from({ length: 50 }, (_, i) => things.delete(`t${i * 4}`)),
    ]);
    const all = (await things.list()).items;
    assert.equal(all.length, 150);
    for (const t of all) assert.equal(t.n, Number(t.id.slice(1)) * 2);
  });

  withStore('locks: readers block the writer; one writer at a time; releases are idempotent', async (store) => {
    const { locks } = store;
    const releaseRead = await locks.read(['a', 'b']);
    assert.deepEqual(await locks.holders('a'), { readers: 1, writer: false });
    assert.equal(await locks.write('a'), undefined);
    releaseRead();
    releaseRead();
    assert.deepEqual(await locks.holders('a'), { readers: 0, writer: false });
    const releaseWrite = await locks.write('a');
    assert.ok(releaseWrite);
    assert.equal(await locks.write('a'), undefined);
    assert.deepEqual(await locks.holders('a'), { readers: 0, writer: true });
    releaseWrite();
    assert.ok(await locks.write('a'));
  });

  withStore('reservations: one name per scope until released', async (store) => {
    const { locks } = store;
    const r = await locks.reserve('things', 'N');
    assert.ok(r);
    assert.equal(await locks.reserve('things', 'N'), undefined);
    assert.ok(await locks.reserve('others', 'N'));
    const both = await Promise.all([locks.reserve('things', 'M'), locks.reserve('things', 'M')]);
    assert.equal(both.filter(Boolean).length, 1);
    r!();
    assert.ok(await locks.reserve('things', 'N'));
  });

  if (factory.reopen) {
    const reopen = factory.reopen.bind(factory);
    withStore('what was written is there after a reopen, in order', async (store) => {
      const things = store.collection(THINGS);
      for (let i = 1; i <= 5; i++) await things.create(thing(i));
      await things.update('t2', { n: 20 });
      await things.delete('t4');
      await store.collection(OTHERS).create(thing(7));
      const again = await reopen(store, KINDS);
      assert.deepEqual((await again.collection(THINGS).list()).items, [thing(1), thing(2, { n: 20 }), thing(3), thing(5)]);
      assert.deepEqual(await again.collection(OTHERS).get('t7'), thing(7));
      return again;
    });
  }
}
