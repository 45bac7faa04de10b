// A product's record is locked for its job's writes from the moment it can be seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Datastore } from '../../src/datastore/datastore.js';

test('createForWrite: while the record is being persisted it is visible and cannot be deleted', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-datastore-'));
  try {
    const ds = new Datastore(path.join(dir, 'stored-data.json'));
    await ds.open();
    const pending = ds.createForWrite({ name: 'P', type: 'ROK4-PYRAMID-RASTER' });
    // The file write has not finished: the record is already listed (GENERATING)...
    const [seen] = ds.list({ name: 'P' });
    assert.equal(seen.status, 'GENERATING');
    // ...and a DELETE now would get a 409.
    assert.match(ds.deletionBlocker(seen._id) ?? '', /being written by a job/);
    const { record, release } = await pending;
    assert.equal(record._id, seen._id);
    assert.match(ds.deletionBlocker(record._id) ?? '', /being written by a job/);
    release();
    assert.equal(ds.deletionBlocker(record._id), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
