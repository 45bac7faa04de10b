import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PiscinaPool } from '../../src/workers/pool.js';
import type { Probe } from './cancel-tasks.js';

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cancel-tasks.js');

function probe(): Probe {
  return { cells: new Int32Array(new SharedArrayBuffer(8)) };
}

/** Resolves once cell `i` of the probe reaches `n` (polls; the test's own timeout bounds it). */
async function until(p: Probe, i: number, n: number): Promise<void> {
  while (Atomics.load(p.cells, i) < n) await new Promise((r) => setTimeout(r, 2));
}

async function rejectsAsAbort(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: Error) => err.name === 'AbortError');
}

test('a cancelled task stops at its checkpoint: the thread is kept, the process survives aborts mid-deflate', {
  timeout: 120_000,
}, async () => {
  const pool = new PiscinaPool({ threads: 1 });
  try {
    const thread = await pool.run<number>(TASKS, 'whoAmI', undefined);
    // Before cooperative cancellation, each of these aborts terminated the thread mid-deflate, and a few
    // hundred of them aborted the process ("close before init", node_zlib.cc).
    for (let i = 0; i < 60; i++) {
      const p = probe();
      const controller = new AbortController();
      const running = pool.run(TASKS, 'deflateUntilCancelled', p, { signal: controller.signal });
      await until(p, 1, 1 + ((i * 37) % 200));
      controller.abort();
      await rejectsAsAbort(running);
      assert.equal(await pool.run<number>(TASKS, 'whoAmI', undefined), thread, `abort ${i}: the thread was replaced`);
    }
  } finally {
    await pool.destroy();
  }
});

test('a task cancelled while queued never runs', async () => {
  const pool = new PiscinaPool({ threads: 1 });
  try {
    const busy = probe();
    const first = pool.run<number>(TASKS, 'blockWithoutCheckpoint', { probe: busy, ms: 300 });
    await until(busy, 0, 1);
    const queued = probe();
    const controller = new AbortController();
    const second = pool.run(TASKS, 'whoAmI', queued, { signal: controller.signal });
    controller.abort();
    await rejectsAsAbort(second);
    const thread = await first;
    assert.equal(Atomics.load(queued.cells, 0), 0, 'the dropped task ran');
    assert.equal(await pool.run<number>(TASKS, 'whoAmI', undefined), thread, 'dropping a queued task replaced the thread');
  } finally {
    await pool.destroy();
  }
});

test('a task that ignores cancellation is stopped by terminating its thread after the grace period', { timeout: 60_000 }, async () => {
  const pool = new PiscinaPool({ threads: 1 });
  try {
    const thread = await pool.run<number>(TASKS, 'whoAmI', undefined);
    const p = probe();
    const controller = new AbortController();
    const running = pool.run(TASKS, 'blockWithoutCheckpoint', { probe: p, ms: 600_000 }, { signal: controller.signal });
    await until(p, 0, 1);
    controller.abort();
    await rejectsAsAbort(running);
    // The blocked task would hold its thread for 10 minutes: the next task runs only once it is terminated.
    const next = await pool.run<number>(TASKS, 'whoAmI', undefined);
    assert.notEqual(next, thread);
  } finally {
    await pool.destroy();
  }
});

test('destroy asks running tasks to stop before stopping the threads', { timeout: 60_000 }, async () => {
  const pool = new PiscinaPool({ threads: 2 });
  const probes = [probe(), probe()];
  const outcomes = probes.map((p) =>
    pool.run(TASKS, 'deflateUntilCancelled', p).then(
      () => 'resolved',
      (err: Error) => err.message,
    ),
  );
  await Promise.all(probes.map((p) => until(p, 1, 50)));
  await pool.destroy();
  // Errors cross the thread boundary by structured clone, which keeps the message (not the name).
  assert.deepEqual(await Promise.all(outcomes), ['the task was cancelled', 'the task was cancelled']);
});
