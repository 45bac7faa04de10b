import { throwIfCancelled } from '../../src/workers/cancellation.js';

/** Worker-thread task of the echo process: blocks the thread for `seconds` (a stand-in for CPU work). */
export function sleep({ seconds }: { seconds: number }): number {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + seconds * 1000;
  // Slices of 50 ms, each a cancellation checkpoint, so that a dismiss stops it promptly.
  for (let left = end - Date.now(); left > 0; left = end - Date.now()) {
    throwIfCancelled();
    Atomics.wait(cell, 0, 0, Math.min(50, left));
  }
  return seconds;
}
