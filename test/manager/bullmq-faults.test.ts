import { test } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { startServer } from '../../src/server.js';
import { skipUnlessRedis } from '../helpers/redis.js';
import { startTestServer, submitJob, waitForJob } from '../helpers/server.js';

/**
 * The bullmq manager's faults (issue 14, Faults): Redis restarted, a server restarted, while jobs run on
 * real worker processes. Redis runs with AOF (as documented) and is stopped gracefully (SIGTERM: its AOF
 * is flushed; a hard stop loses what `appendfsync everysec` had not written, `always` loses nothing).
 */
const skip = skipUnlessRedis();

async function jobStatus(url: string, id: string): Promise<{ status: string; message?: string }> {
  return (await (await fetch(`${url}/jobs/${id}`)).json()) as { status: string; message?: string };
}

test('bullmq: Redis restarted while jobs run and wait: servers and workers reconnect, every acknowledged job finishes', {
  skip,
  timeout: 300_000,
}, async () => {
  const s = await startTestServer({ manager: 'bullmq', workers: 2, workerConcurrency: 1 });
  try {
    // Two running (one per worker), two waiting in the queue.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submitJob(s.url, 'echo', { stringInput: `before ${i}`, pause: 3 }));
    await new Promise((r) => setTimeout(r, 800));
    await s.redis!.stop();
    // Redis down: a submission gets a clear 5xx problem, never a job that is then lost.
    const refused = await fetch(`${s.url}/processes/echo/execution`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
      body: JSON.stringify({ inputs: { stringInput: 'while down' } }),
      signal: AbortSignal.timeout(30_000),
    }).catch((err: unknown) => err as Error);
    assert.ok(refused instanceof Response, `an answer while Redis is down, not ${String(refused)}`);
    assert.equal(refused.status, 503);
    assert.match(((await refused.json()) as { detail: string }).detail, /Redis/);
    await new Promise((r) => setTimeout(r, 1000));
    await s.redis!.restart();
    ids.push(await submitJob(s.url, 'echo', { stringInput: 'after', pause: 1 }));
    for (const id of ids) {
      const final = await waitForJob(s.url, id, { timeoutMs: 120_000 });
      assert.equal(final.status, 'successful', `${id}: ${JSON.stringify(final)}`);
    }
    const listed = (await (await fetch(`${s.url}/jobs?limit=100`)).json()) as { jobs: Array<{ jobID: string }> };
    for (const id of ids)
      assert.ok(
        listed.jobs.some((j) => j.jobID === id),
        `${id} is listed`,
      );
  } finally {
    await s.stop();
  }
});

test('bullmq: a server restarted mid-job: the job goes on on its worker, and the new server reports it', {
  skip,
  timeout: 300_000,
}, async () => {
  const s = await startTestServer({ manager: 'bullmq', workers: 1 });
  try {
    const id = await submitJob(s.url, 'echo', { stringInput: 'across restarts', pause: 4 });
    for (let i = 0; i < 100 && (await jobStatus(s.url, id)).status !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await jobStatus(s.url, id)).status, 'running');
    await s.close();
    // Another server on the same config (same Redis, same storage), as after a restart or behind a load balancer.
    const again = await startServer(s.config);
    try {
      const final = await waitForJob(again.url, id, { timeoutMs: 120_000 });
      assert.equal(final.status, 'successful', JSON.stringify(final));
      assert.match(await (await fetch(`${again.url}/jobs/${id}/results`)).text(), /across restarts/);
    } finally {
      await again.close();
    }
  } finally {
    await s.stop();
  }
});

test('bullmq: a worker stopped by SIGTERM mid-job gives the job back to the queue; another worker runs it to the end', {
  skip,
  timeout: 300_000,
}, async () => {
  // Its input is an href: the server fetched it once and keeps it for the run (fetched-inputs.ts); the
  // worker taking the job back finds it there, the host is not asked again.
  let hits = 0;
  const host = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('handed back');
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
  const href = `http://127.0.0.1:${(host.address() as AddressInfo).port}/text`;
  const s = await startTestServer({
    manager: 'bullmq',
    workers: 2,
    workerConcurrency: 1,
    security: { allow_internal: true, allowed_hosts: ['127.0.0.1'] },
  });
  try {
    const id = await submitJob(s.url, 'echo', { stringInput: { href }, pause: 5 });
    let first: string | undefined;
    for (let i = 0; i < 200 && !first; i++) {
      const j = (await (await fetch(`${s.url}/jobs/${id}`)).json()) as { status: string; worker?: string };
      if (j.status === 'running' && j.worker) first = j.worker;
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(first, 'the job runs on a worker');
    const stopping = s.workers!.find((w) => w.name === first)!;
    await stopping.stop('SIGTERM');
    const final = (await waitForJob(s.url, id, { timeoutMs: 120_000 })) as { status: string; worker?: string };
    // (The wrapper of bin/dallage.js exits first; the worker's own lines come through its pipe meanwhile.)
    assert.match(stopping.output(), /job handed back to the queue/);
    assert.equal(final.status, 'successful', JSON.stringify(final));
    assert.notEqual(final.worker, first, 'the other worker ran it');
    assert.match(await (await fetch(`${s.url}/jobs/${id}/results`)).text(), /handed back/);
    assert.equal(hits, 1, 'the input was fetched once, by the server');
  } finally {
    await s.stop();
    host.close();
  }
});
