/**
 * Catalogs across machines (issue 14): two servers with their own local folders (so their own item
 * files, as on two machines) share one Redis and one S3 bucket; a worker started with the second one runs
 * the tiling jobs. The first server lists, pages and serves the items the worker committed, and a catalog
 * it deletes loses its items on the other machine too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeInput, storedData } from '../helpers/pyramids.js';
import { skipUnlessRedis, startRedis } from '../helpers/redis.js';
import { s3StorageSection, startS3Server } from '../helpers/s3-server.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import { inCI, skipUnlessCommands } from '../helpers/env.js';

const skip = inCI ? false : skipUnlessRedis() || skipUnlessCommands('gdal_translate');

async function tiling(s: TestServer, inputs: Record<string, unknown>): Promise<string> {
  const res = await execute(s.url, 'tiling', { inputs, response: 'document' }, { Prefer: 'respond-async' });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { jobID: string }).jobID;
}

async function items(s: TestServer, name: string): Promise<{ status: number; ids: string[]; numberMatched?: number }> {
  const res = await fetch(`${s.url}/collections/${name}/items?limit=1`);
  if (res.status !== 200) return { status: res.status, ids: [] };
  const doc = (await res.json()) as { features: Array<{ id: string }>; numberMatched: number };
  return { status: 200, ids: doc.features.map((f) => f.id), numberMatched: doc.numberMatched };
}

test('bullmq: items a worker on another machine adds to a catalog are served by every server; a deletion reaches every machine', {
  skip,
  timeout: 240_000,
}, async () => {
  const redis = await startRedis();
  const s3 = await startS3Server();
  const storage = s3StorageSection(s3, 'shared-catalogs');
  const processes = { tiling: 'tiling' };
  const servers: TestServer[] = [];
  try {
    // Machine b: a server and the only worker; machine a: a server alone. Different folders: different item files.
    const b = await startTestServer({ manager: 'bullmq', redis, workers: 1, processes, storage });
    servers.push(b);
    const a = await startTestServer({ manager: 'bullmq', redis, workers: 0, processes, storage });
    servers.push(a);
    assert.notEqual(a.runtime.catalogItems.file, b.runtime.catalogItems.file);

    const first = await makeInput(b, 'first.tif');
    const second = await makeInput(b, 'second.tif', { part: 'south' });
    const target = {
      serviceName: 'shared',
      createNewService: true,
      attributesConfiguration: { idAttribute: 'gid', geometryAttribute: 'geometry', attributes: [] },
    };
    const job1 = await tiling(b, { files: [{ href: first.href }], target, compression: 'deflate' });
    assert.equal((await waitForJob(a.url, job1, { timeoutMs: 120_000 })).status, 'successful');
    const one = await items(a, 'shared');
    assert.deepEqual([one.status, one.numberMatched], [200, 1], 'server a serves the item the worker committed');
    const item = await fetch(`${a.url}/collections/shared/items/${one.ids[0]}`);
    assert.equal(item.status, 200);
    assert.match(((await item.json()) as { assets: Record<string, { href: string }> }).assets.data.href, /shared/);

    const job2 = await tiling(b, { files: [{ href: second.href }], target: { serviceName: 'shared', createNewService: false } });
    assert.equal((await waitForJob(a.url, job2, { timeoutMs: 120_000 })).status, 'successful');
    const two = await items(a, 'shared');
    assert.equal(two.numberMatched, 2, 'the second job added to the catalog, seen from server a');
    assert.equal((await items(b, 'shared')).numberMatched, 2, 'and from server b');

    const [record] = await storedData(a, '?type=RASTER-CATALOG&name=shared');
    assert.equal((await fetch(`${a.url}/stored_data/${record._id}`, { method: 'DELETE' })).status, 204);
    await b.runtime.catalogItems.sync();
    assert.deepEqual(b.runtime.catalogItems.totals(record._id as string), { count: 0, bytes: 0 }, "machine b's file lost the items too");
  } finally {
    for (const s of servers) await s.stop();
    await s3.stop();
    await redis.dispose();
  }
});
