import { Queue, QueueEvents, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { connectRedis, keyOf } from '../redis/connection.js';
import type { QueuedTask, RemoteExecution, SyncAnswer, WorkerBeat } from './remote.js';

/** The BullMQ queue of executions (keys `<prefix>:tasks:*`, beside the stores' `<prefix>:job:*`, `<prefix>:record:*`). */
export const QUEUE_NAME = 'tasks';

/** Pub/sub channel on which a dismiss reaches the worker running the job (its id is the message). */
export function cancelChannel(prefix: string): string {
  return keyOf(prefix, 'cancel');
}

/** How a queued execution is retried when its worker dies (BullMQ stalled jobs). */
export interface QueueSettings {
  connection: string;
  prefix: string;
  /** Runs of one execution at most: a worker killed mid-job gives it to another until then. */
  attempts: number;
  /** Seconds after which a dead worker's job is taken again (its lock expires; BullMQ's stalled check). */
  stalled_seconds: number;
}

/**
 * Options of a BullMQ Worker of ours (executions, parts): a dead worker's lock expires after
 * `stalled_seconds`; the stalled check then gives its task to another worker, at most attempts − 1 times.
 */
export function workerOptions(settings: QueueSettings, connection: Redis, name: string, concurrency: number): WorkerOptions {
  const lockMs = settings.stalled_seconds * 1000;
  return {
    connection,
    prefix: settings.prefix,
    concurrency,
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: Math.max(0, settings.attempts - 1),
    name,
  };
}

/**
 * The server's side of the `bullmq` manager: a BullMQ Queue to hand executions to workers, QueueEvents to
 * hear when a synchronous one ended (and its progress), a publisher for dismisses.
 */
export class BullmqExecution implements RemoteExecution {
  private readonly redis: Redis;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  /** QueueEvents blocks on its connection (XREAD BLOCK): one of its own. */
  private readonly eventsRedis: Redis;
  private readonly waiting = new Map<
    string,
    { resolve(a: SyncAnswer): void; reject(e: Error): void; progress(p: number, m?: string): void }
  >();

  constructor(
    private readonly settings: QueueSettings,
    log: Logger,
  ) {
    this.redis = connectRedis(settings.connection, log);
    this.queue = new Queue(QUEUE_NAME, { connection: this.redis, prefix: settings.prefix });
    this.eventsRedis = connectRedis(settings.connection, log);
    this.events = new QueueEvents(QUEUE_NAME, { connection: this.eventsRedis, prefix: settings.prefix });
    this.events.on('completed', ({ jobId, returnvalue }) => {
      const w = this.waiting.get(jobId);
      if (!w) return;
      const value = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as SyncAnswer;
      w.resolve(value);
    });
    this.events.on('failed', ({ jobId, failedReason }) => {
      const w = this.waiting.get(jobId);
      if (w) w.reject(new ApiError('unavailable', `the execution did not finish on a worker: ${failedReason}`));
      else for (const l of this.giveUp) l(jobId, failedReason);
    });
    this.events.on('progress', ({ jobId, data }) => {
      const p = data as { percent?: number; message?: string };
      if (typeof p?.percent === 'number') this.waiting.get(jobId)?.progress(p.percent, p.message);
    });
    this.events.on('error', (err) => log.warn('queue events error', { error: String(err) }));
    this.queue.on('error', (err) => log.warn('queue error', { error: String(err) }));
  }

  private readonly giveUp: Array<(id: string, reason: string) => void> = [];

  onGiveUp(listener: (id: string, reason: string) => void): void {
    this.giveUp.push(listener);
  }

  async open(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  private options(task: QueuedTask) {
    return {
      jobId: task.id,
      attempts: 1,
      // Finished tasks are kept a while (what BullMQ tells about them); the job itself lives in the job store.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    };
  }

  async enqueue(task: QueuedTask): Promise<void> {
    await this.queue.add(task.processID, task, this.options(task));
  }

  async runSync(
    task: QueuedTask,
    signal: AbortSignal | undefined,
    progress: (percent: number, message?: string) => void,
  ): Promise<SyncAnswer> {
    signal?.throwIfAborted();
    const answer = new Promise<SyncAnswer>((resolve, reject) => this.waiting.set(task.id, { resolve, reject, progress }));
    const onAbort = () => {
      void this.cancel(task.id);
      this.waiting.get(task.id)?.reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.queue.add(task.processID, task, this.options(task));
      return await answer;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.waiting.delete(task.id);
    }
  }

  async cancel(id: string): Promise<void> {
    // A waiting task is removed; an active one is locked by its worker (remove refuses), which aborts on the message.
    await this.queue.remove(id).catch(() => 0);
    await this.redis.publish(cancelChannel(this.settings.prefix), id);
  }

  async workers(): Promise<WorkerBeat[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', keyOf(this.settings.prefix, 'worker', '*'), 'COUNT', 100);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const beats = (await this.redis.mget(keys)).filter((v): v is string => !!v).map((v) => JSON.parse(v) as WorkerBeat);
    return beats.sort((a, b) => a.name.localeCompare(b.name));
  }

  async counts(): Promise<{ waiting: number; active: number }> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return { waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 };
  }

  async close(): Promise<void> {
    for (const w of this.waiting.values()) w.reject(new ApiError('unavailable', 'the server stopped'));
    await this.events.close().catch(() => {});
    await this.queue.close().catch(() => {});
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.eventsRedis.quit().catch(() => this.eventsRedis.disconnect());
  }
}
