// Start-up order of a real server process (issue 9): the data folders are locked before anything
// (a second server on them stops having changed nothing), the port is bound before crash recovery (an
// address in use stops the server before it touches the store) and reported as such; `dallage execute`
// does not write into a live server's storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jobStatus, serverFolder, spawnServer, submitAsync, until } from '../helpers/server-process.js';

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-start-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a second server on the same data folder stops before touching it; the first keeps its running job', { timeout: 120_000 }, () =>
  withFolder(async (dir) => {
    const folder = await serverFolder(dir);
    const first = await spawnServer(folder);
    try {
      assert.ok(first.url, first.output());
      const job = await submitAsync(first.url!, 'echo', { stringInput: 'keep', pause: 600 });
      await until(async () => (await jobStatus(first.url!, job.jobID!)).status === 'running');
      const second = await spawnServer(folder);
      assert.equal(second.url, undefined);
      assert.deepEqual(await second.exited, { code: 1, signal: null });
      assert.match(second.output(), new RegExp(`in use by another dallage server \\(pid ${first.pid}\\)`));
      // GET shows the stored status unless it is `running`: a second recovery failing it on disk would show.
      assert.equal((await jobStatus(first.url!, job.jobID!)).status, 'running', 'not failed by a second recovery');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  }),
);

test('port in use: "address in use: host:port", and the store is left as it was (recovery runs after the bind)', { timeout: 120_000 }, () =>
  withFolder(async (dir) => {
    const holder = await spawnServer(await serverFolder(path.join(dir, 'holder')));
    try {
      assert.ok(holder.url, holder.output());
      const port = Number(new URL(holder.url!).port);
      const other = await serverFolder(path.join(dir, 'other'), { port });
      // A job a killed server left running: recovery would fail it.
      await mkdir(path.join(other.dir, 'jobs'), { recursive: true });
      const t = '2025-01-01T00:00:00.000Z';
      const jobs = [
        {
          jobID: 'left-running',
          processID: 'echo',
          type: 'process',
          status: 'running',
          progress: 10,
          created: t,
          updated: t,
          started: t,
          request: { outputs: {}, response: 'document' },
        },
      ];
      const file = path.join(other.dir, 'jobs', 'jobs-000001.json');
      await writeFile(file, JSON.stringify({ jobs }));
      const refused = await spawnServer(other);
      assert.deepEqual(await refused.exited, { code: 1, signal: null });
      assert.match(refused.output(), new RegExp(`address in use: 127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(refused.output(), /Cannot read properties/);
      assert.equal(JSON.parse(await readFile(file, 'utf8')).jobs[0].status, 'running');
      // The folder lock went with it: a start on a free port works and recovers.
      await writeFile(other.config, (await readFile(other.config, 'utf8')).replace(`"port":${port}`, '"port":0'));
      const next = await spawnServer(other);
      try {
        assert.ok(next.url, next.output());
        assert.equal((await jobStatus(next.url!, 'left-running')).status, 'failed');
      } finally {
        next.child.kill('SIGTERM');
        await next.exited;
      }
    } finally {
      holder.child.kill('SIGTERM');
      await holder.exited;
    }
  }),
);

test("dallage execute --output-dir on a live server's storage is refused, naming the server", { timeout: 120_000 }, () =>
  withFolder(async (dir) => {
    const folder = await serverFolder(dir);
    const server = await spawnServer(folder);
    try {
      assert.ok(server.url, server.output());
      const store = path.join(dir, 'store');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = execFile(
          process.execPath,
          [path.resolve('bin/dallage.js'), 'execute', 'echo', '--input', 'stringInput=x', '--output-dir', store],
          { env: { ...process.env, DALLAGE_CONFIG: folder.config, DALLAGE_NO_RELAUNCH: '1' } },
          (_err, _stdout, stderr) => resolve({ code: c.exitCode, stderr }),
        );
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`folder ${store.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use by another dallage server \\(pid ${server.pid}\\)`),
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }),
);
