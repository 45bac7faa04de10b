import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Storage } from '../storage/storage.js';
import type { WorkerPool } from '../workers/pool.js';

/**
 * Parts of one execution run by other worker processes (issue 14, "split big pyramids", as BE4's
 * parallelization: scripts of subtrees, then a finisher). A process that can be cut asks
 * {@link PartRunner.run} for its parts and goes on (the finisher) once all succeeded.
 */
export interface PartTask {
  /** Module of the part function, relative to the project's build root (`processes/…/x.js`). */
  module: string;
  /** Name of the exported {@link PartFunction}. */
  fn: string;
  /** Its argument: JSON only (it travels through Redis). */
  args: unknown;
  /** Its share of the whole work, for the job's progress (e.g. the slabs it computes). */
  weight: number;
}

/** What a part function has where it runs: the shared storage, the worker process's thread pool. */
export interface PartContext {
  storage: Storage;
  pool: WorkerPool;
  signal: AbortSignal;
  log: Logger;
  /** The part's own progress, 0..1. */
  progress(fraction: number): void;
}

export type PartFunction<A = unknown, R = unknown> = (args: A, ctx: PartContext) => Promise<R>;

/** What {@link PartRunner.run} reports while the parts run. */
export interface PartRunOptions<R> {
  signal: AbortSignal;
  /** The weighted sum of the parts' progress, 0..1. */
  progress(fraction: number): void;
  /** Part `index` succeeded with `result`. */
  ended?(index: number, result: R): void;
}

/** How the execution's parts are run: by the `bullmq` manager's workers (src/manager/bullmq-parts.ts). */
export interface PartRunner {
  /** Bottom slabs from which a pyramid is worth cutting (config `manager.split_slabs`; 0 = never). */
  readonly splitSlabs: number;
  /** Parts a cut execution is divided into (config `manager.split_parts`). */
  readonly parts: number;
  /**
   * Runs every part (any worker may take each), reporting the weighted sum of their progress, and
   * resolves with their results in order. The first failure cancels the others and rejects once every
   * part has stopped (nothing of theirs is written after); `signal` (a dismiss) does the same.
   * `ended` hears each part's success as it comes (a finisher can start on what is done).
   */
  run<R>(parentId: string, tasks: PartTask[], options: PartRunOptions<R>): Promise<R[]>;
  /**
   * Stops the parts an earlier run of the same job left (its worker died while they ran): the waiting ones
   * are removed, the running ones aborted, and their end waited for — before the job writes its output
   * again, so none of them writes into it afterwards.
   */
  stopEarlier(parentId: string, signal: AbortSignal): Promise<void>;
}

/** The build root (dist/): part modules are named relative to it, so every worker resolves the same file. */
const BUILD_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of a part module; only modules inside the build root are loaded. */
export function partModulePath(module: string): string {
  const resolved = path.resolve(BUILD_ROOT, module);
  if (!resolved.startsWith(BUILD_ROOT + path.sep) || !resolved.endsWith('.js'))
    throw new Error(`part module '${module}' is outside the build`);
  return resolved;
}

/** The name of a module file relative to the build root (what {@link PartTask.module} holds). */
export function partModuleName(fileUrl: string): string {
  return path.relative(BUILD_ROOT, fileURLToPath(fileUrl)).split(path.sep).join('/');
}

/** Loads and runs one part where it was taken. */
export async function runPart(task: PartTask, ctx: PartContext): Promise<unknown> {
  const mod = (await import(partModulePath(task.module))) as Record<string, unknown>;
  const fn = mod[task.fn];
  if (typeof fn !== 'function') throw new Error(`part module '${task.module}' has no function '${task.fn}'`);
  return (fn as PartFunction)(task.args, ctx);
}
