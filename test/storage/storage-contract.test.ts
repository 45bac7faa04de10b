/**
 * The Storage contract (src/storage/storage.ts) on every implementation: FILE on a temp folder, S3 on a
 * real S3 server (s3rver on 127.0.0.1, test/helpers/s3-server.ts) through the minio client, with and
 * without a key prefix. What differs by nature is said where it is tested: S3 reads return a reference
 * object as stored (ROK4 readers follow it, rok4.md §5.4), FILE reads follow the symbolic link.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileStorage } from '../../src/storage/file.js';
import { S3Storage } from '../../src/storage/s3.js';
import { NotFoundError, type Storage } from '../../src/storage/storage.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

let s3: S3TestServer;
let dir: string;

before(async () => {
  s3 = await startS3Server();
  dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-storage-'));
});
after(async () => {
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let buckets = 0;
async function newS3(prefix = ''): Promise<S3Storage> {
  const storage = new S3Storage({
    endpoint: s3.endpoint,
    bucket: `contract-${++buckets}`,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    region: s3.region,
    prefix,
  });
  await storage.checkBucket(true);
  return storage;
}

const kinds: Array<[string, () => Promise<Storage>]> = [
  ['FILE', async () => new FileStorage(await mkdtemp(path.join(dir, 'file-')))],
  ['S3', () => newS3()],
  ['S3 with a prefix', () => newS3('tenant/a/')],
];

async function listed(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of storage.list(prefix)) keys.push(k);
  return keys.sort();
}

for (const [kind, make] of kinds) {
  describe(`Storage contract: ${kind}`, () => {
    test('write, read, ranges, size, exists; a missing object is a NotFoundError', async () => {
      const storage = await make();
      const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
      await storage.write('a/b/slab.tif', bytes);
      await storage.write('a/b/text.json', '{"x": 1}');
      assert.deepEqual(await storage.read('a/b/slab.tif'), bytes);
      assert.equal((await storage.read('a/b/text.json')).toString(), '{"x": 1}');
      assert.deepEqual(await storage.readRange('a/b/slab.tif', 2048, 100), bytes.subarray(2048, 2148));
      // Shorter when the object ends first; empty past its end.
      assert.deepEqual(await storage.readRange('a/b/slab.tif', 4990, 100), bytes.subarray(4990));
      assert.equal((await storage.readRange('a/b/slab.tif', 6000, 10)).length, 0);
      assert.equal(await storage.size('a/b/slab.tif'), 5000);
      assert.equal(await storage.size('a/b/none'), undefined);
      assert.equal(await storage.exists('a/b/slab.tif'), true);
      assert.equal(await storage.exists('a/b/none'), false);
      await assert.rejects(storage.read('a/none'), NotFoundError);
      await assert.rejects(storage.readRange('a/none', 0, 10), NotFoundError);
      // Written again: the new bytes, whole.
      await storage.write('a/b/text.json', 'second');
      assert.equal((await storage.read('a/b/text.json')).toString(), 'second');
    });

    test('keys that could escape the storage are refused', async () => {
      const storage = await make();
      for (const bad of ['/abs', '../up', 'a/../b', 'a/./b', '']) await assert.rejects(storage.write(bad, 'x'), /invalid storage key/, bad);
    });

    test('list is recursive and a prefix names a folder; delete and deletePrefix', async () => {
      const storage = await make();
      for (const k of ['p/x/1', 'p/x/2/3', 'p/y', 'pq/z', 'top']) await storage.write(k, k);
      assert.deepEqual(await listed(storage, 'p/'), ['p/x/1', 'p/x/2/3', 'p/y']);
      assert.deepEqual(await listed(storage, 'p'), ['p/x/1', 'p/x/2/3', 'p/y']);
      assert.deepEqual(await listed(storage, 'p/x'), ['p/x/1', 'p/x/2/3']);
      assert.deepEqual(await listed(storage, 'nothing/'), []);
      await storage.delete('p/y');
      await storage.delete('p/never'); // absent: not an error
      assert.deepEqual(await listed(storage, 'p/'), ['p/x/1', 'p/x/2/3']);
      await storage.deletePrefix('p/');
      assert.deepEqual(await listed(storage, 'p/'), []);
      assert.deepEqual(await listed(storage, 'pq/'), ['pq/z'], 'a sibling with a longer name stays');
      assert.equal(await storage.exists('top'), true);
    });

    test('references: link, linkTarget, size of the target; deleting a reference keeps its target', async () => {
      const storage = await make();
      const slab = Buffer.alloc(4096, 7);
      await storage.write('OLD/DATA_15_1_2', slab);
      await storage.link('NEW/DATA_15_1_2', 'OLD/DATA_15_1_2');
      assert.equal(await storage.linkTarget('NEW/DATA_15_1_2'), 'OLD/DATA_15_1_2');
      assert.equal(await storage.linkTarget('OLD/DATA_15_1_2'), undefined);
      assert.equal(await storage.linkTarget('NEW/none'), undefined);
      assert.equal(await storage.size('NEW/DATA_15_1_2'), 4096);
      if (storage.type === 'S3') {
        // rok4.md §7.2: the whole content is SYMLINK#<bucket>/<object name of the target>.
        const s = storage as S3Storage;
        assert.equal((await storage.read('NEW/DATA_15_1_2')).toString(), `SYMLINK#${s.bucket}/${s.objectName('OLD/DATA_15_1_2')}`);
      } else assert.deepEqual(await storage.read('NEW/DATA_15_1_2'), slab);
      await storage.delete('NEW/DATA_15_1_2');
      assert.deepEqual(await storage.read('OLD/DATA_15_1_2'), slab);
    });

    test('writeFile puts a local file as one object and leaves the file', async () => {
      const storage = await make();
      const local = path.join(dir, `local-${kind.replace(/\W/g, '')}.bin`);
      await writeFile(local, Buffer.alloc(70_000, 3));
      await storage.writeFile!('cogs/one.tif', local);
      assert.deepEqual(await storage.read('cogs/one.tif'), Buffer.alloc(70_000, 3));
      assert.equal(await storage.size('cogs/one.tif'), 70_000);
    });

    test('url names the object', async () => {
      const storage = await make();
      const url = storage.url('pyramids/X/X.json');
      if (storage.type === 'FILE') assert.match(url, /^file:\/\/\/.*\/pyramids\/X\/X\.json$/);
      else assert.equal(url, `s3://${(storage as S3Storage).bucket}/${(storage as S3Storage).objectName('pyramids/X/X.json')}`);
    });
  });
}
