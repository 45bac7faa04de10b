import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execute, submitJob, waitForJob, withServer } from '../helpers/server.js';
import { storeOf } from '../helpers/pyramids.js';
import { skipUnlessRedis } from '../helpers/redis.js';

/**
 * With worker processes, an http(s) input is fetched once (src/manager/fetched-inputs.ts): the server fetches
 * it to validate the request and keeps it in the shared storage; the worker copies it from there instead of
 * asking the host again, and the copy is removed once the execution ended.
 */
const skip = skipUnlessRedis();

test('bullmq: an href input is fetched once per execution (async and sync), and its kept copy removed after', { skip }, async () => {
  const hits = new Map<string, number>();
  const host = http.createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    if (req.url === '/text') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('fetched once');
    else if (req.url === '/blob') res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(Buffer.from([1, 2, 3, 250]));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  try {
    await withServer({ manager: 'bullmq', security: { allow_internal: true, allowed_hosts: ['127.0.0.1'] } }, async (s) => {
      const storage = storeOf(s);
      const id = await submitJob(s.url, 'echo', { stringInput: { href: `${base}/text` }, binaryInput: { href: `${base}/blob` } });
      const final = await waitForJob(s.url, id, { timeoutMs: 60_000 });
      assert.equal(final.status, 'successful', JSON.stringify(final));
      assert.match(await (await fetch(`${s.url}/jobs/${id}/results`)).text(), /fetched once/);
      assert.deepEqual(Object.fromEntries(hits), { '/text': 1, '/blob': 1 }, 'the worker did not ask the host again');
      // The worker removes them after it recorded the job's end (a retried job still needs them before): the
      // client may see the end first, so the removal is waited for, within 5 s.
      let left: string[] = [];
      for (let i = 0; i < 100; i++) {
        left = [];
        for await (const key of storage.list(`jobs/${id}/inputs/`)) left.push(key);
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(left, [], 'the kept copies are removed once the job ended');

      const sync = await execute(s.url, 'echo', { inputs: { stringInput: { href: `${base}/text` } }, outputs: { stringInput: {} } });
      assert.equal(sync.status, 200);
      assert.equal(await sync.text(), 'fetched once');
      assert.equal(hits.get('/text'), 2, 'one more request for one more execution');
    });
  } finally {
    host.close();
  }
});
