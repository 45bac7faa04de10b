// The fault test of issue 9 ("Proof"): a real server process killed with SIGKILL during a pyramid and
// during a burst of async submissions, then started again on the same folder. Whatever the moment of the
// kill: no acknowledged (201) job is lost or left accepted/running, no stored data stays GENERATING, no
// partial pyramid files stay, no temp folders of the killed process stay, and the killed pyramid's name
// can be used again once the FAILED record is deleted. Nothing is timed: the test's timeout bounds each wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';
import {
  jobStatus,
  serverFolder,
  spawnServer,
  submitAsync,
  until,
  type ServerFolder,
  type ServerProcess,
} from '../helpers/server-process.js';

const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid', echo: 'echo' };

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-kill-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const tempFolders = async (f: ServerFolder) => (await readdir(f.tmp)).filter((n) => n.startsWith('dallage-exec-'));

async function storedData(url: string, query = ''): Promise<Array<{ name: string; status: string }>> {
  return ((await (await fetch(`${url}/stored_data${query}`)).json()) as { stored_data: Array<{ name: string; status: string }> })
    .stored_data;
}

async function kill(s: ServerProcess): Promise<void> {
  s.child.kill('SIGKILL');
  assert.equal((await s.exited).signal, 'SIGKILL');
}

async function stop(s: ServerProcess): Promise<void> {
  s.child.kill('SIGTERM');
  await s.exited;
}

/** What every restart must show. */
async function assertRecovered(url: string, folder: ServerFolder, acknowledged: string[]): Promise<void> {
  for (const id of acknowledged) {
    const res = await fetch(`${url}/jobs/${id}`);
    assert.equal(res.status, 200, `acknowledged job ${id} lost`);
    const job = (await res.json()) as { status: string };
    assert.ok(!['accepted', 'running'].includes(job.status), `job ${id} left ${job.status}`);
  }
  assert.deepEqual(await storedData(url, '?status=GENERATING'), [], 'no stored data left GENERATING');
  assert.deepEqual(await tempFolders(folder), [], 'no temp folders of the killed process');
}

test(
  'kill -9 during a pyramid: after a restart, the job failed, no GENERATING record, no partial files, the name free',
  { timeout: 300_000 },
  () =>
    withFolder(async (dir) => {
      const folder = await serverFolder(dir, { processes: PROCESSES });
      const big = path.join(folder.inputs, 'big.tif');
      const small = path.join(folder.inputs, 'small.tif');
      await makeSyntheticMap({ width: 3000, height: 6000, pixelSize: 20, path: big });
      await makeSyntheticMap({ width: 200, height: 400, pixelSize: 500, path: small });
      const base = { name: 'KILLED', tms: 'PM', compression: 'zip', mask: true, nodata: 255, width: 2, height: 2 };
      const pyramid = path.join(folder.dir, 'store', 'pyramids', 'KILLED');

      const s = await spawnServer(folder);
      assert.ok(s.url, s.output());
      const job = await submitAsync(s.url!, 'raster-to-pyramid', { ...base, images: [{ href: `file://${big}` }] });
      assert.equal(job.status, 201);
      await until(async () => (await jobStatus(s.url!, job.jobID!)).progress! > 0 && existsSync(pyramid));
      assert.equal((await storedData(s.url!, '?name=KILLED'))[0]?.status, 'GENERATING');
      await kill(s);
      assert.ok(existsSync(pyramid), 'the kill left partial files (what the restart must remove)');

      const again = await spawnServer(folder);
      try {
        assert.ok(again.url, again.output());
        await assertRecovered(again.url!, folder, [job.jobID!]);
        assert.equal((await jobStatus(again.url!, job.jobID!)).status, 'failed');
        const records = (await storedData(again.url!, '?name=KILLED')) as Array<{ _id?: string; name: string; status: string }>;
        assert.deepEqual(
          records.map((r) => r.status),
          ['FAILED'],
        );
        assert.equal(existsSync(pyramid), false, 'partial pyramid files removed');
        // The name is not blocked by the killed run: like any failed product, its record can be deleted.
        assert.equal((await fetch(`${again.url}/stored_data/${records[0]._id}`, { method: 'DELETE' })).status, 204);
        const retry = await submitAsync(again.url!, 'raster-to-pyramid', { ...base, images: [{ href: `file://${small}` }] });
        assert.equal(retry.status, 201);
        await until(async () => !['accepted', 'running'].includes((await jobStatus(again.url!, retry.jobID!)).status));
        assert.equal((await jobStatus(again.url!, retry.jobID!)).status, 'successful');
      } finally {
        await stop(again);
      }
    }),
);

test(
  'kill -9 during a burst of async submissions: every acknowledged job is kept and ends; no temp folders left',
  { timeout: 300_000 },
  () =>
    withFolder(async (dir) => {
      const folder = await serverFolder(dir, { processes: PROCESSES, limits: { max_running_jobs: 2 } });
      const s = await spawnServer(folder);
      assert.ok(s.url, s.output());
      // base64 inputs: each job holds a temp folder from its submission until it ends.
      const binaryInput = { value: Buffer.alloc(64 * 1024, 7).toString('base64'), mediaType: 'application/octet-stream' };
      const acknowledged: string[] = [];
      let killed = false;
      const submit = async (i: number) => {
        const r = await submitAsync(s.url!, 'echo', { stringInput: `burst ${i}`, pause: 0.5, binaryInput }).catch(() => undefined);
        if (r?.jobID) acknowledged.push(r.jobID);
        // Kill in the middle of the burst, with submissions still in flight.
        if (acknowledged.length === 25 && !killed) {
          killed = true;
          await kill(s);
        }
      };
      await Promise.all(Array.from({ length: 80 }, (_, i) => submit(i)));
      assert.ok(killed, `killed mid-burst (${acknowledged.length} acknowledged)`);
      assert.ok((await tempFolders(folder)).length > 0, 'the kill left temp folders (what the restart must remove)');

      const again = await spawnServer(folder);
      try {
        assert.ok(again.url, again.output());
        await assertRecovered(again.url!, folder, acknowledged);
      } finally {
        await stop(again);
      }
    }),
);
