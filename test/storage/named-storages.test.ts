/**
 * Named storages (issue 13): one server with a FILE storage and an S3 storage (a real s3rver in a child
 * process on 127.0.0.1). The `storage` input of raster-to-pyramid picks where a pyramid is written; both
 * pyramids are served by the tiles route (their records name their storage); an update of the S3 pyramid
 * written on FILE is refused (ROK4 references point inside one storage), a storage name not configured is
 * refused; both 400s name `storage`. The update on the S3 pyramid's storage works.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/config.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { createStorages } from '../../src/storage/factory.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { generate, makeInput, runJob } from '../helpers/pyramids.js';
import { publishLayer } from '../helpers/publication.js';
import { s3StorageSection, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalinfo');
let s3: S3TestServer;
let s: TestServer;

let folders: string;

before(async () => {
  if (skip) return;
  folders = await mkdtemp(path.join(os.tmpdir(), 'dallage-named-'));
  s3 = await startS3Server();
  s = await startTestServer({
    processes: { 'raster-to-pyramid': 'raster-to-pyramid' },
    storages: {
      disk: { type: 'file', path: path.join(folders, 'disk') },
      obj: s3StorageSection(s3, 'named', { path: path.join(folders, 'obj') }),
    },
    defaultStorage: 'disk',
  });
});
after(async () => {
  await s?.stop();
  await s3?.close();
  if (folders) await rm(folders, { recursive: true, force: true });
});

const inputs = (href: string, name: string, extra: Record<string, unknown> = {}) => ({
  images: [{ href }],
  name,
  tms: 'PM',
  compression: 'png',
  ...extra,
});

async function problem(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 400, JSON.stringify(body));
  return body;
}

test('the storage input picks where a pyramid is written; both are served; updates across storages and unknown names are 400s naming storage', {
  skip,
  timeout: 300_000,
}, async () => {
  // The description offers the configured names, default the default storage.
  const description = (await (await fetch(`${s.url}/processes/raster-to-pyramid`)).json()) as {
    inputs: Record<string, { schema: Record<string, unknown> }>;
  };
  assert.deepEqual(description.inputs.storage.schema, { type: 'string', enum: ['disk', 'obj'], default: 'disk' });

  const map = await makeInput(s, 'map.tif', { width: 600, height: 1200, pixelSize: 100 });
  const onDisk = await generate(s, inputs(map.href, 'ONDISK'));
  const onS3 = await generate(s, inputs(map.href, 'ONS3', { storage: 'obj' }));
  assert.equal((onDisk.record.storage as Record<string, unknown>).name, 'disk');
  assert.equal((onDisk.record.storage as Record<string, unknown>).type, 'FILE');
  assert.equal((onS3.record.storage as Record<string, unknown>).name, 'obj');
  assert.equal((onS3.record.storage as Record<string, unknown>).type, 'S3');
  // The server locks the folder of each storage (a second server on either stops at the lock).
  for (const folder of Object.values(s.config.storages).map((c) => c.path))
    assert.ok(existsSync(path.join(folder, '.dallage.lock')), folder);
  // Each one is where its record says, and only there.
  const disk = s.runtime.storages.get('disk')!;
  const obj = s.runtime.storages.get('obj')!;
  assert.ok(await disk.exists('pyramids/ONDISK/ONDISK.json'));
  assert.ok(!(await obj.exists('pyramids/ONDISK/ONDISK.json')));
  assert.ok(await obj.exists('pyramids/ONS3/ONS3.json'));
  assert.ok(!(await disk.exists('pyramids/ONS3/ONS3.json')));

  // Both served by the tiles route, with the tiles our reader reads from each storage.
  for (const [name, storage, record] of [
    ['ONDISK', disk, onDisk.record],
    ['ONS3', obj, onS3.record],
  ] as const) {
    await publishLayer(s, name.toLowerCase(), record._id as string);
    const reader = await Rok4Reader.open(storage, name, `pyramids/${name}/`);
    const bottom = reader.levels.at(-1)!;
    const lim = bottom.tile_limits;
    let served = 0;
    for (let row = lim.min_row; row <= lim.max_row && served < 3; row++)
      for (let col = lim.min_col; col <= lim.max_col && served < 3; col++) {
        const bytes = await reader.readTileBytes(bottom.id, col, row);
        if (!bytes) continue;
        const res = await fetch(`${s.url}/collections/${name.toLowerCase()}/map/tiles/PM/${bottom.id}/${row}/${col}`);
        assert.equal(res.status, 200, `${name} ${bottom.id}/${row}/${col}: ${res.status}`);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes, `${name}: the served tile is the stored one`);
        served++;
      }
    assert.ok(served > 0, `${name}: tiles served`);
  }

  // An update of the S3 pyramid written on the default (FILE) storage: refused, naming storage.
  const patch = await makeInput(s, 'patch.tif', { width: 100, height: 100, pixelSize: 100 });
  const across = await fetch(`${s.url}/processes/raster-to-pyramid/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: { images: [{ href: patch.href }], name: 'UPD', stored_data: onS3.record._id } }),
  });
  const refused = await problem(across);
  assert.match(String(refused.detail), /input 'storage'.*'ONS3' is on storage 'obj'/);
  // A storage that is not configured: refused by the input's schema, naming storage.
  const unknown = await fetch(`${s.url}/processes/raster-to-pyramid/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: { ...inputs(map.href, 'NOWHERE'), storage: 'nas' } }),
  });
  assert.match(JSON.stringify(await problem(unknown)), /storage/);
  // On the ancestor's storage, the update works and stays there.
  const update = await runJob(s, { images: [{ href: patch.href }], name: 'UPD', stored_data: onS3.record._id, storage: 'obj' });
  assert.equal(update.final.status, 'successful', JSON.stringify(update.final));
  assert.ok(await obj.exists('pyramids/UPD/UPD.json'));
});

test('every named S3 storage is checked at start-up: a missing bucket stops it, the error naming the storage and the bucket', {
  skip,
}, async () => {
  const config = parseConfig(
    JSON.stringify({
      processes: { echo: 'echo' },
      storages: {
        disk: { type: 'file', path: path.join(folders, 'disk-check') },
        obj: s3StorageSection(s3, 'named'),
        gone: s3StorageSection(s3, 'no-such-bucket', { create_bucket: false }),
      },
      default_storage: 'disk',
    }),
    {},
  );
  await assert.rejects(createStorages(config), (err: Error) => {
    assert.match(err.message, /^storage 'gone': .*no-such-bucket/);
    return true;
  });
  const ok = await createStorages({ ...config, storages: { disk: config.storages.disk, obj: config.storages.obj } });
  assert.deepEqual([...ok.keys()], ['disk', 'obj']);
});
