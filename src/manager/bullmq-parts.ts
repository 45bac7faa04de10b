import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import { type Job, Queue, QueueEvents, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { connectRedis } from '../redis/connection.js';
import type { Storage } from '../storage/storage.js';
import type { WorkerPool } from '../workers/pool.js';
import { cancelChannel, type QueueSettings, workerOptions } from './bullmq-queue.js';
import { type PartRunner, type PartRunOptions, type PartTask, runPart } from './parts.js';

/** The BullMQ queue of parts of split executions (keys `<prefix>:parts:*`), beside the executions' `tasks`. */
export const PARTS_QUEUE = 'parts';

/** Progress of a part is sent at most this often. */
const PART_PROGRESS_MS = 250;

/** What travels on the parts queue: the argument serialized as V8 values (typed arrays, NaN nodata survive), base64. */
interface QueuedPart extends Omit<PartTask, 'args'> {
  parent: string;
  args: string;
}

const pack = (value: unknown): string => v8.serialize(value).toString('base64');
const unpack = (text: string): unknown => v8.deserialize(Buffer.from(text, 'base64'));

/** A part's return value as QueueEvents (a JSON text) or a fetched Job (parsed already) gives it. */
function resultOf(returnvalue: unknown): unknown {
  const packed = typeof returnvalue === 'string' && returnvalue.startsWith('"') ? JSON.parse(returnvalue) : returnvalue;
  return typeof packed === 'string' ? unpack(packed) : packed;
}

/**
 * How often a parent looks up the parts it still waits for. Their ends come through QueueEvents; this
 * is the safety net for an end that never arrives, so that a part already ended in Redis (or gone from it)
 * is never waited for. Twice in CI a parent waited 180 s for a part retaken after a kill -9; the cause is
 * not found yet, so a part still waited for after {@link PART_REPORT_CHECKS} checks is logged with its state.
 */
const PART_CHECK_MS = 5000;
/** Checks between two log lines about a part still waited for (30 s). */
const PART_REPORT_CHECKS = 6;

export interface SplitSettings extends QueueSettings {
  split_slabs: number;
  split_parts: number;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  progress(fraction: number): void;
}

/** Settles a completed part's waiter with its result, or rejects it when the result cannot be read (never left unsettled). */
function settleCompleted(waiter: Waiter, id: string, returnvalue: unknown): void {
  let value: unknown;
  try {
    value = resultOf(returnvalue);
  } catch (err) {
    waiter.reject(new Error(`part ${id} ended with a result that cannot be read: ${String(err)}`));
    return;
  }
  waiter.resolve(value);
}

/**
 * The `bullmq` manager's {@link PartRunner} (issue 14): a split execution running on a worker queues its
 * parts on their own queue, which every worker process serves with its {@link PartWorker} (its own
 * concurrency, so a parent waiting for its parts never holds the slots they need), hears their progress
 * and ends through QueueEvents, and cancels them through the same channel as dismisses.
 */
export class BullmqParts implements PartRunner {
  readonly splitSlabs: number;
  readonly parts: number;
  private readonly redis: Redis;
  private readonly eventsRedis: Redis;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly waiting = new Map<string, Waiter>();

  constructor(
    private readonly settings: SplitSettings,
    private readonly log: Logger,
  ) {
    this.splitSlabs = settings.split_slabs;
    this.parts = settings.split_parts;
    this.redis = connectRedis(settings.connection, log);
    this.eventsRedis = connectRedis(settings.connection, log);
    this.queue = new Queue(PARTS_QUEUE, { connection: this.redis, prefix: settings.prefix });
    this.events = new QueueEvents(PARTS_QUEUE, { connection: this.eventsRedis, prefix: settings.prefix });
    this.events.on('completed', ({ jobId, returnvalue }) => {
      const waiter = this.waiting.get(jobId);
      if (waiter) settleCompleted(waiter, jobId, returnvalue);
    });
    this.events.on('failed', ({ jobId, failedReason }) => this.waiting.get(jobId)?.reject(new Error(failedReason)));
    this.events.on('progress', ({ jobId, data }) => {
      if (typeof data === 'number') this.waiting.get(jobId)?.progress(data);
    });
    this.events.on('error', (err) => log.warn('parts events error', { error: String(err) }));
    this.queue.on('error', (err) => log.warn('parts queue error', { error: String(err) }));
  }

  async open(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  async run<R>(parentId: string, tasks: PartTask[], options: PartRunOptions<R>): Promise<R[]> {
    options.signal.throwIfAborted();
    // A run of its own: parts of an earlier run of the same job (its worker died) are not mistaken for these.
    const run = randomUUID().slice(0, 8);
    const ids = tasks.map((_, i) => `${parentId}-${run}-part-${i}`);
    const total = tasks.reduce((n, t) => n + t.weight, 0) || 1;
    const fractions = tasks.map(() => 0);
    // An end can be heard twice (its event, then the safety check): it is told once.
    const told = tasks.map(() => false);
    const report = () => options.progress(tasks.reduce((n, t, i) => n + t.weight * fractions[i], 0) / total);
    const settled = ids.map(
      (id, i) =>
        new Promise<R>((resolve, reject) =>
          this.waiting.set(id, {
            resolve: (v) => {
              fractions[i] = 1;
              report();
              if (!told[i]) options.ended?.(i, v as R);
              told[i] = true;
              resolve(v as R);
            },
            reject,
            progress: (f) => {
              fractions[i] = Math.min(1, Math.max(0, f));
              report();
            },
          }),
        ),
    );
    let cancelling: Promise<void> | undefined;
    const cancelAll = () => {
      cancelling ??= this.cancel(ids);
      return cancelling;
    };
    const onAbort = () => void cancelAll();
    options.signal.addEventListener('abort', onAbort, { once: true });
    let check: NodeJS.Timeout | undefined;
    try {
      await this.queue.addBulk(
        tasks.map((t, i) => ({
          name: t.fn,
          data: { module: t.module, fn: t.fn, weight: t.weight, args: pack(t.args), parent: parentId } satisfies QueuedPart,
          opts: { jobId: ids[i], attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
        })),
      );
      // A dismiss heard while the parts were being queued cancelled none of them (none existed yet): again.
      if (options.signal.aborted) cancelling = Promise.all([cancelling, this.cancel(ids)]).then(() => {});
      let checks = 0;
      check = setInterval(() => void this.checkEnded(parentId, ids, ++checks % PART_REPORT_CHECKS === 0), PART_CHECK_MS);
      check.unref();
      // The first failure cancels the rest; every part is waited for, so none writes after we return.
      const outcomes = await Promise.allSettled(
        settled.map((p) =>
          p.catch((err: unknown) => {
            void cancelAll();
            throw err;
          }),
        ),
      );
      options.signal.throwIfAborted();
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
      return outcomes.map((o) => (o as PromiseFulfilledResult<R>).value);
    } finally {
      clearInterval(check);
      options.signal.removeEventListener('abort', onAbort);
      await cancelling;
      for (const id of ids) this.waiting.delete(id);
    }
  }

  /**
   * Settles the parts among `ids` still waited for whose job has ended in Redis (see {@link PART_CHECK_MS}),
   * or is gone from it (nothing would ever end it: the job fails, naming the part, instead of waiting forever).
   */
  private async checkEnded(parentId: string, ids: string[], report: boolean): Promise<void> {
    for (const id of ids) {
      const waiter = this.waiting.get(id);
      if (!waiter) continue;
      let job: Job | undefined, state: string | undefined;
      try {
        job = await this.queue.getJob(id);
        state = job ? await job.getState() : 'gone';
      } catch {
        continue; // Redis unreachable for now: QueueEvents or the next check settles it.
      }
      if (state !== 'completed' && state !== 'failed' && state !== 'gone') {
        if (report) this.log.info('part still waited for', { jobId: parentId, part: id, state, taken: job?.attemptsStarted });
        continue;
      }
      // Settled once: later checks and a late event find nothing to settle.
      this.waiting.delete(id);
      if (state === 'gone') waiter.reject(new Error(`part ${id} is no longer in the queue`));
      else if (state === 'failed') waiter.reject(new Error(job!.failedReason));
      else settleCompleted(waiter, id, job!.returnvalue);
    }
  }

  async stopEarlier(parentId: string, signal: AbortSignal): Promise<void> {
    // Until none is left: a part of a dead worker is active until BullMQ's stalled check moves it back to wait.
    const deadline = Date.now() + Math.max(60_000, 4 * this.settings.stalled_seconds * 1000);
    for (let round = 0; Date.now() < deadline; round++) {
      const left = (await this.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).filter(
        (j) => j && (j.data as QueuedPart).parent === parentId,
      );
      if (left.length === 0) return;
      if (round === 0 || round % 10 === 0) await this.cancel(left.map((j) => j.id!));
      signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Removes the parts still waiting (settled here as cancelled) and tells the workers to abort the running ones. */
  private async cancel(ids: string[]): Promise<void> {
    for (const id of ids) {
      const removed = await this.queue.remove(id).catch(() => 0);
      if (removed) this.waiting.get(id)?.reject(new Error('cancelled before it started'));
    }
    await Promise.all(ids.map((id) => this.redis.publish(cancelChannel(this.settings.prefix), id)));
  }

  async close(): Promise<void> {
    for (const w of this.waiting.values()) w.reject(new Error('the worker stopped'));
    await this.events.close().catch(() => {});
    await this.queue.close().catch(() => {});
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.eventsRedis.quit().catch(() => this.eventsRedis.disconnect());
  }
}

/**
 * A worker process's side of the parts queue: takes parts of any split execution (at most `concurrency`
 * at once) and runs them with this process's storage and thread pool; a cancel on the dismiss channel
 * aborts the part's signal. A worker killed mid-part: BullMQ's stalled check gives the part to another
 * (parts are idempotent: a retried subtree rewrites its own slabs). A worker stalled past a part's lock hears
 * it once it runs again (`lockRenewalFailed`): the part is lost, aborted, and ends without a result (the
 * queue's copy is the other worker's to end).
 */
export class PartWorker {
  private readonly worker: Worker;
  private readonly workerRedis: Redis;
  private readonly subscriber: Redis;
  private readonly running = new Map<string, AbortController>();
  /** Parts whose lock this worker lost (see the class comment), until their run has stopped. */
  private readonly lost = new Set<AbortController>();

  constructor(
    private readonly settings: QueueSettings,
    private readonly deps: { storage: Storage; pool: WorkerPool; log: Logger; name: string; concurrency: number },
  ) {
    this.workerRedis = connectRedis(settings.connection, deps.log);
    this.subscriber = connectRedis(settings.connection, deps.log);
    this.worker = new Worker(
      PARTS_QUEUE,
      (job, token) => this.process(job, token),
      workerOptions(settings, this.workerRedis, deps.name, deps.concurrency),
    );
    this.worker.on('error', (err) => deps.log.warn('parts worker error', { error: String(err) }));
    // Heard by the worker whose check moved it: a part whose worker stopped renewing its lock (dead, or stuck).
    this.worker.on('stalled', (id) => deps.log.warn('part stalled: back in the queue', { part: id }));
    this.worker.on('lockRenewalFailed', (ids) => {
      for (const id of ids) {
        const controller = this.running.get(id);
        if (!controller) continue;
        // Lost even when a cancel aborted it first: whatever it ends with is not this worker's to tell BullMQ.
        this.lost.add(controller);
        controller.abort(new ApiError('job-lost', 'another worker took this part: this one stalled longer than its queue lock lasts'));
      }
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(cancelChannel(this.settings.prefix));
    this.subscriber.on('message', (_channel: string, id: string) => {
      const controller = this.running.get(id);
      if (controller) {
        controller.abort(new Error('the split execution was cancelled'));
        this.deps.log.info('part cancelled', { part: id });
      }
    });
    this.worker.run().catch((err: unknown) => this.deps.log.error('parts worker stopped', { error: String(err) }));
    await this.worker.waitUntilReady();
  }

  private closing = false;

  private async process(job: Job, token?: string): Promise<unknown> {
    const part = job.data as QueuedPart;
    const controller = new AbortController();
    this.running.set(job.id!, controller);
    let last = 0;
    const log = this.deps.log.child({ part: job.id, parent: part.parent });
    log.info('part started', { fn: part.fn });
    let ended: { result: unknown } | { error: unknown };
    try {
      const result = await runPart(
        { ...part, args: unpack(part.args) },
        {
          storage: this.deps.storage,
          pool: this.deps.pool,
          signal: controller.signal,
          log,
          progress: (fraction) => {
            const now = Date.now();
            if (now - last < PART_PROGRESS_MS || controller.signal.aborted) return;
            last = now;
            void job.updateProgress(fraction).catch(() => {});
          },
        },
      );
      ended = { result };
    } catch (error) {
      ended = { error };
    }
    try {
      // Lost: the part is another worker's now; BullMQ leaves a task it is told is waiting alone (no result,
      // no failure written over that worker's run of it). Asked of Redis too: a part that ran on while this
      // worker resumed may end (done, or cancelled by its parent's new run) before the event is heard.
      if (this.lost.has(controller) || !(await this.stillLocked(job, token))) {
        log.warn('part lost: lock taken by another worker');
        throw new WaitingError();
      }
      if ('result' in ended) {
        log.info('part finished');
        return pack(ended.result ?? null);
      }
      // This worker stops (SIGTERM): the part goes back to the queue for another worker (parts are
      // idempotent), its parent still waiting for it.
      if (this.closing) {
        await job.moveToWait(token);
        log.info('part handed back to the queue');
        throw new WaitingError();
      }
      throw ended.error;
    } finally {
      this.lost.delete(controller);
      if (this.running.get(job.id!) === controller) this.running.delete(job.id!);
    }
  }

  /**
   * True while this worker holds the part's lock (renewed on the way, as BullMQ's own renewal does). A Redis
   * error says yes: BullMQ's end of the part checks the lock again, and refuses a lost one.
   */
  private async stillLocked(job: Job, token: string | undefined): Promise<boolean> {
    if (!token) return true;
    const held = await job.extendLock(token, this.settings.stalled_seconds * 1000).catch(() => 1);
    return held === 1;
  }

  /** Stops taking parts; the running ones are aborted and go back to the queue for other workers. */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.running.values()) c.abort(new Error('the worker stopped'));
    await this.worker.close().catch(() => {});
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
    await this.workerRedis.quit().catch(() => this.workerRedis.disconnect());
  }
}
