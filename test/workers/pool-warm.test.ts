/** WorkerPool.warm (src/workers/pool.ts): every thread started, the task module loaded before any task. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PiscinaPool } from '../../src/workers/pool.js';

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'warm-tasks.js');

test('a warmed pool has every thread started with the task module loaded before the first task is sent', async () => {
  const pool = new PiscinaPool({ threads: 2 });
  try {
    pool.warm(TASKS);
    // Threads start in the background; the pool keeps only one otherwise (minThreads 1) until tasks queue up.
    for (let i = 0; i < 500 && pool.stats().threads < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pool.stats().threads, 2);
    await new Promise((r) => setTimeout(r, 500));
    const sent = Date.now();
    const both = await Promise.all([
      pool.run<{ threadId: number; loadedAt: number }>(TASKS, 'loadedWhen', 200),
      pool.run<{ threadId: number; loadedAt: number }>(TASKS, 'loadedWhen', 200),
    ]);
    assert.notEqual(both[0].threadId, both[1].threadId, 'two threads');
    for (const b of both)
      assert.ok(b.loadedAt < sent, `thread ${b.threadId} loaded the module ${Math.round(b.loadedAt - sent)} ms after the tasks were sent`);
  } finally {
    await pool.destroy();
  }
});
