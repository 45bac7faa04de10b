/** Worker-thread tasks for pool-cancellation.test.ts (loaded by the pool's dispatcher, not a test). */
import { threadId } from 'node:worker_threads';
import zlib from 'node:zlib';
import { throwIfCancelled } from '../../src/workers/cancellation.js';

/** Shared cells between the test and its tasks: [0] tasks started, [1] deflates done. */
export interface Probe {
  cells: Int32Array;
}

/** The id of the thread running it. */
export function whoAmI(probe?: Probe): number {
  if (probe) Atomics.add(probe.cells, 0, 1);
  return threadId;
}

/**
 * Deflates small buffers until cancelled, a checkpoint between two: the pattern of every slab task (a
 * terminated thread in `deflateSync` aborts the process on Node 20).
 */
export function deflateUntilCancelled(probe: Probe): number {
  Atomics.add(probe.cells, 0, 1);
  const bytes = Buffer.alloc(64, 7);
  for (;;) {
    throwIfCancelled();
    zlib.deflateSync(bytes, { level: 1 });
    Atomics.add(probe.cells, 1, 1);
  }
}

/** Blocks its thread for `ms` without a checkpoint (a task that ignores cancellation). */
export function blockWithoutCheckpoint({ probe, ms }: { probe: Probe; ms: number }): number {
  Atomics.add(probe.cells, 0, 1);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) Atomics.wait(cell, 0, 0, Math.min(50, left));
  return threadId;
}
