/**
 * Cooperative cancellation of worker-thread tasks (the thread side).
 *
 * Why not let piscina terminate the thread on abort, as it does by default: Node 20 aborts the whole
 * process when a worker thread is terminated while it holds a zlib stream that is mid-write or not yet
 * initialised (node_zlib.cc: "close before init", "write in progress"). Every slab, strip and map task
 * deflates (ROK4 ZIP tiles and masks, PNG, COG DEFLATE and masks), so a dismissed job could bring the
 * server down. Measured on this Node: a thread looping on `zlib.deflateSync` of 64 bytes, terminated after
 * 0–20 ms, crashes the process within a few hundred terminations. So a cancelled task is asked to stop and
 * stops itself at its next checkpoint; the pool terminates a thread only when its task ignores the request
 * (src/workers/pool.ts).
 *
 * The flag is a shared Int32Array of two cells, written by the pool and read here.
 */

/** Cell set to 1 by the pool when the task's signal aborts. */
export const CANCEL_REQUESTED = 0;
/** Cell set to 1 by the thread when it starts the task (the pool then waits instead of dequeuing). */
export const TASK_STARTED = 1;

/** The flag of the task this thread runs now (piscina runs one task per thread at a time). */
let current: Int32Array | undefined;

/** Called by the dispatcher around each task; `undefined` once it settles. */
export function setCurrentCancellation(flag: Int32Array | undefined): void {
  current = flag;
}

/** The error a cancelled task ends with (the name callers test, as for piscina's own AbortError). */
export function cancelledError(): Error {
  const err = new Error('the task was cancelled');
  err.name = 'AbortError';
  return err;
}

/** True once the pool asked the running task to stop. Cheap: one atomic load. */
export function isCancelled(): boolean {
  return current !== undefined && Atomics.load(current, CANCEL_REQUESTED) !== 0;
}

/**
 * A checkpoint: throws the AbortError when the running task was cancelled. Tasks call it between units
 * of work a few milliseconds long (a tile, a row of tiles), so that a dismiss stops them within that time.
 */
export function throwIfCancelled(): void {
  if (isCancelled()) throw cancelledError();
}
