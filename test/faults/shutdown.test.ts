// SIGTERM/SIGINT on a real server process (issue 9): running jobs are aborted through their AbortSignal
// and failed "server stopped" with their partial output removed, queued jobs are failed the same way,
// the process exits by itself; `server.shutdown_timeout` bounds a stop that a process does not obey,
// and a second signal exits at once. Nothing is timed: the test's timeout bounds each wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jobStatus, serverFolder, spawnServer, submitAsync, until, type ServerFolder } from '../helpers/server-process.js';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';

const STUBBORN = path.resolve('dist/test/fixtures/stubborn-process.js');

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-stop-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const tempFolders = async (f: ServerFolder) => (await readdir(f.tmp)).filter((n) => n.startsWith('dallage-exec-'));

test(
  'SIGTERM while a job runs and another waits: both failed "server stopped", temp folders removed, the process exits 0',
  { timeout: 120_000 },
  () =>
    withFolder(async (dir) => {
      const folder = await serverFolder(dir, { limits: { max_running_jobs: 1 } });
      const s = await spawnServer(folder);
      assert.ok(s.url, s.output());
      // base64 inputs give each job a temp folder of its own.
      const binaryInput = { value: Buffer.from('partial').toString('base64'), mediaType: 'application/octet-stream' };
      const running = await submitAsync(s.url!, 'echo', { stringInput: 'long', pause: 600, binaryInput });
      const queued = await submitAsync(s.url!, 'echo', { stringInput: 'queued', pause: 1, binaryInput });
      assert.equal(running.status, 201);
      assert.equal(queued.status, 201);
      await until(async () => (await jobStatus(s.url!, running.jobID!)).status === 'running');
      assert.equal((await jobStatus(s.url!, queued.jobID!)).status, 'accepted');
      s.child.kill('SIGTERM');
      const exit = await s.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, s.output());
      assert.match(s.output(), /"msg":"stopped"/);
      assert.deepEqual(await tempFolders(folder), []);

      const again = await spawnServer(folder);
      try {
        assert.ok(again.url, again.output());
        for (const [id, when] of [
          [running.jobID!, 'while this job was running'],
          [queued.jobID!, 'before this job started'],
        ]) {
          const job = await jobStatus(again.url!, id);
          assert.equal(job.status, 'failed', id);
          assert.match(job.message!, new RegExp(`server stopped ${when}`));
        }
        // The stop wrote the statuses itself: the next start had nothing to repair.
        assert.doesNotMatch(again.output(), /interrupted by the previous run/);
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    }),
);

test('SIGTERM during a pyramid: its partial files are removed, its stored data is not left GENERATING', { timeout: 300_000 }, () =>
  withFolder(async (dir) => {
    const folder = await serverFolder(dir, { processes: { 'raster-to-pyramid': 'raster-to-pyramid' } });
    const map = path.join(folder.inputs, 'big.tif');
    await makeSyntheticMap({ width: 3000, height: 6000, pixelSize: 20, path: map });
    const s = await spawnServer(folder);
    assert.ok(s.url, s.output());
    const inputs = {
      images: [{ href: `file://${map}` }],
      name: 'STOPPED',
      tms: 'PM',
      compression: 'zip',
      mask: true,
      nodata: 255,
      width: 2,
      height: 2,
    };
    const job = await submitAsync(s.url!, 'raster-to-pyramid', inputs);
    assert.equal(job.status, 201);
    const pyramid = path.join(folder.dir, 'store', 'pyramids', 'STOPPED');
    // Stop once slabs are being written.
    await until(async () => (await jobStatus(s.url!, job.jobID!)).progress! > 0 && existsSync(pyramid));
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null }, s.output());
    assert.equal(existsSync(pyramid), false, 'no partial pyramid');
    assert.deepEqual(await tempFolders(folder), []);

    const again = await spawnServer(folder);
    try {
      assert.ok(again.url, again.output());
      const status = await jobStatus(again.url!, job.jobID!);
      assert.equal(status.status, 'failed');
      assert.match(status.message!, /server stopped/);
      // The record says the server stopped (FAILED), not that a client dismissed the job (DELETED).
      const records = (await (await fetch(`${again.url}/stored_data?name=STOPPED&status=FAILED`)).json()) as {
        stored_data?: Array<{ status: string; message?: string }>;
      };
      assert.equal(records.stored_data?.length, 1, JSON.stringify(records));
      assert.match(records.stored_data![0].message ?? '', /server stopped/);
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  }),
);

test(
  'a process that ignores its AbortSignal: shutdown_timeout ends the stop (exit 1); a second signal exits at once (143)',
  { timeout: 120_000 },
  () =>
    withFolder(async (dir) => {
      const timed = await serverFolder(path.join(dir, 'timed'), { processes: { stubborn: STUBBORN }, shutdownTimeout: 1 });
      const a = await spawnServer(timed);
      assert.ok(a.url, a.output());
      const stuck = await submitAsync(a.url!, 'stubborn', { seconds: 600 });
      assert.equal(stuck.status, 201);
      await until(async () => (await jobStatus(a.url!, stuck.jobID!)).status === 'running');
      a.child.kill('SIGTERM');
      assert.deepEqual(await a.exited, { code: 1, signal: null }, a.output());
      assert.match(a.output(), /shutdown timed out/);

      const patient = await serverFolder(path.join(dir, 'patient'), { processes: { stubborn: STUBBORN }, shutdownTimeout: 3600 });
      const b = await spawnServer(patient);
      assert.ok(b.url, b.output());
      assert.equal((await submitAsync(b.url!, 'stubborn', { seconds: 600 })).status, 201);
      await until(
        async () => ((await fetch(`${b.url}/jobs?status=running`).then((r) => r.json())) as { jobs: unknown[] }).jobs.length === 1,
      );
      b.child.kill('SIGINT');
      await b.waitFor(/"msg":"shutting down"/);
      b.child.kill('SIGTERM');
      assert.deepEqual(await b.exited, { code: 143, signal: null }, b.output());
      assert.match(b.output(), /second signal/);

      // What the timed-out stop left running is failed at the next start, and the lock was not in the way.
      const again = await spawnServer(timed);
      try {
        assert.ok(again.url, again.output());
        const job = await jobStatus(again.url!, stuck.jobID!);
        assert.equal(job.status, 'failed');
        assert.match(job.message!, /server stopped/);
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    }),
);
