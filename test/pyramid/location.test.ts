import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStorage } from '../../src/storage/file.js';
import {
  deletePyramidFiles,
  descriptorKey,
  listKey,
  listRoot,
  locationOfRecord,
  newPyramidLocation,
  treePrefix,
} from '../../src/pyramid/location.js';

const record = (name: string, key: string) => ({ name, storage: { type: 'FILE', key } });

test('a new pyramid gets a folder of its own; names that look like files of another stay inside their own', () => {
  for (const name of ['SAME', 'SAME.json', 'SAME.list', 'jobs', 'outputs', 'pyramids']) {
    const l = newPyramidLocation(name);
    assert.equal(l.folder, `pyramids/${name}/`);
    assert.equal(descriptorKey(l), `pyramids/${name}/${name}.json`);
    assert.equal(listKey(l), `pyramids/${name}/${name}.list`);
    assert.equal(treePrefix(l), `pyramids/${name}/${name}`);
    assert.deepEqual(locationOfRecord(record(name, descriptorKey(l))), l);
  }
  for (const bad of ['', 'a/b', '.', '..']) assert.throws(() => newPyramidLocation(bad), bad);
});

test('a pyramid written at the storage root before folders keeps its location; a key not naming the record is refused', () => {
  assert.deepEqual(locationOfRecord(record('OLD', 'OLD.json')), { name: 'OLD', folder: '' });
  assert.throws(() => locationOfRecord(record('A', 'B.json')), /does not name it/);
});

test('deleting a pyramid removes its own files only (its folder, or its three entries at the root)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pyramid-location-'));
  try {
    const storage = new FileStorage(dir);
    const keys = [
      'pyramids/SAME/SAME.json',
      'pyramids/SAME/SAME.list',
      'pyramids/SAME/SAME/DATA/1/00/00/00.tif',
      'pyramids/SAME.json/SAME.json.json',
      'pyramids/SAME.json/SAME.json/DATA/1/00/00/00.tif',
      'OLD.json',
      'OLD.list',
      'OLD/DATA/1/00/00/00.tif',
      'OLD2.json',
      'jobs/1/results/out',
    ];
    for (const k of keys) await storage.write(k, 'x');
    assert.equal(listRoot(storage, newPyramidLocation('SAME')), `${dir}/pyramids/SAME/SAME`);
    await deletePyramidFiles(storage, newPyramidLocation('SAME.json'));
    await deletePyramidFiles(storage, { name: 'OLD', folder: '' });
    const left: string[] = [];
    for await (const k of storage.list('')) left.push(k);
    assert.deepEqual(left.sort(), [
      'OLD2.json',
      'jobs/1/results/out',
      'pyramids/SAME/SAME.json',
      'pyramids/SAME/SAME.list',
      'pyramids/SAME/SAME/DATA/1/00/00/00.tif',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
