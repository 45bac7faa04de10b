// The entry points run under glibc allocator settings (src/allocator.ts): relaunched once, exit
// status and signals passed through (once), an explicit setting kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allocatorNeedsRelaunch } from '../src/allocator.js';

const ALLOCATOR = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'allocator.js')).href;
const glibc =
  typeof (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime ===
  'string';

test('explicit allocator settings (or DALLAGE_NO_RELAUNCH) are kept', () => {
  assert.equal(allocatorNeedsRelaunch({ MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '65536' }), false);
  assert.equal(allocatorNeedsRelaunch({ MALLOC_ARENA_MAX: '8' }), process.platform === 'linux' && glibc);
  assert.equal(allocatorNeedsRelaunch({ DALLAGE_NO_RELAUNCH: '1' }), false);
  assert.equal(allocatorNeedsRelaunch({}), process.platform === 'linux' && glibc);
});

test('a relaunched command sees the setting, gets its arguments and returns its exit status', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-alloc-'));
  try {
    const script = path.join(dir, 'entry.mjs');
    await writeFile(
      script,
      `import { relaunchWithAllocatorSettings } from ${JSON.stringify(ALLOCATOR)};
if (!relaunchWithAllocatorSettings()) { console.log(JSON.stringify({ arena: process.env.MALLOC_ARENA_MAX ?? null, mmap: process.env.MALLOC_MMAP_THRESHOLD_ ?? null, args: process.argv.slice(2), pid: process.pid })); process.exit(7); }
`,
    );
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.DALLAGE_NO_RELAUNCH;
    const r = spawnSync(process.execPath, [script, 'a', 'b c'], { env, encoding: 'utf8' });
    assert.equal(r.status, 7, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.args, ['a', 'b c']);
    assert.equal(out.arena, process.platform === 'linux' && glibc ? '2' : null);
    assert.equal(out.mmap, process.platform === 'linux' && glibc ? '4194304' : null);
    const kept = spawnSync(process.execPath, [script], { env: { ...env, MALLOC_ARENA_MAX: '4' }, encoding: 'utf8' });
    assert.equal(JSON.parse(kept.stdout).arena, '4');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Ctrl-C on the terminal (SIGINT to the process group) reaches the relaunched command once', {
  skip: !(process.platform === 'linux' && glibc),
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-alloc-'));
  try {
    const script = path.join(dir, 'entry.mjs');
    // The command counts the SIGINTs it gets in the 500 ms after the first and exits with that count.
    await writeFile(
      script,
      `import { relaunchWithAllocatorSettings } from ${JSON.stringify(ALLOCATOR)};
if (!relaunchWithAllocatorSettings()) {
  let n = 0;
  process.on('SIGINT', () => { if (n++ === 0) setTimeout(() => process.exit(10 + n), 500); });
  console.log('ready');
  setInterval(() => {}, 1000);
}
`,
    );
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.DALLAGE_NO_RELAUNCH;
    // Its own process group, as a shell gives a foreground command.
    const parent = spawn(process.execPath, [script], { env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) =>
      parent.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      }),
    );
    process.kill(-parent.pid!, 'SIGINT');
    const code = await new Promise<number | null>((resolve) => parent.on('exit', (c) => resolve(c)));
    assert.equal(code, 11, 'the command got SIGINT exactly once');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('kill -9 of the relaunching parent: the relaunched child exits too (it watches its IPC channel)', {
  skip: !(process.platform === 'linux' && glibc),
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-alloc-'));
  try {
    const script = path.join(dir, 'entry.mjs');
    // The child serves forever (an interval keeps it alive, as a listening socket would) and says its pid.
    await writeFile(
      script,
      `import { relaunchWithAllocatorSettings } from ${JSON.stringify(ALLOCATOR)};
if (!relaunchWithAllocatorSettings()) { console.log('child ' + process.pid); setInterval(() => {}, 1000); }
`,
    );
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.DALLAGE_NO_RELAUNCH;
    const parent = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /child (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
    assert.notEqual(childPid, parent.pid);
    const parentExit = new Promise((resolve) => parent.on('exit', resolve));
    parent.kill('SIGKILL');
    await parentExit;
    const alive = () => {
      try {
        process.kill(childPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Bounded by the test's timeout, not timed: the child is gone once it has seen the channel close.
    while (alive()) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
