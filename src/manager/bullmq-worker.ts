import os from 'node:os';
import { type Job, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { ProcessRegistry } from '../process/registry.js';
import { connectRedis, keyOf } from '../redis/connection.js';
import { cancelChannel, QUEUE_NAME, type QueueSettings, workerOptions } from './bullmq-queue.js';
import type { JobManager } from './manager.js';
import type { QueuedTask } from './remote.js';

/** Progress of a synchronous execution is sent to the waiting server at most this often. */
const SYNC_PROGRESS_MS = 250;
/** A worker's heartbeat: written this often, expiring after three misses. */
export const HEARTBEAT_MS = 5000;

/** The name of this worker process in job records and on the workers list: host and pid. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

/** Key of a worker's heartbeat (a JSON value with a TTL; the workers list reads them). */
export function heartbeatKey(prefix: string, name: string): string {
  return keyOf(prefix, 'worker', name);
}

/**
 * The worker process's side of the `bullmq` manager (issue 14): takes executions from the queue (at most
 * `concurrency` at once) and runs them through {@link JobManager.runQueued}; hears dismisses on the
 * cancel channel and aborts the job's AbortSignal; says it is alive (heartbeat). A job BullMQ gives up on
 * after its workers died `attempts` times is failed by the server, which hears it (src/manager/bullmq-queue.ts).
 * A run whose lock BullMQ could not renew (this process stalled longer than the lock lasts, and the queue may
 * have given the task to another worker) is lost: aborted, it writes nothing, and BullMQ is told to leave the
 * task alone (its lock is the other worker's).
 */
export class JobWorker {
  private readonly worker: Worker;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly workerRedis: Redis;
  private heartbeat?: NodeJS.Timeout;
  /** The tasks running here, each with the controller that says its run lost the task's lock. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly settings: QueueSettings,
    private readonly deps: {
      manager: JobManager;
      registry: ProcessRegistry;
      log: Logger;
      name: string;
      concurrency: number;
      threads: number;
    },
  ) {
    const { log } = deps;
    this.redis = connectRedis(settings.connection, log);
    this.subscriber = connectRedis(settings.connection, log);
    this.workerRedis = connectRedis(settings.connection, log);
    this.worker = new Worker(
      QUEUE_NAME,
      (job, token) => this.process(job, token),
      workerOptions(settings, this.workerRedis, deps.name, deps.concurrency),
    );
    this.worker.on('error', (err) => log.warn('worker queue error', { error: String(err) }));
    // Heard by the worker whose check moved it: a job whose worker stopped renewing its lock (dead, or stuck).
    this.worker.on('stalled', (id) => log.warn('job stalled: back in the queue', { jobId: id }));
    // Heard by the stuck worker once it runs again: the task's lock was gone or another worker's. The run is
    // lost (the manager logs `job lost` once it has stopped); an event heard late is caught by the stores'
    // compare-and-sets, which refuse the lost run's end and commit.
    this.worker.on('lockRenewalFailed', (ids) => {
      for (const id of ids) this.running.get(id)?.abort();
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(cancelChannel(this.settings.prefix));
    this.subscriber.on('message', (_channel: string, id: string) => {
      if (this.deps.manager.abortLocal(id)) this.deps.log.info('execution dismissed', { jobId: id });
    });
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat().catch(() => {}), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.worker.run().catch((err: unknown) => this.deps.log.error('worker stopped taking jobs', { error: String(err) }));
    await this.worker.waitUntilReady();
    this.deps.log.info('worker ready', { worker: this.deps.name, concurrency: this.deps.concurrency });
  }

  private async beat(): Promise<void> {
    const value = {
      name: this.deps.name,
      concurrency: this.deps.concurrency,
      threads: this.deps.threads,
      running: [...this.running.keys()],
      at: new Date().toISOString(),
    };
    await this.redis.set(heartbeatKey(this.settings.prefix, this.deps.name), JSON.stringify(value), 'PX', HEARTBEAT_MS * 3);
  }

  /** Set when the process stops gracefully: the jobs it runs go back to the queue (see {@link process}). */
  handingBack = false;

  private async process(job: Job, token?: string): Promise<unknown> {
    // The job starts when this worker takes it (BullMQ's processedOn, set as it moved the job to active):
    // reading its record and preparing its inputs are part of the run, not of the queue (issue 14).
    const takenAt = new Date(job.processedOn ?? Date.now());
    const task = job.data as QueuedTask;
    const registered = this.deps.registry.get(task.processID);
    if (!registered) throw new Error(`process '${task.processID}' is not configured on worker ${this.deps.name}`);
    const lost = new AbortController();
    this.running.set(task.id, lost);
    let last = 0;
    const progress = (percent: number, message?: string) => {
      const now = Date.now();
      if (now - last < SYNC_PROGRESS_MS || lost.signal.aborted) return;
      last = now;
      void job.updateProgress({ percent, ...(message !== undefined ? { message } : {}) }).catch(() => {});
    };
    try {
      const answer = await this.deps.manager.runQueued(task, registered, { progress, takenAt, lost: lost.signal });
      // Lost: the task is another worker's now. BullMQ moves a task it is told is waiting no further (no
      // completion, no failure written over the other run's), and this slot takes the next task.
      if (answer === 'lost' || lost.signal.aborted) throw new WaitingError();
      // Stopping gracefully (SIGTERM): a job the manager gave back waits in the queue again, for another
      // worker (BullMQ: moved back to wait while this worker still holds its lock).
      if (this.handingBack && task.mode === 'async' && (await this.deps.manager.isWaiting(task.id))) {
        await job.moveToWait(token);
        this.deps.log.info('job handed back to the queue', { jobId: task.id });
        throw new WaitingError();
      }
      return answer ?? null;
    } finally {
      if (this.running.get(task.id) === lost) this.running.delete(task.id);
    }
  }

  /** Stops taking tasks, lets the running ones end (the manager's close aborts them first), and disconnects. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.worker.close().catch(() => {});
    await this.redis.del(heartbeatKey(this.settings.prefix, this.deps.name)).catch(() => {});
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.workerRedis.quit().catch(() => this.workerRedis.disconnect());
  }
}
