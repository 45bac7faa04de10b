// Start-up recovery: what a crash left (a GENERATING product and its partial files, execution temp
// folders) is cleaned when the server starts again; what belongs to others is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestServer } from '../helpers/server.js';

/** The pid of a process that has exited (so no live process has it, for a while). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

test('start-up: a product left GENERATING is FAILED and its own folder removed; others and old-layout files are kept', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-recovery-'));
  const jobs = path.join(dir, 'jobs');
  const store = path.join(dir, 'store');
  await mkdir(jobs, { recursive: true });
  const now = new Date().toISOString();
  const pyramid = (id: string, name: string, status: string, key: string) => ({
    _id: id,
    name,
    type: 'ROK4-PYRAMID-RASTER',
    status,
    created: now,
    updated: now,
    use: [],
    type_infos: {},
    storage: { type: 'FILE', key },
  });
  await writeFile(
    path.join(jobs, 'stored-data.json'),
    JSON.stringify({
      stored_data: [
        pyramid('crashed', 'P', 'GENERATING', 'pyramids/P/P.json'),
        pyramid('ready', 'Q', 'READY', 'pyramids/Q/Q.json'),
        pyramid('old', 'R', 'GENERATING', 'R.json'),
      ],
    }),
  );
  for (const f of ['pyramids/P/P/DATA/12/AA/BB.tif', 'pyramids/Q/Q.json', 'R/DATA/1.tif']) {
    await mkdir(path.dirname(path.join(store, f)), { recursive: true });
    await writeFile(path.join(store, f), 'x');
  }
  // Execution folders: one of a server process that is gone (ours to clean), one of this live process.
  const orphan = path.join(os.tmpdir(), `dallage-exec-${await deadPid()}-test${process.pid}`);
  const live = path.join(os.tmpdir(), `dallage-exec-${process.pid}-test`);
  for (const d of [orphan, live]) {
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'input'), 'base64 input');
  }
  const s = await startTestServer({ dir });
  try {
    const get = async (id: string) => (await (await fetch(`${s.url}/stored_data/${id}`)).json()) as { status: string; message?: string };
    assert.equal((await get('crashed')).status, 'FAILED');
    assert.match((await get('crashed')).message ?? '', /server stopped/);
    assert.equal(existsSync(path.join(store, 'pyramids/P')), false);
    assert.equal((await get('ready')).status, 'READY');
    assert.ok(existsSync(path.join(store, 'pyramids/Q/Q.json')));
    // Old layout: marked FAILED, but its files share the storage root: left in place.
    assert.equal((await get('old')).status, 'FAILED');
    assert.ok(existsSync(path.join(store, 'R/DATA/1.tif')));
    assert.equal(existsSync(orphan), false);
    assert.ok(existsSync(live));
    // Only the READY pyramid's folder is left.
    assert.deepEqual((await readdir(path.join(store, 'pyramids'))).sort(), ['Q']);
  } finally {
    await s.stop();
    await rm(live, { recursive: true, force: true });
    await rm(orphan, { recursive: true, force: true });
  }
});
