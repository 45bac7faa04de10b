import type { Config } from './config.js';
import { PartWorker } from './manager/bullmq-parts.js';
import { JobWorker, workerName } from './manager/bullmq-worker.js';
import { createRuntime, type Runtime } from './runtime.js';

export interface WorkerOptions {
  /** Executions run at once by this process (BullMQ concurrency). */
  concurrency: number;
  /** Threads of its raster pool; undefined = the config's pool.threads. */
  threads?: number;
}

export interface RunningWorker {
  name: string;
  runtime: Runtime;
  /** Stops taking executions, gives the running ones (and parts) back to the queue for other workers (partial output removed), disconnects. */
  close(): Promise<void>;
}

/**
 * Starts a worker process of the `bullmq` manager (issue 14): the same runtime as a server (stores in
 * Redis, storage, raster pool, processes from the same config) without HTTP, taking executions from the
 * queue. Its jobs write progress, logs and results where the servers read them.
 */
export async function startWorker(config: Config, options: WorkerOptions): Promise<RunningWorker> {
  if (config.manager.name !== 'bullmq')
    throw new Error(`dallage worker needs manager.name: bullmq (the config has '${config.manager.name}')`);
  if (options.threads !== undefined) config.pool.threads = options.threads;
  // The worker's own bound: executions at once are its concurrency (max_running_jobs is a server's).
  config.server.limits.max_running_jobs = options.concurrency;
  const name = workerName();
  const runtime = await createRuntime(config, { worker: { name } });
  const log = runtime.log.child({ worker: name });
  const worker = new JobWorker(config.manager, {
    manager: runtime.manager,
    registry: runtime.registry,
    log,
    name,
    concurrency: options.concurrency,
    threads: config.pool.threads,
  });
  // Parts of split executions (issue 14): as many at once as executions, in slots of their own, so a
  // parent waiting for its parts never holds the slots they need.
  const parts = new PartWorker(config.manager, {
    storage: runtime.storage,
    pool: runtime.pool,
    log,
    name,
    concurrency: options.concurrency,
  });
  try {
    await worker.start();
    await parts.start();
  } catch (err) {
    await parts.close();
    await worker.close();
    await runtime.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    name,
    runtime,
    close() {
      closing ??= (async () => {
        // Running jobs are aborted first (failed with the stop's reason), then the queue connection closes.
        // Running jobs and parts go back to the queue for other workers (their partial output removed).
        worker.handingBack = true;
        await runtime.manager.close({ handBack: true });
        await parts.close();
        await worker.close();
        await runtime.close();
      })();
      return closing;
    },
  };
}

/** Runs a worker until SIGTERM/SIGINT (the first stops it gracefully within server.shutdown_timeout, a second exits). */
export async function runWorker(config: Config, options: WorkerOptions): Promise<RunningWorker> {
  const worker = await startWorker(config, options);
  const log = worker.runtime.log;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (stopping) process.exit(code);
    stopping = true;
    log.info('worker stopping', { signal });
    setTimeout(() => process.exit(1), config.server.shutdown_timeout * 1000).unref();
    worker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return worker;
}
