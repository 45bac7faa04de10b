import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, submitJob, waitForJob, type TestServer } from '../helpers/server.js';
import { skipUnlessRedis, startRedis } from '../helpers/redis.js';

/** The job ids a worker's log says it started ("job running" lines). */
function runsOf(output: string): string[] {
  const ids: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; jobId?: string };
      if (entry.msg === 'job running' && entry.jobId) ids.push(entry.jobId);
    } catch {}
  }
  return ids;
}

test('bullmq: 200 concurrent async submissions to 2 servers run by 2 workers: all present on both, all successful, none run twice', {
  skip: skipUnlessRedis(),
}, async (t) => {
  const redis = await startRedis();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-scale-'));
  const servers: TestServer[] = [];
  try {
    // Two servers on one Redis and one storage folder (as behind a load balancer); the workers start with the first.
    servers.push(await startTestServer({ manager: 'bullmq', redis, dir, workers: 2, workerConcurrency: 4 }));
    servers.push(await startTestServer({ manager: 'bullmq', redis, dir, workers: 0 }));
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) => submitJob(servers[i % 2].url, 'echo', { stringInput: `job ${i}` })),
    );
    assert.equal(new Set(ids).size, 200);
    const finals = await Promise.all(ids.map((id, i) => waitForJob(servers[(i + 1) % 2].url, id, { timeoutMs: 600_000 })));
    assert.deepEqual(
      finals.filter((f) => f.status !== 'successful'),
      [],
    );
    for (const s of servers) {
      const listed = new Set<string>();
      for (let offset = 0; offset < 400; offset += 100) {
        const page = (await (await fetch(`${s.url}/jobs?limit=100&offset=${offset}`)).json()) as { jobs: Array<{ jobID: string }> };
        for (const j of page.jobs) listed.add(j.jobID);
      }
      assert.deepEqual(
        ids.filter((id) => !listed.has(id)),
        [],
        `every job is listed by the server at ${s.url}`,
      );
    }
    const runs = servers[0].workers!.flatMap((w) => runsOf(w.output()));
    const perWorker = servers[0].workers!.map((w) => runsOf(w.output()).length);
    t.diagnostic(`runs per worker: ${perWorker.join(', ')}`);
    assert.equal(runs.length, 200, 'each job started once');
    assert.equal(new Set(runs).size, 200);
    for (const [i, f] of finals.entries())
      assert.ok(
        (await (await fetch(`${servers[i % 2].url}/jobs/${f.jobID}/results`)).text()).includes(`\r\n\r\njob ${i}\r\n`),
        `results of job ${i}`,
      );
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    await redis.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
