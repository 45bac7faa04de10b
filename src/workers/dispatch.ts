import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CANCEL_REQUESTED, cancelledError, setCurrentCancellation, TASK_STARTED } from './cancellation.js';

/** What the pool sends to a thread: the task's module and export, its payload, its cancellation flag. */
export interface DispatchedTask {
  filename: string;
  name: string;
  payload: unknown;
  cancel: Int32Array;
}

type TaskFunction = (payload: unknown) => unknown;

const requireModule = createRequire(import.meta.url);

/**
 * A task module, loaded the way piscina loads the modules it is given: `require` first (Node 20 loads ES
 * modules synchronously that way), `import()` only when that fails (a module with top-level await). Why not
 * `import()` always: a thread where an `import()` of a module graph is still in flight when piscina
 * `require`s a module of that graph dies with a V8 fatal error (`Module::IsGraphAsync must be used on an
 * instantiated module`; seen once in CI, in a bullmq worker), which takes the whole process down.
 */
async function loadTaskModule(filename: string): Promise<Record<string, unknown>> {
  const file = filename.startsWith('file:') ? fileURLToPath(filename) : filename;
  try {
    return requireModule(file) as Record<string, unknown>;
  } catch {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
}

/** The task name of a warm-up ({@link WorkerPool.warm}): the module is loaded, nothing is run. */
export const WARM_UP = '';

/**
 * The one entry point of every worker thread (src/workers/pool.ts): runs the named export of the task's
 * module with the task's cancellation flag installed, so that checkpoints (`throwIfCancelled`) see it.
 */
export async function dispatch(task: DispatchedTask): Promise<unknown> {
  // Started first, then the request read: with the pool's order (request, then started) one of the two
  // sides sees the other's write, so a task cancelled before it began never runs (cancellation.ts).
  Atomics.store(task.cancel, TASK_STARTED, 1);
  if (Atomics.load(task.cancel, CANCEL_REQUESTED) !== 0) throw cancelledError();
  const mod = await loadTaskModule(task.filename);
  if (task.name === WARM_UP) return undefined;
  const fn = mod[task.name];
  if (typeof fn !== 'function') throw new Error(`${task.filename} has no task named ${task.name}`);
  setCurrentCancellation(task.cancel);
  try {
    return await (fn as TaskFunction)(task.payload);
  } finally {
    setCurrentCancellation(undefined);
  }
}
