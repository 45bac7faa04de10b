/** Worker-thread tasks for pool-warm.test.ts (loaded by the pool's dispatcher, not a test). */
import { threadId } from 'node:worker_threads';

/** When this thread evaluated the module (epoch milliseconds). */
const loadedAt = performance.timeOrigin + performance.now();

/** The thread's id and when it loaded the module, after holding the thread `ms` (so that two calls take two threads). */
export function loadedWhen(ms: number): { threadId: number; loadedAt: number } {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(cell, 0, 0, ms);
  return { threadId, loadedAt };
}
