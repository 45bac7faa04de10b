import os from 'node:os';
import { Piscina } from 'piscina';

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
   * Rejects with an AbortError when `signal` aborts; the task stops being queued at once.
   */
  run<T>(filename: string, name: string, payload: unknown, options?: { signal?: AbortSignal; transferList?: Transferable[] }): Promise<T>;
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

export class PiscinaPool implements WorkerPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private pending = 0;

  constructor(config: PoolConfig = {}) {
    this.threads = config.threads && config.threads > 0 ? config.threads : Math.max(1, os.availableParallelism());
    this.piscina = new Piscina({
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: (config.idle_timeout ?? 30) * 1000,
      // Tasks of every process share the pool; the module is chosen per task.
      // An empty workerData: geotiff.js pulls in the web-worker package, which reads
      // `workerData.mod` at import in any worker thread and throws when workerData is undefined.
      workerData: {},
    });
  }

  run<T>(
    filename: string,
    name: string,
    payload: unknown,
    options: { signal?: AbortSignal; transferList?: Transferable[] } = {},
  ): Promise<T> {
    this.pending++;
    const task = this.piscina.run(payload, {
      filename,
      name,
      signal: options.signal as AbortSignal | undefined,
      transferList: options.transferList as never,
    }) as Promise<T>;
    return task.finally(() => this.pending--);
  }

  stats(): PoolStats {
    const queued = this.piscina.queueSize;
    return { running: Math.max(0, this.pending - queued), queued, threads: this.piscina.threads.length };
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
