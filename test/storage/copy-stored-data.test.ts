/**
 * Copying a pyramid between storages (issue 13 "Migration"): the process pyramid-copy and the command
 * `dallage copy-stored-data`, on a server with two FILE storages and an S3 storage (a real s3rver in a child
 * process on 127.0.0.1).
 *
 * - FILE → S3 → FILE: every slab of the final copy is byte-identical to the original's; its descriptor is
 *   the original's text but for the storage blocks' directories (the copy's name); its list is the original's
 *   but for the root line. The S3 copy is ROK4's object layout: GDAL reads its slabs through /vsis3/ with
 *   the original's pixels, our reader returns the original's tile bytes from it.
 * - A chained update (slabs referencing its ancestor) copied: the references are materialized (one root,
 *   no reference object), every tile of every level reads equal, the copy depends on nothing. Once the
 *   ancestor has a copy on the target, a new copy of the update refers to that copy's slabs (same lines and
 *   root indices as the source's list, SYMLINK# objects to the ancestor's copy), which it uses (409 on its DELETE).
 * - A list with md5s: checked and kept; a wrong one fails the copy (FAILED, nothing left).
 * - A raster catalog (tiling) copied to S3 by catalog-copy: its COGs byte for byte (GDAL reads them through
 *   /vsis3/ with the original's pixels), its items the same but for key and href.
 * - Refusals (400 naming the input): unknown id, not READY, unknown storage, too large, same storage, name taken.
 * - The command line copies (a pyramid, a catalog) with the server's records once the server is stopped, and
 *   refuses while it runs.
 * - Under the bullmq manager a worker copies.
 * - S3 stopped mid-copy: the job fails, its record FAILED, no READY record; S3 back, deleting it leaves no object.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PYRAMID_TYPE } from '../../src/records/pyramid-infos.js';
import { parseDescriptor } from '../../src/rok4/descriptor.js';
import { SlabList } from '../../src/rok4/list.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import type { Storage } from '../../src/storage/storage.js';
import { gdalRead } from '../rok4/gdal-oracle.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalEnv, generate, makeInput, pyramidResult, runJob, storedData } from '../helpers/pyramids.js';
import { s3StorageSection, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitAndWait, submitJob, waitForJob, withServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalinfo');
const BIN = path.resolve('bin/dallage.js');
let s3: S3TestServer;
let s: TestServer;
let dir: string;

const processes = {
  'raster-to-pyramid': 'raster-to-pyramid',
  'pyramid-copy': 'pyramid-copy',
  tiling: 'tiling',
  'catalog-copy': 'catalog-copy',
};
const storages = () => ({
  disk: { type: 'file', path: path.join(dir, 'disk') },
  obj: s3StorageSection(s3, 'copies', { path: path.join(dir, 'obj') }),
  back: { type: 'file', path: path.join(dir, 'back') },
});

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-copy-'));
  s3 = await startS3Server();
  s = await startTestServer({ dir, manager: 'lowdb', processes, storages: storages(), defaultStorage: 'disk' });
});
after(async () => {
  await s?.stop();
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const storageOf = (name: string): Storage => s.runtime.storages.get(name)!;
const text = async (storage: Storage, key: string) => (await storage.read(key)).toString('utf8');
const pyramidKey = (name: string, suffix = '') => `pyramids/${name}/${name}${suffix}`;
const generation = (href: string, name: string, extra: Record<string, unknown> = {}) => ({
  images: [{ href }],
  name,
  tms: 'PM',
  compression: 'zip',
  mask: true,
  nodata: 255,
  ...extra,
});

/** Runs a copy that must succeed; its record. */
async function copied(inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const run = await submitAndWait(s.url, 'pyramid-copy', inputs, 120_000);
  assert.equal(run.final.status, 'successful', JSON.stringify(run.final));
  return pyramidResult(s, run.jobID);
}

/** Every tile (data and mask) of every level of `a` read equal from `b`; how many tiles. */
async function sameTiles(a: Rok4Reader, b: Rok4Reader): Promise<number> {
  let tiles = 0;
  assert.deepEqual(
    b.levels.map((l) => [l.id, l.tile_limits]),
    a.levels.map((l) => [l.id, l.tile_limits]),
  );
  for (const level of a.levels) {
    const lim = level.tile_limits;
    for (let row = lim.min_row; row <= lim.max_row; row++)
      for (let col = lim.min_col; col <= lim.max_col; col++) {
        const bytes = await a.readTileBytes(level.id, col, row);
        assert.deepEqual(await b.readTileBytes(level.id, col, row), bytes, `tile ${level.id}/${col}/${row}`);
        assert.deepEqual(
          await b.readMaskTile(level.id, col, row),
          await a.readMaskTile(level.id, col, row),
          `mask ${level.id}/${col}/${row}`,
        );
        if (bytes) tiles++;
      }
  }
  return tiles;
}

test('FILE → S3 → FILE: slabs byte-identical, descriptor and list differ only by the storage fields; GDAL and our reader read the S3 copy', {
  skip,
  timeout: 300_000,
}, async () => {
  const map = await makeInput(s, 'map.tif', { width: 600, height: 1200, pixelSize: 100 });
  const orig = (await generate(s, generation(map.href, 'ORIG'))).record;
  const onS3 = await copied({ stored_data: orig._id, storage: 'obj', name: 'ONS3' });
  const back = await copied({ stored_data: onS3._id, storage: 'back', name: 'BACK' });
  const [disk, obj, backStorage] = [storageOf('disk'), storageOf('obj'), storageOf('back')];

  // New stored data on the target, depending on nothing, saying where they come from.
  for (const [record, storage, type, from] of [
    [onS3, 'obj', 'S3', orig],
    [back, 'back', 'FILE', onS3],
  ] as const) {
    assert.equal(record.status, 'READY');
    assert.equal(record.type, PYRAMID_TYPE);
    assert.deepEqual(record.storage, {
      type,
      key: pyramidKey(record.name as string, '.json'),
      href: storageOf(storage).url(pyramidKey(record.name as string, '.json')),
      name: storage,
    });
    assert.deepEqual(record.use, []);
    const infos = record.type_infos as Record<string, unknown>;
    assert.deepEqual((infos.copy as Record<string, unknown>).from, {
      _id: from._id,
      name: from.name,
      storage: (from.storage as Record<string, unknown>).name,
    });
    assert.deepEqual(infos.levels, (orig.type_infos as Record<string, unknown>).levels);
  }

  // Every slab of the original, byte for byte, in both copies (S3: decimal object names, rok4.md §4.2).
  const origList = SlabList.parse(await text(disk, pyramidKey('ORIG', '.list')));
  const s3List = SlabList.parse(await text(obj, pyramidKey('ONS3', '.list')));
  assert.ok(origList.size > 4);
  assert.equal(s3List.size, origList.size);
  assert.deepEqual([...s3List.roots], [[0, `copies/${pyramidKey('ONS3')}`]]);
  for (const entry of s3List.entries()) assert.match(entry.path, /^(DATA|MASK)_\d+_\d+_\d+$/);
  let slabs = 0;
  for (const entry of origList.entries()) {
    const original = await disk.read(`${pyramidKey('ORIG')}/${entry.path}`);
    assert.deepEqual(await backStorage.read(`${pyramidKey('BACK')}/${entry.path}`), original, entry.path);
    slabs++;
  }
  assert.equal(slabs, origList.size);
  // Nothing else in the trees: as many objects as list lines.
  for (const [storage, name] of [
    [obj, 'ONS3'],
    [backStorage, 'BACK'],
  ] as const) {
    let n = 0;
    for await (const key of storage.list(`${pyramidKey(name)}/`)) if (key) n++;
    assert.equal(n, origList.size, name);
  }

  // The list: the original's text but for its root line (the tree of the copy).
  const backList = await text(backStorage, pyramidKey('BACK', '.list'));
  const origText = await text(disk, pyramidKey('ORIG', '.list'));
  assert.equal(backList, origText.replace(/^0=.*$/m, `0=${backStorage.root}/${pyramidKey('BACK')}`));
  // The descriptor: the original's text but for the directories of the storage blocks (the copy's name).
  const origDescriptor = await text(disk, pyramidKey('ORIG', '.json'));
  const backDescriptor = await text(backStorage, pyramidKey('BACK', '.json'));
  assert.equal(backDescriptor, origDescriptor.replaceAll('"ORIG/', '"BACK/'));
  // On S3: ROK4's object storage blocks (rok4.md §3.4), everything else the original's.
  const s3Descriptor = parseDescriptor(await text(obj, pyramidKey('ONS3', '.json')));
  const origParsed = parseDescriptor(origDescriptor);
  for (const level of s3Descriptor.levels)
    assert.deepEqual(level.storage, {
      type: 'S3',
      bucket_name: 'copies',
      image_prefix: `${pyramidKey('ONS3')}/DATA_${level.id}`,
      mask_prefix: `${pyramidKey('ONS3')}/MASK_${level.id}`,
    });
  const withoutStorage = (d: typeof origParsed) => ({ ...d, levels: d.levels.map(({ storage: _s, ...l }) => l) });
  assert.deepEqual(withoutStorage(s3Descriptor), withoutStorage(origParsed));

  // Our reader serves the original's tile bytes from the S3 copy.
  const fromDisk = await Rok4Reader.open(disk, 'ORIG', 'pyramids/ORIG/');
  const fromS3 = await Rok4Reader.open(obj, 'ONS3', 'pyramids/ONS3/');
  assert.ok((await sameTiles(fromDisk, fromS3)) > 0);
  // GDAL reads S3 slabs through /vsis3/ (ranged GETs) with the original's pixels.
  const bottom = origParsed.levels.at(-1)!.id;
  const someData = [...s3List.entries()].filter((e) => e.path.startsWith(`DATA_${bottom}_`)).slice(0, 3);
  assert.ok(someData.length > 0);
  for (const entry of someData) {
    const [, , col, row] = entry.path.split('_').map(Number);
    const fileSlab = `${disk.root}/${pyramidKey('ORIG')}/${fileDataPath(origList, bottom, col, row)}`;
    const viaS3 = gdalRead(`/vsis3/copies/${pyramidKey('ONS3')}/${entry.path}`, gdalEnv(obj));
    const viaFile = gdalRead(fileSlab);
    assert.equal(viaS3.width, viaFile.width);
    assert.ok(viaS3.bytes.equals(viaFile.bytes), `GDAL pixels of ${entry.path}`);
  }
});

/** The FILE list path of a data slab (the list is the truth: found by decoding, not by recomputing). */
function fileDataPath(list: SlabList, level: string, col: number, row: number): string {
  for (const entry of list.entries()) {
    const m = /^DATA\/([^/]+)\/(.+)\.tif$/.exec(entry.path);
    if (!m || m[1] !== level) continue;
    const digits = m[2].replaceAll('/', '');
    let c = '';
    let r = '';
    for (let i = 0; i < digits.length; i += 2) {
      c += digits[i];
      r += digits[i + 1];
    }
    if (Number.parseInt(c, 36) === col && Number.parseInt(r, 36) === row) return entry.path;
  }
  throw new Error(`no data slab ${level}/${col}/${row}`);
}

test('a chained update copied: references materialized (or referring to the copy of the ancestor on the target, once there is one); every tile reads equal', {
  skip,
  timeout: 300_000,
}, async () => {
  const map = await makeInput(s, 'base.tif', { width: 600, height: 1200, pixelSize: 100 });
  const patch = await makeInput(s, 'patch.tif', { width: 100, height: 100, pixelSize: 100 });
  // Slabs of 2×2 tiles: the patch touches few of them, the others are references to the ancestor.
  const base = (await generate(s, generation(map.href, 'BASE', { width: 2, height: 2 }))).record;
  const update = await runJob(s, { images: [{ href: patch.href }], name: 'UPD', stored_data: base._id });
  assert.equal(update.final.status, 'successful', JSON.stringify(update.final));
  const upd = await pyramidResult(s, update.jobID);
  const disk = storageOf('disk');
  const updList = SlabList.parse(await text(disk, pyramidKey('UPD', '.list')));
  const referenced = [...updList.entries()].filter((e) => e.rootIndex !== 0).length;
  assert.ok(referenced > 0, 'the update references slabs of its ancestor');

  const copy = await copied({ stored_data: upd._id, storage: 'obj', name: 'UPD_S3' });
  assert.deepEqual(copy.use, []);
  assert.equal(((copy.type_infos as Record<string, unknown>).copy as Record<string, unknown>).materialized, referenced);
  const obj = storageOf('obj');
  const list = SlabList.parse(await text(obj, pyramidKey('UPD_S3', '.list')));
  assert.equal(list.roots.size, 1);
  assert.equal(list.size, updList.size);
  for (const entry of list.entries()) {
    assert.equal(entry.rootIndex, 0);
    assert.equal(await obj.linkTarget(`${pyramidKey('UPD_S3')}/${entry.path}`), undefined, `${entry.path} is a slab, not a reference`);
  }
  const tiles = await sameTiles(
    await Rok4Reader.open(disk, 'UPD', 'pyramids/UPD/'),
    await Rok4Reader.open(obj, 'UPD_S3', 'pyramids/UPD_S3/'),
  );
  assert.ok(tiles > 0);

  // Once the ancestor has a copy on the target, a copy of the update refers to that copy's slabs instead.
  const baseCopy = await copied({ stored_data: base._id, storage: 'obj', name: 'BASE_S3' });
  const again = await copied({ stored_data: upd._id, storage: 'obj', name: 'UPD_S3B' });
  assert.deepEqual(again.use, [baseCopy._id]);
  const infos = (again.type_infos as Record<string, unknown>).copy as Record<string, unknown>;
  assert.deepEqual([infos.referenced, infos.materialized], [referenced, 0]);
  const againList = SlabList.parse(await text(obj, pyramidKey('UPD_S3B', '.list')));
  assert.deepEqual(
    [...againList.roots],
    [
      [0, `copies/${pyramidKey('UPD_S3B')}`],
      [1, `copies/${pyramidKey('BASE_S3')}`],
    ],
  );
  // The same lines as the source's, in the same order, with the same root indices (the ancestor's is now its copy's).
  const asIndices = (l: SlabList) => [...l.entries()].map((e) => [e.rootIndex, e.path.replace(/^(DATA|MASK)[/_]/, '$1 ')]);
  assert.equal(againList.size, updList.size);
  for (const entry of againList.entries()) {
    const key = `${pyramidKey('UPD_S3B')}/${entry.path}`;
    if (entry.rootIndex === 1)
      assert.equal(await obj.linkTarget(key), `${pyramidKey('BASE_S3')}/${entry.path}`, `${entry.path} refers to the copy`);
    else assert.equal(await obj.linkTarget(key), undefined);
  }
  assert.deepEqual(
    asIndices(againList).map(([i]) => i),
    asIndices(updList).map(([i]) => i),
  );
  assert.ok(
    (await sameTiles(await Rok4Reader.open(disk, 'UPD', 'pyramids/UPD/'), await Rok4Reader.open(obj, 'UPD_S3B', 'pyramids/UPD_S3B/'))) > 0,
  );
  const used = await fetch(`${s.url}/stored_data/${baseCopy._id}`, { method: 'DELETE' });
  assert.equal(used.status, 409, 'the copy of the ancestor is used by the copy of the update');
  // Nothing keeps the ancestor: only the update uses it.
  const deps = (await (await fetch(`${s.url}/stored_data/${base._id}/dependencies`)).json()) as { used_by: Array<{ _id: string }> };
  assert.deepEqual(
    deps.used_by.map((u) => u._id),
    [upd._id],
  );
});

test('a list that gives md5s (as pyr2pyr uses them): checked on the bytes copied and kept; a wrong one fails the copy', {
  skip,
  timeout: 300_000,
}, async () => {
  const map = await makeInput(s, 'md5.tif', { width: 300, height: 300, pixelSize: 100 });
  const withMd5 = (await generate(s, generation(map.href, 'SUMS'))).record;
  const disk = storageOf('disk');
  const list = SlabList.parse(await text(disk, pyramidKey('SUMS', '.list')));
  for (const e of [...list.entries()])
    list.setEntry(
      e.rootIndex,
      e.path,
      createHash('md5')
        .update(await disk.read(`${pyramidKey('SUMS')}/${e.path}`))
        .digest('hex'),
    );
  const good = list.serialize();
  await disk.write(pyramidKey('SUMS', '.list'), good);
  const copy = await copied({ stored_data: withMd5._id, storage: 'back', name: 'SUMS_COPY' });
  const back = storageOf('back');
  assert.equal(
    await text(back, pyramidKey('SUMS_COPY', '.list')),
    good.replace(/^0=.*$/m, `0=${back.root}/${pyramidKey('SUMS_COPY')}`),
    'the md5s are kept',
  );
  assert.equal(copy.status, 'READY');

  // One md5 that the bytes do not have: the copy fails, saying which slab, and leaves nothing.
  const first = [...list.entries()][0];
  list.setEntry(first.rootIndex, first.path, '0'.repeat(32));
  await disk.write(pyramidKey('SUMS', '.list'), list.serialize());
  const run = await submitAndWait(s.url, 'pyramid-copy', { stored_data: withMd5._id, storage: 'back', name: 'SUMS_BAD' }, 120_000);
  assert.equal(run.final.status, 'failed', JSON.stringify(run.final));
  const [bad] = await storedData(s, '?name=SUMS_BAD');
  assert.equal(bad.status, 'FAILED');
  // The reason is the record's (a job's message names no internal detail).
  assert.match(String(bad.message), new RegExp(`slab pyramids/SUMS/SUMS/${first.path} .*md5`));
  const left: string[] = [];
  for await (const key of back.list('pyramids/SUMS_BAD/')) left.push(key);
  assert.deepEqual(left, []);
});

test('a raster catalog copied to S3: every COG byte for byte, the same items (footprints, dates, attributes) with keys and hrefs on S3', {
  skip,
  timeout: 300_000,
}, async () => {
  const a = await makeInput(s, 'cat-a.tif', { width: 300, height: 300, pixelSize: 100, nodataTag: true });
  const b = await makeInput(s, 'cat-b.tif', { width: 300, height: 300, pixelSize: 100, seed: 2 });
  const tiling = await submitAndWait(
    s.url,
    'tiling',
    {
      files: [{ href: a.href }, { href: b.href }],
      target: {
        serviceName: 'scenes',
        createNewService: true,
        attributesConfiguration: {
          idAttribute: 'gid',
          geometryAttribute: 'geometry',
          attributes: [
            { attributeName: 'name', subType: 'String' },
            { attributeName: 'dateofimage', subType: 'DateTime' },
          ],
        },
      },
      attributes: { name: 'scene', dateofimage: '2024-05-01T10:00:00+00:00' },
      compression: 'deflate',
    },
    240_000,
  );
  assert.equal(tiling.final.status, 'successful', JSON.stringify(tiling.final));
  const [catalog] = await storedData(s, '?name=scenes');
  const run = await submitAndWait(s.url, 'catalog-copy', { stored_data: catalog._id, storage: 'obj', name: 'scenes_s3' }, 120_000);
  assert.equal(run.final.status, 'successful', JSON.stringify(run.final));
  const copy = (await storedData(s, '?name=scenes_s3')).find((r) => r.name === 'scenes_s3')!;
  assert.equal(copy.status, 'READY');
  assert.equal(copy.type, 'RASTER-CATALOG');
  assert.equal((copy.storage as Record<string, unknown>).name, 'obj');
  assert.equal(copy.size, catalog.size);
  const infos = copy.type_infos as Record<string, unknown>;
  assert.deepEqual(infos.attributesConfiguration, (catalog.type_infos as Record<string, unknown>).attributesConfiguration);
  assert.equal(infos.itemCount, 2);

  const itemsOf = (id: unknown) => s.runtime.catalogItems.query(id as string, { limit: 100, offset: 0 }).items;
  const original = itemsOf(catalog._id);
  const copied = itemsOf(copy._id);
  assert.equal(copied.length, original.length);
  const [disk, obj] = [storageOf('disk'), storageOf('obj')];
  for (const item of original) {
    const twin = copied.find((c) => c.id === item.id)!;
    assert.ok(twin, item.id);
    const { key, href, ...rest } = twin;
    const { key: k0, href: h0, ...rest0 } = item;
    assert.deepEqual(rest, rest0, 'the same item but for where its file is');
    assert.match(key, new RegExp(`^catalogs/scenes_s3/${run.jobID}/[^/]+\\.tif$`));
    assert.equal(href, obj.url(key));
    assert.deepEqual(await obj.read(key), await disk.read(k0), `the COG of ${item.id}, byte for byte`);
    // GDAL opens the copy on S3 through /vsis3/ and reads the original's pixels.
    const viaS3 = gdalRead(`/vsis3/copies/${key}`, gdalEnv(obj));
    assert.ok(viaS3.bytes.equals(gdalRead(path.join(disk.root, k0)).bytes), `GDAL pixels of ${item.id}`);
  }
  // The same source again into an existing name, or on its own storage: refused before any work.
  await refusal({ stored_data: catalog._id, storage: 'obj', name: 'scenes_s3' }, 'name', /already exists/, 'catalog-copy');
  await refusal({ stored_data: catalog._id, storage: 'disk', name: 'scenes_2' }, 'storage', /already on storage 'disk'/, 'catalog-copy');
});

async function refusal(inputs: Record<string, unknown>, input: string, detail: RegExp, processId = 'pyramid-copy'): Promise<void> {
  const res = await fetch(`${s.url}/processes/${processId}/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ inputs }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.match(JSON.stringify(body), new RegExp(input));
  assert.match(String(body.detail), detail);
}

test('refusals: unknown id, not READY, unknown storage, same storage, name taken (400 naming the input)', { skip }, async () => {
  const [orig] = await storedData(s, '?name=ORIG');
  await refusal({ stored_data: 'nope', storage: 'obj', name: 'X1' }, 'stored_data', /no stored data with id 'nope'/);
  const failed = await s.runtime.datastore.create({
    name: 'HALF',
    type: PYRAMID_TYPE,
    status: 'FAILED',
    storage: { type: 'FILE', key: 'x' },
  });
  await refusal({ stored_data: failed._id, storage: 'obj', name: 'X2' }, 'stored_data', /'HALF' is FAILED, not READY/);
  await refusal({ stored_data: orig._id, storage: 'nas', name: 'X3' }, 'storage', /storage/);
  // Larger than server.limits.max_output_bytes (1 TiB by default): refused before any work.
  const huge = await s.runtime.datastore.create({
    name: 'HUGE',
    type: PYRAMID_TYPE,
    status: 'READY',
    size: 2 * 1024 ** 4,
    storage: { type: 'FILE', key: 'pyramids/HUGE/HUGE.json', name: 'disk' },
  });
  await refusal({ stored_data: huge._id, storage: 'obj', name: 'X6' }, 'stored_data', /max_output_bytes/);
  await refusal({ stored_data: orig._id, storage: 'disk', name: 'X4' }, 'storage', /'ORIG' is already on storage 'disk'/);
  await refusal({ stored_data: orig._id, storage: 'obj', name: 'ONS3' }, 'name', /'ONS3' already exists/);
  await refusal({ stored_data: orig._id, storage: 'obj', name: 'X5', path_depth: 3 }, 'path_depth', /FILE storages only/);
  assert.deepEqual(await storedData(s, '?name=X'), []);
});

function dallage(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DALLAGE_CONFIG: '' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

test('dallage copy-stored-data: refused while the server runs (its folders are locked); with it stopped, copies with its records', {
  skip,
  timeout: 300_000,
}, async () => {
  const [orig] = await storedData(s, '?name=ORIG');
  const scenes = (await storedData(s, '?type=RASTER-CATALOG')).find((r) => r.name === 'scenes')!;
  const config = path.join(dir, 'cli-config.yml');
  await writeFile(
    config,
    JSON.stringify({
      manager: { name: 'lowdb', connection: path.join(dir, 'jobs') },
      storages: storages(),
      default_storage: 'disk',
      pool: { threads: 1 },
      processes,
      security: { input_roots: [s.inputRoot] },
    }),
  );
  const locked = await dallage('copy-stored-data', orig._id as string, '--to', 'back', '--config', config);
  assert.equal(locked.code, 1, locked.stderr);
  assert.match(locked.stderr, /is in use by another dallage server \(pid \d+\)/);

  await s.stop();
  try {
    const usage = await dallage('copy-stored-data', orig._id as string, '--config', config);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--to/);
    const unknown = await dallage('copy-stored-data', 'nope', '--to', 'back', '--config', config);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /no stored data with id 'nope'/);
    const same = await dallage('copy-stored-data', orig._id as string, '--to', 'disk', '--config', config);
    assert.equal(same.code, 2, same.stderr);
    assert.match(same.stderr, /already on storage 'disk'/);

    const run = await dallage('copy-stored-data', orig._id as string, '--to', 'back', '--config', config);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /100\.0 %/);
    const record = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(record.name, 'ORIG_back');
    assert.equal(record.status, 'READY');
    assert.equal((record.storage as Record<string, unknown>).name, 'back');
    // A raster catalog is copied by catalog-copy.
    const cat = await dallage('copy-stored-data', scenes._id as string, '--to', 'back', '--config', config, '--quiet');
    assert.equal(cat.code, 0, cat.stderr);
    const catalog = JSON.parse(cat.stdout) as Record<string, unknown>;
    assert.deepEqual([catalog.name, catalog.type, catalog.status], ['scenes_back', 'RASTER-CATALOG', 'READY']);
    assert.equal((catalog.type_infos as Record<string, unknown>).itemCount, 2);
  } finally {
    // The server again, on the same folders and records: it knows the copy.
    s = await startTestServer({ dir, manager: 'lowdb', processes, storages: storages(), defaultStorage: 'disk' });
  }
  const [copy] = await storedData(s, '?name=ORIG_back');
  assert.equal(copy.status, 'READY');
  const back = storageOf('back');
  const a = await Rok4Reader.open(storageOf('disk'), 'ORIG', 'pyramids/ORIG/');
  const b = await Rok4Reader.open(back, 'ORIG_back', 'pyramids/ORIG_back/');
  assert.ok((await sameTiles(a, b)) > 0);
});

test('S3 stopped mid-copy: job failed, record FAILED, no READY copy; S3 back, deleting it leaves no object', {
  skip,
  timeout: 300_000,
}, async () => {
  // Small slabs: many objects to copy, so that the outage falls among them.
  const map = await makeInput(s, 'big.tif', { width: 1200, height: 2400, pixelSize: 50 });
  const many = (await generate(s, generation(map.href, 'MANY', { width: 2, height: 2 }))).record;
  const jobID = await submitJob(s.url, 'pyramid-copy', { stored_data: many._id, storage: 'obj', name: 'CUT' });
  let stopped = false;
  let deletion: Promise<Response> | undefined;
  const final = await waitForJob(s.url, jobID, {
    timeoutMs: 240_000,
    onStatus: (job) => {
      if (!stopped && job.status === 'running' && ((job.progress as number | undefined) ?? 0) > 0) {
        stopped = true;
        // The source is read-locked by the copy from its submission to its end: its deletion is refused.
        deletion = fetch(`${s.url}/stored_data/${many._id}`, { method: 'DELETE' });
        void deletion.then(() => s3.stop());
      }
    },
  });
  assert.ok(stopped, 'S3 was stopped while the copy ran');
  const refused = await deletion!;
  assert.equal(refused.status, 409, await refused.text());
  assert.equal(final.status, 'failed', JSON.stringify(final));
  assert.match(String(final.message), /S3 (PUT|GET|HEAD|LIST|DELETE) copies\/pyramids\/CUT\/\S+: ECONNREFUSED/);
  const [record] = await storedData(s, '?name=CUT');
  assert.equal(record.status, 'FAILED');
  assert.deepEqual(
    (await storedData(s, '?status=READY')).filter((r) => r.name === 'CUT'),
    [],
  );

  await s3.start();
  const del = await fetch(`${s.url}/stored_data/${record._id}`, { method: 'DELETE' });
  assert.equal(del.status, 204, await del.text());
  const left: string[] = [];
  for await (const key of storageOf('obj').list('pyramids/CUT/')) left.push(key);
  assert.deepEqual(left, [], 'no object of the failed copy');
  // The source is free again: nothing reads it any more.
  const src = await fetch(`${s.url}/stored_data/${many._id}`, { method: 'DELETE' });
  assert.equal(src.status, 204, await src.text());
});

test('with the bullmq manager, a worker copies: FILE → S3, the same slabs, the record in the shared records', {
  skip: skip || skipUnlessRedis(),
  timeout: 300_000,
}, async () => {
  const folders = await mkdtemp(path.join(os.tmpdir(), 'dallage-copy-bullmq-'));
  try {
    await withServer(
      {
        manager: 'bullmq',
        workers: 1,
        processes,
        storages: {
          disk: { type: 'file', path: path.join(folders, 'disk') },
          obj: s3StorageSection(s3, 'bullmq', { path: path.join(folders, 'obj') }),
        },
        defaultStorage: 'disk',
      },
      async (b) => {
        const map = await makeInput(b, 'map.tif', { width: 300, height: 300, pixelSize: 100 });
        const source = (await generate(b, generation(map.href, 'SRC'))).record;
        const run = await submitAndWait(b.url, 'pyramid-copy', { stored_data: source._id, storage: 'obj', name: 'SRC_S3' }, 120_000);
        assert.equal(run.final.status, 'successful', JSON.stringify(run.final));
        const [copy] = await storedData(b, '?name=SRC_S3');
        assert.equal(copy.status, 'READY');
        const disk = b.runtime.storages.get('disk')!;
        const obj = b.runtime.storages.get('obj')!;
        const list = SlabList.parse(await text(disk, pyramidKey('SRC', '.list')));
        const copied = SlabList.parse(await text(obj, pyramidKey('SRC_S3', '.list')));
        assert.equal(copied.size, list.size);
        const a = await Rok4Reader.open(disk, 'SRC', 'pyramids/SRC/');
        const c = await Rok4Reader.open(obj, 'SRC_S3', 'pyramids/SRC_S3/');
        assert.ok((await sameTiles(a, c)) > 0);
      },
    );
  } finally {
    await rm(folders, { recursive: true, force: true });
  }
});
