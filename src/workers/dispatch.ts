import { pathToFileURL } from 'node:url';
import { CANCEL_REQUESTED, cancelledError, setCurrentCancellation, TASK_STARTED } from './cancellation.js';

/** What the pool sends to a thread: the task's module and export, its payload, its cancellation flag. */
export interface DispatchedTask {
  filename: string;
  name: string;
  payload: unknown;
  cancel: Int32Array;
}

type TaskFunction = (payload: unknown) => unknown;

/**
 * The one entry point of every worker thread (src/workers/pool.ts): runs the named export of the task's
 * module with the task's cancellation flag installed, so that checkpoints (`throwIfCancelled`) see it.
 */
export async function dispatch(task: DispatchedTask): Promise<unknown> {
  // Started first, then the request read: with the pool's order (request, then started) one of the two
  // sides sees the other's write, so a task cancelled before it began never runs (cancellation.ts).
  Atomics.store(task.cancel, TASK_STARTED, 1);
  if (Atomics.load(task.cancel, CANCEL_REQUESTED) !== 0) throw cancelledError();
  const url = task.filename.startsWith('file:') ? task.filename : pathToFileURL(task.filename).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const fn = mod[task.name];
  if (typeof fn !== 'function') throw new Error(`${task.filename} has no task named ${task.name}`);
  setCurrentCancellation(task.cancel);
  try {
    return await (fn as TaskFunction)(task.payload);
  } finally {
    setCurrentCancellation(undefined);
  }
}
