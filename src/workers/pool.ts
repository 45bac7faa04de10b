import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { CANCEL_REQUESTED, TASK_STARTED } from './cancellation.js';
import type { Logger } from '../log.js';
import { type DispatchedTask, WARM_UP } from './dispatch.js';

/** Every task goes through this module in its thread (cancellation flag installed, then the task runs). */
const DISPATCH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dispatch.js');

/**
 * How long a cancelled task may run on before its thread is terminated. Tasks check for cancellation at
 * least once per tile (a few ms), so this only bounds a task that never checks; terminating a thread
 * that deflates can abort the process (src/workers/cancellation.ts), hence a last resort.
 */
const CANCEL_GRACE_MS = 3000;

/**
 * The worker-thread pool that processes use for CPU work (DESIGN §3, §6). One piscina pool for
 * the whole server, sized by `pool.threads`; each task names the module that runs it, so every
 * process keeps its worker code beside it.
 */
export interface WorkerPool {
  readonly threads: number;
  /**
   * Runs `name` exported by the worker module `filename` (an absolute path or file: URL) with
   * `payload`. Pixel buffers travel in `transferList`, never as JSON (DESIGN §6).
   * Rejects with an AbortError when `signal` aborts: a queued task is dropped at once, a running one is
   * asked to stop at its next checkpoint (`throwIfCancelled`) and its thread is terminated only if it
   * has not stopped after a grace period (src/workers/cancellation.ts says why).
   */
  run<T>(filename: string, name: string, payload: unknown, options?: { signal?: AbortSignal; transferList?: Transferable[] }): Promise<T>;
  /**
   * Starts every thread and has each load the task module `filename` now, so that the first tasks do not
   * wait for a thread to start and import its modules (~0.3 s on these machines: sharp, proj4, WebAssembly).
   * Optional: pools that start warm need not have it.
   */
  warm?(filename: string): void;
  destroy(): Promise<void>;
  /** Tasks started and not yet settled, tasks waiting, live worker threads (tests, monitoring). */
  stats?(): PoolStats;
}

export interface PoolStats {
  running: number;
  queued: number;
  threads: number;
}

export interface PoolConfig {
  /** Number of worker threads; 0 or absent = number of CPUs. */
  threads?: number;
  /** Seconds a thread may stay idle before it is stopped. */
  idle_timeout?: number;
}

/**
 * Young generation of each pool thread's V8 heap, in MB (V8's default on 64-bit: 48, three times its 16 MB
 * semi-space). The threads' pixels live in typed arrays outside the heap; what the young generation holds
 * is short-lived bookkeeping, and a large one only grows the resident size. Measured on bench:pyramid's
 * rasters (issue 16, 2026-12-06, CLI, 2 threads, alternating): peak RSS M 418–438 MB and L 526–563 MB at
 * 12, against M 442–509 and L 587–629 with the default (L/M 1.15–1.42); CPU the same within the noise,
 * and GetMap throughput too.
 */
const WORKER_YOUNG_GENERATION_MB = 12;

export class PiscinaPool implements WorkerPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private pending = 0;
  /** Cancellation flags of the tasks sent and not settled (destroy asks them all to stop). */
  private readonly live = new Set<Int32Array>();

  constructor(
    config: PoolConfig = {},
    private readonly log?: Logger,
  ) {
    this.threads = config.threads && config.threads > 0 ? config.threads : Math.max(1, os.availableParallelism());
    this.piscina = new Piscina({
      // One thread at least: piscina (5.x) replaces a terminated thread only up to minThreads and starts
      // new ones only when a task is submitted, so with 0 the tasks queued behind a terminated one stall.
      minThreads: 1,
      maxThreads: this.threads,
      idleTimeout: (config.idle_timeout ?? 30) * 1000,
      // Tasks of every process share the pool; the module is chosen per task.
      // An empty workerData: geotiff.js pulls in the web-worker package, which reads
      // `workerData.mod` at import in any worker thread and throws when workerData is undefined.
      workerData: {},
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
  }

  run<T>(
    filename: string,
    name: string,
    payload: unknown,
    options: { signal?: AbortSignal; transferList?: Transferable[] } = {},
  ): Promise<T> {
    const cancel = new Int32Array(new SharedArrayBuffer(8));
    const task: DispatchedTask = { filename, name, payload, cancel };
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal));
    // piscina terminates the thread of a running task whose signal aborts: it gets its own signal, aborted
    // only for a task not started yet (dequeued) or one that ignored the request for the grace period.
    const terminate = new AbortController();
    let grace: NodeJS.Timeout | undefined;
    let settled = false;
    const running = this.piscina.run(task, {
      filename: DISPATCH,
      name: 'dispatch',
      signal: signal ? terminate.signal : undefined,
      transferList: options.transferList as never,
    }) as Promise<T>;
    this.pending++;
    this.live.add(cancel);
    const done = running.finally(() => {
      settled = true;
      this.pending--;
      this.live.delete(cancel);
      if (grace) clearTimeout(grace);
    });
    if (!signal) return done;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(abortErrorOf(signal));
        Atomics.store(cancel, CANCEL_REQUESTED, 1);
        if (Atomics.load(cancel, TASK_STARTED) === 0) terminate.abort(signal.reason);
        else if (!settled)
          grace = setTimeout(() => {
            this.log?.warn('a cancelled task did not stop: its worker thread is terminated', { task: `${filename}#${name}` });
            terminate.abort(signal.reason);
          }, CANCEL_GRACE_MS);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      done.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      // The task's own rejection after a cancel (its AbortError, or piscina's) is expected: not unhandled.
      done.catch(() => {});
    });
  }

  warm(filename: string): void {
    // One warm-up per thread, all at once: piscina starts a thread for each task that finds every thread busy.
    for (let i = 0; i < this.threads; i++) this.run(filename, WARM_UP, null).catch(() => {});
  }

  stats(): PoolStats {
    const queued = this.piscina.queueSize;
    return { running: Math.max(0, this.pending - queued), queued, threads: this.piscina.threads.length };
  }

  /** Asks running tasks to stop, waits for them (at most the grace period), then stops the threads. */
  async destroy(): Promise<void> {
    for (const flag of this.live) Atomics.store(flag, CANCEL_REQUESTED, 1);
    const deadline = Date.now() + CANCEL_GRACE_MS;
    while (this.pending > this.piscina.queueSize && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.piscina.destroy();
  }
}

/** The rejection of a task whose signal aborted: an AbortError, as piscina's own. */
function abortErrorOf(signal: AbortSignal): Error {
  const err = new Error(signal.reason instanceof Error ? signal.reason.message : 'The task has been aborted');
  err.name = 'AbortError';
  return err;
}
