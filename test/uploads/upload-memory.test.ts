/**
 * A 2 GiB file sent with curl (PUT, as `curl -T` does) to a real server process: its resident memory
 * stays within +50 MB of what it holds idle (issue 11, Proof: files are streamed, never held whole).
 * The file is sparse (no disk read to speak of); the server writes its 2 GiB to its storage.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { inCI, skipUnlessCommands } from '../helpers/env.js';
import { serverFolder, spawnServer } from '../helpers/server-process.js';

const run = promisify(execFile);
const skip = inCI ? false : skipUnlessCommands('curl');

async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS of the server');
  return Number(m[1]) / 1024;
}

test('a 2 GiB upload through curl keeps the server within +50 MB of its idle RSS', { skip, timeout: 600_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-upload-rss-'));
  const folder = await serverFolder(dir);
  const server = await spawnServer(folder);
  try {
    assert.ok(server.url, server.output());
    const created = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'big', type: 'RASTER', srs: 'EPSG:2154' }),
    });
    assert.equal(created.status, 201);
    const id = ((await created.json()) as { _id: string })._id;
    // Warm-up: the routes, busboy and the storage code loaded, a first file written.
    const small = path.join(dir, 'small.bin');
    await writeFile(small, Buffer.alloc(4 << 20, 7));
    await run('curl', ['-sS', '-f', '-T', small, `${server.url}/uploads/${id}/data?path=small.bin`]);
    const idle = await rssMb(server.pid);

    const big = path.join(dir, 'big.bin');
    await writeFile(big, '');
    await truncate(big, 2 * 1024 ** 3);
    let peak = idle;
    const sampler = setInterval(() => {
      rssMb(server.pid).then(
        (v) => (peak = Math.max(peak, v)),
        () => {},
      );
    }, 50);
    let out: { stdout: string };
    try {
      out = await run('curl', ['-sS', '-f', '-T', big, `${server.url}/uploads/${id}/data?path=big.bin`], { maxBuffer: 1 << 20 });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, await rssMb(server.pid));
    const answer = JSON.parse(out.stdout) as { size: number };
    assert.equal(answer.size, 2 * 1024 ** 3);
    assert.equal((await stat(path.join(dir, 'store', 'uploads', id, 'big.bin'))).size, 2 * 1024 ** 3);
    t.diagnostic(`server RSS idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB during the 2 GiB transfer`);
    assert.ok(peak - idle <= 50, `server RSS went from ${idle.toFixed(0)} MB to ${peak.toFixed(0)} MB (+${(peak - idle).toFixed(0)})`);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await rm(dir, { recursive: true, force: true });
  }
});
