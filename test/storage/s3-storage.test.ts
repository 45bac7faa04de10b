/**
 * What only the S3 storage does (issue 13), on a real S3 server (s3rver on 127.0.0.1) through the minio
 * client: multipart uploads of large objects, retries of transient failures (503 SlowDown, connection
 * reset, through test/helpers/fault-proxy.ts), permanent errors carrying the S3 error code, and the
 * bucket check of start-up.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MIN_PART_SIZE, S3Storage, S3StorageError, type S3Settings } from '../../src/storage/s3.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { s3StorageSection, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { execute, startTestServer, waitForJob } from '../helpers/server.js';

let s3: S3TestServer;
let dir: string;
before(async () => {
  s3 = await startS3Server();
  dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-s3-test-'));
});
after(async () => {
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const settings = (over: Partial<S3Settings> = {}): S3Settings => ({
  endpoint: s3.endpoint,
  bucket: 'dallage',
  accessKey: s3.accessKey,
  secretKey: s3.secretKey,
  region: s3.region,
  prefix: '',
  ...over,
});
const fastRetry = { retries: 4, baseDelayMs: 5, maxDelayMs: 50 };

test('large objects go up in parts (multipart upload) and read back whole; small ones in one PUT', async () => {
  const proxy = await startFaultProxy(s3.endpoint);
  try {
    const storage = new S3Storage(settings({ endpoint: proxy.endpoint, bucket: 'multipart' }), { partSize: MIN_PART_SIZE });
    await storage.checkBucket(true);
    const size = 2 * MIN_PART_SIZE + 12345;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) % 256;
    const local = path.join(dir, 'big.bin');
    await writeFile(local, bytes);
    for (const [key, write] of [
      ['cogs/big.tif', () => storage.writeFile('cogs/big.tif', local)],
      ['cogs/big-buffer.tif', () => storage.write('cogs/big-buffer.tif', bytes)],
    ] as const) {
      proxy.log.length = 0;
      await write();
      const requests = proxy.log.map((l) => l.replace(/uploadId=[^&]+/, 'uploadId=U'));
      assert.deepEqual(requests, [
        `POST /multipart/${key}?uploads`,
        `PUT /multipart/${key}?uploadId=U&partNumber=1`,
        `PUT /multipart/${key}?uploadId=U&partNumber=2`,
        `PUT /multipart/${key}?uploadId=U&partNumber=3`,
        `POST /multipart/${key}?uploadId=U`,
      ]);
      assert.equal(await storage.size(key), size);
      assert.ok((await storage.read(key)).equals(bytes), key);
    }
    proxy.log.length = 0;
    await storage.write('small', 'x');
    assert.deepEqual(proxy.log, ['PUT /multipart/small']);
  } finally {
    await proxy.close();
  }
});

test('transient failures (503 SlowDown, connection reset) are retried; reads and writes go through', async () => {
  const proxy = await startFaultProxy(s3.endpoint);
  try {
    const storage = new S3Storage(settings({ endpoint: proxy.endpoint, bucket: 'retries' }), { retry: fastRetry });
    await storage.checkBucket(true);
    proxy.failNext('503', 'reset');
    await storage.write('a/slab', Buffer.alloc(3000, 1));
    proxy.failNext('reset', '503', 'reset');
    assert.deepEqual(await storage.readRange('a/slab', 100, 10), Buffer.alloc(10, 1));
    proxy.failNext('503');
    assert.equal(await storage.exists('a/slab'), true);
    const before = proxy.requests;
    proxy.failNext('reset');
    const keys: string[] = [];
    for await (const k of storage.list('a/')) keys.push(k);
    assert.deepEqual(keys, ['a/slab']);
    assert.equal(proxy.requests - before, 2, 'the listing was tried twice');
    // Retries spent: the error says SlowDown.
    proxy.failNext('503', '503', '503', '503', '503');
    await assert.rejects(storage.read('a/slab'), (err: unknown) => {
      assert.ok(err instanceof S3StorageError);
      assert.equal(err.code, 'ServiceUnavailable');
      assert.match(err.message, /S3 GET retries\/a\/slab: ServiceUnavailable/);
      return true;
    });
  } finally {
    await proxy.close();
  }
});

test('a permanent error fails at once with its S3 error code', async () => {
  const proxy = await startFaultProxy(s3.endpoint);
  try {
    const good = new S3Storage(settings({ bucket: 'permanent' }));
    await good.checkBucket(true);
    const wrong = new S3Storage(settings({ endpoint: proxy.endpoint, bucket: 'permanent', accessKey: 'nobody' }), { retry: fastRetry });
    const before = proxy.requests;
    await assert.rejects(wrong.write('x', 'y'), (err: unknown) => {
      assert.ok(err instanceof S3StorageError);
      assert.equal(err.code, 'InvalidAccessKeyId');
      assert.match(err.message, /^S3 PUT permanent\/x: InvalidAccessKeyId/);
      return true;
    });
    assert.equal(proxy.requests - before, 1, 'not retried');
    const noBucket = new S3Storage(settings({ bucket: 'no-such-bucket' }), { retry: fastRetry });
    await assert.rejects(noBucket.write('x', 'y'), (err: unknown) => err instanceof S3StorageError && err.code === 'NoSuchBucket');
  } finally {
    await proxy.close();
  }
});

test('the bucket check names endpoint and bucket: missing bucket, create_bucket, unreachable server', async () => {
  const storage = new S3Storage(settings({ bucket: 'checked' }), { retry: fastRetry });
  await assert.rejects(storage.checkBucket(false), (err: Error) => {
    assert.ok(err.message.includes(s3.endpoint), err.message);
    assert.match(err.message, /bucket 'checked': no such bucket .*create_bucket: true/);
    return true;
  });
  await storage.checkBucket(true);
  await storage.checkBucket(false);
  const other = await startS3Server();
  const endpoint = other.endpoint;
  await other.close();
  const unreachable = new S3Storage(settings({ endpoint, bucket: 'checked' }), { retry: fastRetry });
  await assert.rejects(unreachable.checkBucket(true), (err: Error) => {
    assert.ok(err.message.includes(`S3 storage ${endpoint}, bucket 'checked': cannot be reached`), err.message);
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
});

test('a server on S3 storage: refuses to start on a missing bucket (naming endpoint and bucket), starts with create_bucket and keeps job results in the bucket', async () => {
  await assert.rejects(startTestServer({ storage: s3StorageSection(s3, 'absent', { create_bucket: false }) }), (err: Error) => {
    assert.ok(err.message.includes(`S3 storage ${s3.endpoint}, bucket 'absent': no such bucket`), err.message);
    return true;
  });
  const server = await startTestServer({ storage: s3StorageSection(s3, 'results', { prefix: 'srv/' }) });
  try {
    assert.equal(server.runtime.storage.type, 'S3');
    const res = await execute(
      server.url,
      'echo',
      { inputs: { stringInput: 'kept on S3' }, response: 'document' },
      { Prefer: 'respond-async' },
    );
    assert.equal(res.status, 201);
    const { jobID } = (await res.json()) as { jobID: string };
    assert.equal((await waitForJob(server.url, jobID)).status, 'successful');
    const results = await fetch(`${server.url}/jobs/${jobID}/results`);
    assert.equal(results.status, 200);
    assert.match(await results.text(), /kept on S3/);
    const keys: string[] = [];
    for await (const k of server.runtime.storage.list('')) keys.push(k);
    assert.ok(
      keys.some((k) => k.startsWith(`jobs/${jobID}/results/`)),
      `results stored in the bucket: ${keys.join(', ')}`,
    );
    const objects = await readdir(path.join(s3.directory, 'results', 'srv', 'jobs'));
    assert.ok(objects.includes(jobID), 'under the prefix in the bucket');
  } finally {
    await server.stop();
  }
});
