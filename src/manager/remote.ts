import type { Problem } from '../errors.js';
import type { FetchedInput } from './fetched-inputs.js';

/** What a worker process says of itself every few seconds (its heartbeat in Redis). */
export interface WorkerBeat {
  /** `host:pid`, as in the jobs it runs. */
  name: string;
  concurrency: number;
  threads: number;
  /** Ids of the executions it runs now. */
  running: string[];
  /** When it said so (ISO 8601). */
  at: string;
}

/** One execution handed to a worker process through the queue (issue 14). */
export interface QueuedTask {
  /** The job id (async) or the execution id (sync). */
  id: string;
  processID: string;
  /** The execute request body as the client sent it: the worker parses it again against the same description. */
  body: unknown;
  mode: 'async' | 'sync';
  /** http(s) inputs the server fetched while validating, kept in the shared storage (fetched-inputs.ts). */
  fetched?: Record<string, FetchedInput>;
}

/** Where a worker left one output of a synchronous execution (storage key, read then removed by the server unless asked by reference). */
export interface SyncOutputEntry {
  key: string;
  mediaType: string;
  json: boolean;
  binary: boolean;
}

/** What a worker answers for a synchronous execution: where its outputs are, or the problem it failed with. */
export type SyncAnswer = { outputs: Record<string, SyncOutputEntry> } | { problem: Problem };

/**
 * The server's side of remote execution (the `bullmq` manager): the JobManager validates, stores and
 * hands the execution over; this carries it to a worker and back. Implemented on BullMQ in
 * src/manager/bullmq-queue.ts.
 */
export interface RemoteExecution {
  /** Queues an async job (already stored, `accepted`). */
  enqueue(task: QueuedTask): Promise<void>;
  /** Runs a synchronous execution on a worker and waits for its answer; `signal` cancels it (the client went away). */
  runSync(task: QueuedTask, signal: AbortSignal | undefined, progress: (percent: number, message?: string) => void): Promise<SyncAnswer>;
  /** Dismiss: removes a queued job, and tells the worker running it to abort (its AbortSignal). */
  cancel(id: string): Promise<void>;
  /** Calls `listener` when the queue gave up on an async job (its workers died `attempts` times, or none could run it). */
  onGiveUp(listener: (id: string, reason: string) => void): void;
  /** The workers alive now (their heartbeats). */
  workers(): Promise<WorkerBeat[]>;
  /** Jobs waiting for a worker, and running ones. */
  counts(): Promise<{ waiting: number; active: number }>;
  close(): Promise<void>;
}
