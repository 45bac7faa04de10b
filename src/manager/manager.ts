import type { CatalogItemStore } from '../catalog/item-store.js';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { ApiError, causeText, isJobLost, logServerError, ProblemError, toProblem, type Problem } from '../errors.js';
import type { Config } from '../config.js';
import type { Datastore } from '../records/stored-data.js';
import type { Logger } from '../log.js';
import { type InputValue, parseExecuteRequest, type ParsedExecute } from '../process/execute-request.js';
import { decideExecutionMode } from '../process/execution-mode.js';
import { checkHrefs, resolveInputs, type HrefContent, type ResolveOptions } from '../process/inputs.js';
import { fetchedInputsPrefix, keepFetched, prefetchedFrom } from './fetched-inputs.js';
import type { RegisteredProcess } from '../process/registry.js';
import type { ExecutionOutcome, PrepareContext, ProcessContext } from '../process/types.js';
import { STATUS_MEMBERS, type StatusMembers } from '../process/types.js';
import { outboundRefusal } from '../security/hosts.js';
import { guardedFetch } from '../security/outbound-fetch.js';
import type { Storage } from '../storage/storage.js';
import type { Uploads } from '../uploads/uploads.js';
import type { WorkerPool } from '../workers/pool.js';
import { execFolderPrefix } from './exec-folders.js';
import { FINISHED, type JobRecord, type JobStatus, type ResultEntry } from './job.js';
import { normalizeOutput, type OutputData } from './outputs.js';
import type { JobFilter, JobPage, JobStore } from './store.js';
import type { QueuedTask, RemoteExecution, SyncAnswer, SyncOutputEntry, WorkerBeat } from './remote.js';

/**
 * How the API layer shows jobs to subscribers (callback bodies), given to the manager when it is
 * built: the manager knows no URL and no HTTP document shape.
 */
export interface JobLinks {
  /** The body POSTed to `subscriber.inProgressUri`: the job's status document. */
  statusDocument(job: JobRecord): unknown;
  /** The body POSTed to `subscriber.successUri`: the results document of a successful job. */
  resultsDocument(job: JobRecord, outputs: Record<string, OutputData>): unknown;
}

export interface ManagerDeps {
  store: JobStore;
  /** The default storage: job results live there. */
  storage: Storage;
  /** Every configured storage by name (issue 13); default: the default storage alone. */
  storages?: ReadonlyMap<string, Storage>;
  datastore: Datastore;
  catalogItems: CatalogItemStore;
  uploads: Uploads;
  pool: WorkerPool;
  log: Logger;
  config: Config;
  links: JobLinks;
  /**
   * Set on a server of the `bullmq` manager (issue 14): executions are validated and stored here, then run
   * by worker processes ({@link JobManager.runQueued}); this carries them there and back.
   */
  remote?: RemoteExecution;
  /** Set in a worker process: its name, recorded in the jobs it runs (GET /jobs shows it). */
  workerName?: string;
  /** Set in a worker process: runs the parts of executions it cuts on any worker (issue 14). */
  parts?: import('./parts.js').PartRunner;
}

/** How a caller (an HTTP request, the command line) runs an execution. */
export interface ExecuteOptions {
  /** The `Prefer` header: the mode is decided by {@link decideExecutionMode}. */
  prefer?: string;
  /** Aborts what the caller started: input downloads, and a synchronous run (the client went away). */
  signal?: AbortSignal;
  /** Progress of a synchronous run (the command line's bar); async jobs report in their status. */
  progress?: ProcessContext['progress'];
  /** Warnings of a synchronous run; async jobs keep them in their status. */
  warn?: ProcessContext['warn'];
}

/** What the client asked about outputs: the shape of the results (execute.yaml `outputs`, `response`). */
export type ResultsRequest = JobRecord['request'];

/** What {@link JobManager.execute} did: ran the process (sync) or created a job (async). */
export type Execution =
  | { mode: 'sync'; preferenceApplied?: string; executionId: string; request: ResultsRequest; outputs: Record<string, OutputData> }
  | { mode: 'async'; preferenceApplied?: string; job: JobRecord };

/** A finished job's results: its outputs, or the problem it failed with. */
export type JobResults =
  | { status: 'successful'; job: JobRecord; outputs: Record<string, OutputData> }
  | { status: 'failed'; job: JobRecord; problem: Problem };

/** One execution, from a successful `prepare` to its `release`. */
interface Run {
  /** The job id (async) or the execution id (sync), known to `prepare`. */
  id: string;
  process: RegisteredProcess;
  parsed: ParsedExecute;
  /** Inputs resolved (hrefs fetched, base64 written to `tmpDir`). */
  inputs: Record<string, unknown>;
  /** Temp folder of the execution; removed when it ends. */
  tmpDir: string;
  /** What `prepare` returned. */
  plan: unknown;
  /** True when the process has `prepare`, so `release` is owed. */
  prepared: boolean;
  /** Set when the run ended: `release` runs once. */
  ended: boolean;
}

interface LiveJob {
  controller: AbortController;
  record: JobRecord;
  /**
   * What identifies this run in the stored job (its `started`, and its `worker` on a worker process): every
   * write of the run is conditional on it, so that a run whose job another worker took (issue 14) writes
   * nothing over the new run's state.
   */
  owner: Partial<JobRecord>;
  lastPersist: number;
  persistTimer?: NodeJS.Timeout;
  lastCallback: number;
  dismissed: boolean;
  /** Set when the run lost its job to another worker (see {@link JobManager.runQueued}): it writes nothing more. */
  lost: boolean;
}

/** The warning a run that lost its job logs, once, when it has stopped (tests and operators look for it). */
export const JOB_LOST = 'job lost: lock taken by another worker';

/** The reason a lost run's AbortSignal carries: its pool tasks stop; its process undoes nothing (errors.ts isJobLost). */
function lostReason(): ApiError {
  return new ApiError('job-lost', 'another worker took this job: this one stalled longer than its queue lock lasts');
}

/** What a worker process hears of a queued run: its progress, when it was taken, and its loss. */
export interface QueuedRunOptions {
  /** Progress of a synchronous execution, for the waiting server. */
  progress?: (percent: number, message?: string) => void;
  /** When the worker took the task off the queue: the job's start (its preparation is part of the run). */
  takenAt?: Date;
  /**
   * Aborted when the worker lost the task's queue lock (BullMQ `lockRenewalFailed`: it stalled longer than
   * the lock lasts, and the queue gave the task to another worker): the run is aborted and writes nothing.
   */
  lost?: AbortSignal;
}

/** Progress is persisted at most this often; GET /jobs/{id} reads the live value in between. */
const PERSIST_INTERVAL_MS = 500;
const CALLBACK_INTERVAL_MS = 1000;
/** How often the final state of a job is written again when the store refuses it (disk full). */
const FINISH_RETRY_MS = 1000;

const noop = () => {};

/** The extra status members a process reported, refusing names statusInfo.yaml already has (a plugin bug). */
function checkStatusMembers(members: StatusMembers): StatusMembers {
  for (const k of Object.keys(members)) if (STATUS_MEMBERS.has(k)) throw new Error(`status member '${k}' is reserved by statusInfo.yaml`);
  return structuredClone(members);
}

/**
 * Orchestrates executions (DESIGN §5): one entry, {@link execute}, for every caller (HTTP and the
 * command line): the request is parsed, its hrefs and subscriber checked, its inputs resolved, the
 * process prepared once; then it runs at once (sync) or as a job behind a queue bounded by
 * `max_running_jobs` (async), with real progress, dismiss through AbortSignal, results in storage,
 * subscriber callbacks and crash recovery. The process's `release` runs exactly once per successful
 * `prepare`, however the run ends. Persistence is the JobStore's business; HTTP is the API's.
 */
/**
 * A running job as stored, with the progress it made since the last persist. Only progress fields:
 * its end (status, results) shows once the store wrote it, so a client never sees an end that a failed
 * write (a full disk) would undo.
 */
function withLiveProgress(stored: JobRecord, live: JobRecord): JobRecord {
  const { progress, message, updated, warnings, statusMembers } = live;
  return { ...stored, progress, message, updated, ...(warnings ? { warnings } : {}), ...(statusMembers ? { statusMembers } : {}) };
}

export class JobManager {
  private readonly live = new Map<string, LiveJob>();
  private readonly queue: Run[] = [];
  private running = 0;
  private closed = false;
  private readonly settled = new Set<Promise<void>>();
  private readonly syncRuns = new Set<AbortController>();
  /** Synchronous executions run for a server (worker side), by execution id, to cancel them. */
  private readonly remoteSync = new Map<string, AbortController>();
  /**
   * bullmq server side: jobs queued for a worker whose preparation (reserved name, read-locked uploads and
   * stored data) this server holds until a worker took them — the worker's preparation takes the name over
   * (RecordLocks.forRun) — or they ended. Without it a queued job's upload could be deleted under it.
   */
  private readonly waiting = new Map<string, Run>();
  private waitingTimer?: NodeJS.Timeout;

  constructor(private readonly deps: ManagerDeps) {
    deps.remote?.onGiveUp((id, reason) => void this.failGivenUp(id, reason));
  }

  /** An async job the queue gave up on (issue 14: its workers died `attempts` times): failed, saying why. */
  private async failGivenUp(id: string, reason: string): Promise<void> {
    const job = await this.deps.store.get(id).catch(() => undefined);
    if (!job || FINISHED.includes(job.status)) return;
    const detail = `the job did not finish: ${reason} (its worker stopped during each of the ${this.deps.config.manager.attempts} attempts)`;
    const now = new Date().toISOString();
    await this.deps.store
      .update(id, {
        status: 'failed',
        message: detail,
        updated: now,
        finished: now,
        ...(job.started ? {} : { started: now }),
        error: new ApiError('job-failed', detail).toProblem(`/jobs/${id}`),
      })
      .catch(() => {});
    this.deps.log.warn('job failed in the queue', { jobId: id, reason });
  }

  /** Marks jobs left accepted/running by a previous process as failed, saying so (DESIGN §5). */
  async recover(): Promise<number> {
    // With workers (issue 14) a job left running is theirs: BullMQ gives a dead worker's job to another.
    if (this.deps.remote) return 0;
    const orphans = await this.deps.store.findByStatus(['accepted', 'running']);
    const now = new Date().toISOString();
    for (const job of orphans) {
      const detail = `the server stopped while this job was ${job.status}; it did not finish. Submit it again.`;
      await this.deps.store.update(job.jobID, {
        status: 'failed',
        message: detail,
        finished: now,
        updated: now,
        ...(job.started ? {} : { started: now }),
        error: new ApiError('job-failed', detail).toProblem(),
      });
      this.deps.log.warn('job failed at start-up', { jobId: job.jobID, was: job.status });
    }
    return orphans.length;
  }

  /**
   * Executes a process for a request body: parse and validate (defaults applied), check hrefs and
   * subscriber, resolve inputs, `prepare` once, then run it now (sync, no job is created:
   * ogcapi-processes.md §0.1) or create a job stored before this resolves (async). Bad input
   * rejects with an ApiError before anything runs.
   */
  async execute(process: RegisteredProcess, body: unknown, options: ExecuteOptions = {}): Promise<Execution> {
    if (this.closed) throw new ApiError('unavailable', 'the server is stopping; submit again once it is back');
    const parsed = parseExecuteRequest(process.description, body);
    const decision = decideExecutionMode(process.description.jobControlOptions, options.prefer);
    const applied = decision.preferenceApplied ? { preferenceApplied: decision.preferenceApplied } : {};
    await this.checkOutbound(parsed);
    // With worker processes, what the server downloads to validate is kept for the worker (fetched-inputs.ts).
    const downloads = new Map<string, HrefContent>();
    const run = await this.prepare(
      process,
      parsed,
      options.signal,
      undefined,
      this.deps.remote ? { downloaded: (l, d) => downloads.set(l, d) } : {},
    );
    if (this.deps.remote) return { ...(await this.handOver(run, body, decision.mode, options, downloads)), ...applied };
    if (decision.mode === 'async') {
      try {
        return { mode: 'async', job: await this.submit(run), ...applied };
      } catch (err) {
        await this.end(run, 'failed');
        throw err;
      }
    }
    return { mode: 'sync', ...(await this.runSync(run, options)), ...applied };
  }

  /** Checks that need no work: hrefs allowed, subscriber hosts allowed (DESIGN §8). */
  private async checkOutbound(parsed: ParsedExecute): Promise<void> {
    await checkHrefs(parsed, { security: this.deps.config.security });
    for (const [key, uri] of Object.entries(parsed.subscriber ?? {})) {
      const refusal = uri ? await outboundRefusal(uri, this.deps.config.security) : undefined;
      if (refusal) throw new ApiError('invalid-parameter', `subscriber.${key} refused: ${refusal}`, { parameter: `subscriber.${key}` });
    }
  }

  private settings(): ProcessContext['settings'] {
    const limits = this.deps.config.server.limits;
    return {
      maxPixels: limits.max_pixels,
      tmsFolders: this.deps.config.tms_folders ?? [],
      maxOutputBytes: limits.max_output_bytes,
      minFreeBytes: limits.min_free_bytes,
    };
  }

  private prepareContext(
    process: RegisteredProcess,
    parsed: ParsedExecute,
    id: string,
    tmpDir: string,
    signal: AbortSignal,
    log: Logger,
  ): PrepareContext {
    const defaultStorage = this.deps.config.default_storage ?? 'default';
    const storages = this.deps.storages ?? new Map([[defaultStorage, this.deps.storage]]);
    // The storage input was checked against the configured names (the registry's enum), default the default one.
    const chosen = parsed.inputs.storage as InputValue | undefined;
    const storageName =
      chosen?.kind === 'value' && typeof chosen.value === 'string' && storages.has(chosen.value) ? chosen.value : defaultStorage;
    return {
      jobId: id,
      signal,
      storage: storages.get(storageName) ?? this.deps.storage,
      storageName,
      storages,
      defaultStorage,
      datastore: this.deps.datastore.forRun(id),
      catalogItems: this.deps.catalogItems,
      uploads: this.deps.uploads,
      pool: this.deps.pool,
      // Part workers write on the default storage: a product on another storage is made in one run.
      ...(this.deps.parts && storageName === defaultStorage ? { parts: this.deps.parts } : {}),
      log,
      options: process.options,
      outputs: Object.keys(parsed.outputs),
      defaulted: parsed.defaulted,
      tmpDir,
      settings: this.settings(),
    };
  }

  /**
   * Resolves the inputs (hrefs fetched, base64 written to a temp folder) and prepares the process
   * (its checks and reservations), so that what can be known before any work is a 400 (DESIGN §8).
   * The id is assigned here: `prepare` may name what it reserves after it.
   */
  private async prepare(
    process: RegisteredProcess,
    parsed: ParsedExecute,
    signal?: AbortSignal,
    id: string = randomUUID(),
    hrefs: Pick<ResolveOptions, 'downloaded' | 'prefetched'> = {},
  ): Promise<Run> {
    const tmpDir = await fs.mkdtemp(execFolderPrefix());
    try {
      const inputs = await resolveInputs(process.description, parsed, {
        security: this.deps.config.security,
        hrefMaxBytes: this.deps.config.server.limits.href_max_bytes,
        tmpDir,
        signal,
        ...hrefs,
      });
      const ctx = this.prepareContext(
        process,
        parsed,
        id,
        tmpDir,
        signal ?? new AbortController().signal,
        this.deps.log.child({ jobId: id, processID: process.description.id }),
      );
      const plan = await process.prepare?.(inputs, ctx);
      return { id, process, parsed, inputs, tmpDir, plan, prepared: !!process.prepare, ended: false };
    } catch (err) {
      await fs.rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Ends a run exactly once: `release(plan, outcome)` (a failure there is logged), temp folder removed. */
  private async end(run: Run, outcome: ExecutionOutcome): Promise<void> {
    if (run.ended) return;
    run.ended = true;
    if (run.prepared && run.process.release) {
      try {
        await run.process.release(run.plan, outcome);
      } catch (err) {
        this.deps.log.error('release failed', {
          jobId: run.id,
          processID: run.process.description.id,
          outcome,
          error: err instanceof Error ? err.stack : String(err),
        });
      }
    }
    await fs.rm(run.tmpDir, { recursive: true, force: true }).catch(() => {});
  }

  /** Runs a synchronous execution: no job is created (ogcapi-processes.md §0.1, Permission 7 not used). */
  private async runSync(
    run: Run,
    options: ExecuteOptions,
  ): Promise<{ executionId: string; request: ResultsRequest; outputs: Record<string, OutputData> }> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    this.syncRuns.add(controller);
    let outcome: ExecutionOutcome = 'failed';
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    this.settled.add(settled);
    try {
      const log = this.deps.log.child({ executionId: run.id, processID: run.process.description.id });
      const outputs = await this.runExecution(run, controller.signal, options.progress ?? noop, options.warn ?? noop, noop, log);
      // References of a sync execution are kept in storage and served under /outputs/.
      // Only outputs both produced and asked for (an output made but not asked for has no entry).
      const refs = Object.keys(outputs).filter((id) => run.parsed.outputs[id]?.transmissionMode === 'reference');
      if (refs.length) {
        const manifest: Record<string, { mediaType: string }> = {};
        for (const id of refs) {
          await this.deps.storage.write(`outputs/${run.id}/${id}`, outputs[id].bytes);
          manifest[id] = { mediaType: outputs[id].mediaType };
        }
        await this.deps.storage.write(`outputs/${run.id}/manifest.json`, JSON.stringify(manifest));
      }
      outcome = 'successful';
      return { executionId: run.id, request: { outputs: run.parsed.outputs, response: run.parsed.response }, outputs };
    } catch (err) {
      if (controller.signal.aborted && !this.closed) outcome = isJobLost(controller.signal.reason) ? 'handed-over' : 'dismissed';
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.syncRuns.delete(controller);
      await this.end(run, outcome);
      this.settled.delete(settled);
      done();
    }
  }

  /**
   * Creates an async job and queues it. The job joins the queue only once the store accepted it,
   * so a refused write (a full disk: 507) leaves no job behind.
   */
  private async submit(run: Run): Promise<JobRecord> {
    const now = new Date().toISOString();
    const { parsed } = run;
    const job: JobRecord = {
      jobID: run.id,
      processID: run.process.description.id,
      type: 'process',
      status: 'accepted',
      message: 'accepted, waiting for a free slot',
      progress: 0,
      created: now,
      updated: now,
      request: { outputs: parsed.outputs, response: parsed.response, ...(parsed.subscriber ? { subscriber: parsed.subscriber } : {}) },
    };
    await this.deps.store.create(job);
    this.deps.log.info('job accepted', { jobId: job.jobID, processID: job.processID });
    this.queue.push(run);
    this.pump();
    return job;
  }

  /**
   * The `bullmq` manager's server side (issue 14): the request was validated and prepared here (a 400
   * before any job, as in the embedded manager); the preparation is held until a worker took the job (or
   * the sync answer came) and a worker prepares again from the same body (its inputs resolved where it runs). An async job is stored
   * `accepted` before it is queued (a failed queueing fails it, saying so); a sync execution waits for
   * the worker's answer, its outputs read from the shared storage.
   */
  private async handOver(
    run: Run,
    body: unknown,
    mode: 'sync' | 'async',
    options: ExecuteOptions,
    downloads: ReadonlyMap<string, HrefContent>,
  ): Promise<
    { mode: 'sync'; executionId: string; request: ResultsRequest; outputs: Record<string, OutputData> } | { mode: 'async'; job: JobRecord }
  > {
    const remote = this.deps.remote!;
    let fetched: QueuedTask['fetched'];
    try {
      fetched = await keepFetched(this.deps.storage, run.id, downloads);
    } catch (err) {
      await this.end(run, 'failed');
      await this.deps.storage.deletePrefix(fetchedInputsPrefix(run.id)).catch(() => {});
      throw err;
    }
    const task: QueuedTask = { id: run.id, processID: run.process.description.id, body, mode, ...(fetched ? { fetched } : {}) };
    if (mode === 'async') {
      const { parsed } = run;
      const now = new Date().toISOString();
      const job: JobRecord = {
        jobID: run.id,
        processID: task.processID,
        type: 'process',
        status: 'accepted',
        message: 'accepted, waiting for a worker',
        progress: 0,
        created: now,
        updated: now,
        request: { outputs: parsed.outputs, response: parsed.response, ...(parsed.subscriber ? { subscriber: parsed.subscriber } : {}) },
      };
      await this.deps.store.create(job);
      try {
        await remote.enqueue(task);
        this.holdUntilTaken(run);
      } catch (err) {
        await this.end(run, 'failed');
        if (fetched) await this.deps.storage.deletePrefix(fetchedInputsPrefix(run.id)).catch(() => {});
        const detail = 'the job could not be queued for a worker; submit it again';
        await this.deps.store
          .update(job.jobID, {
            status: 'failed',
            message: detail,
            finished: now,
            updated: now,
            error: new ApiError('unavailable', detail).toProblem(),
          })
          .catch(() => {});
        throw err;
      }
      this.deps.log.info('job queued', { jobId: job.jobID, processID: job.processID });
      return { mode: 'async', job };
    }
    const answer = await remote.runSync(task, options.signal, options.progress ?? noop).finally(() => this.end(run, 'handed-over'));
    if ('problem' in answer) throw new ProblemError(answer.problem);
    const outputs: Record<string, OutputData> = {};
    for (const [id, o] of Object.entries(answer.outputs)) {
      outputs[id] = { bytes: await this.deps.storage.read(o.key), mediaType: o.mediaType, json: o.json, binary: o.binary };
      if (run.parsed.outputs[id]?.transmissionMode !== 'reference') await this.deps.storage.delete(o.key).catch(() => {});
    }
    return { mode: 'sync', executionId: run.id, request: { outputs: run.parsed.outputs, response: run.parsed.response }, outputs };
  }

  /** Keeps a queued job's preparation until its stored status leaves `accepted` (polled each second). */
  private holdUntilTaken(run: Run): void {
    this.waiting.set(run.id, run);
    this.waitingTimer ??= setInterval(() => void this.releaseTaken(), 1000);
    this.waitingTimer.unref();
  }

  private async releaseTaken(): Promise<void> {
    for (const [id, run] of this.waiting) {
      const job = await this.deps.store.get(id).catch(() => 'unknown' as const);
      if (job === 'unknown' || job?.status === 'accepted') continue; // Redis away: held until it answers
      this.waiting.delete(id);
      await this.end(run, 'handed-over');
    }
    if (this.waiting.size === 0 && this.waitingTimer) {
      clearInterval(this.waitingTimer);
      this.waitingTimer = undefined;
    }
  }

  /** True when the job is stored `accepted` (never run, or handed back by a stopping worker). */
  async isWaiting(id: string): Promise<boolean> {
    return (await this.deps.store.get(id))?.status === 'accepted';
  }

  /**
   * Runs a queued execution in a worker process (issue 14): parses the body again, prepares and runs it
   * through the same code as the embedded manager (progress, warnings, results by value and reference
   * written to the shared storage, callbacks, dismiss through {@link abortLocal}). Resolves once it ended.
   * A task taken again after its worker died (BullMQ stalled job) finds its job `running` and runs it anew.
   * `'lost'`: the run lost the task to another worker (`options.lost`, or its job or product found taken
   * over): it was aborted and wrote nothing — no status, no record, no cleanup; the other run owns them.
   */
  async runQueued(task: QueuedTask, process: RegisteredProcess, options: QueuedRunOptions = {}): Promise<SyncAnswer | 'lost' | undefined> {
    let answer: SyncAnswer | 'lost' | undefined;
    try {
      answer =
        task.mode === 'sync'
          ? await this.runQueuedSync(task, process, options.progress ?? noop, options.lost)
          : await this.runQueuedJob(task, process, options.takenAt, options.lost);
      return answer;
    } finally {
      // A lost run leaves the fetched inputs to the run that took the task (it reads them, then removes them).
      if (task.fetched && answer !== 'lost' && !options.lost?.aborted) await this.dropFetched(task);
    }
  }

  /**
   * Removes the inputs the server fetched for `task` once nothing runs it again: a synchronous execution at
   * once, a job once it ended — not one a stopping worker gives back to the queue, nor one a killed worker
   * leaves running (another worker takes it again, and its inputs).
   */
  private async dropFetched(task: QueuedTask): Promise<void> {
    if (task.mode === 'async') {
      const job = await this.deps.store.get(task.id).catch(() => undefined);
      if (job && !FINISHED.includes(job.status)) return;
    }
    await this.deps.storage.deletePrefix(fetchedInputsPrefix(task.id)).catch(() => {});
  }

  /** `takenAt`: when the worker took the task off the queue, the job's start (its preparation is part of the run). */
  private async runQueuedJob(
    task: QueuedTask,
    process: RegisteredProcess,
    takenAt?: Date,
    lost?: AbortSignal,
  ): Promise<'lost' | undefined> {
    const stored = await this.deps.store.get(task.id);
    if (!stored || FINISHED.includes(stored.status)) return undefined; // dismissed (or ended) before a worker took it
    let run: Run;
    try {
      run = await this.prepare(process, parseExecuteRequest(process.description, task.body), undefined, task.id, {
        prefetched: prefetchedFrom(this.deps.storage, task.fetched),
      });
    } catch (err) {
      if (lost?.aborted) return this.lostRun(task.id);
      const problem = toProblem(err, `/jobs/${task.id}`);
      const now = new Date().toISOString();
      // Only over the job as read above: a run that took it since (this worker stalled in the preparation, which
      // then failed on the name that run holds) owns its state.
      const written = await this.deps.store.updateIf(
        task.id,
        [stored.status],
        {
          status: 'failed',
          message: problem.detail,
          updated: now,
          started: stored.started ?? now,
          finished: now,
          error: problem,
          ...(this.deps.workerName ? { worker: this.deps.workerName } : {}),
        },
        { worker: stored.worker, started: stored.started },
      );
      return written ? undefined : this.lostRun(task.id);
    }
    // The record read above serves runJob too (one Redis round trip less per task, issue 14's overhead goal):
    // a dismiss landed since is still caught there, by the conditional update that marks the job running.
    const outcome = await this.runJob(run, { retaken: stored.status === 'running', stored, takenAt, lost });
    return outcome === 'lost' ? 'lost' : undefined;
  }

  /** Says that the run of job `id` lost it to another worker (once it has stopped); what runQueued answers then. */
  private lostRun(id: string, log: Logger = this.deps.log.child({ jobId: id })): 'lost' {
    log.warn(JOB_LOST, { jobId: id, ...(this.deps.workerName ? { worker: this.deps.workerName } : {}) });
    return 'lost';
  }

  /** A synchronous execution in a worker: every output written to storage for the server to read. */
  private async runQueuedSync(
    task: QueuedTask,
    process: RegisteredProcess,
    progress: (percent: number, message?: string) => void,
    lost?: AbortSignal,
  ): Promise<SyncAnswer | 'lost'> {
    const controller = new AbortController();
    const onLost = () => controller.abort(lostReason());
    try {
      const run = await this.prepare(process, parseExecuteRequest(process.description, task.body), undefined, task.id, {
        prefetched: prefetchedFrom(this.deps.storage, task.fetched),
      });
      if (lost?.aborted) onLost();
      else lost?.addEventListener('abort', onLost, { once: true });
      this.remoteSync.set(task.id, controller);
      try {
        const result = await this.runSync(run, { signal: controller.signal, progress });
        const outputs: Record<string, SyncOutputEntry> = {};
        for (const [id, o] of Object.entries(result.outputs)) {
          controller.signal.throwIfAborted();
          const key = `outputs/${task.id}/${id}`;
          if (run.parsed.outputs[id]?.transmissionMode !== 'reference') await this.deps.storage.write(key, o.bytes);
          outputs[id] = { key, mediaType: o.mediaType, json: o.json, binary: o.binary };
        }
        if (lost?.aborted) return this.lostRun(task.id);
        return { outputs };
      } finally {
        lost?.removeEventListener('abort', onLost);
        this.remoteSync.delete(task.id);
      }
    } catch (err) {
      // Lost: the queue gave the execution to another worker, whose answer the server waits for.
      if (lost?.aborted || isJobLost(err)) return this.lostRun(task.id);
      const problem = toProblem(err);
      logServerError(this.deps.log.child({ executionId: task.id, processID: task.processID }), 'execution failed', problem, err);
      return { problem };
    }
  }

  /**
   * A dismiss heard by a worker (issue 14): aborts the job's AbortSignal here, as the server's dismiss does in
   * the embedded manager; the server has written the dismissed status and removes the results.
   */
  abortLocal(id: string): boolean {
    const live = this.live.get(id);
    if (live) {
      if (live.persistTimer) clearTimeout(live.persistTimer);
      live.dismissed = true;
      live.controller.abort(new ApiError('job-dismissed', 'the job was dismissed'));
      this.live.delete(id);
      return true;
    }
    const sync = this.remoteSync.get(id);
    sync?.abort(new ApiError('job-dismissed', 'the execution was cancelled'));
    return !!sync;
  }

  private pump(): void {
    while (!this.closed && this.running < this.deps.config.server.limits.max_running_jobs && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      const p = this.runJob(next)
        .then(
          () => {},
          (err) => this.deps.log.error('job runner crashed', { jobId: next.id, error: err instanceof Error ? err.stack : String(err) }),
        )
        .finally(() => {
          this.running--;
          this.settled.delete(p);
          this.pump();
        });
      this.settled.add(p);
    }
  }

  /**
   * `stored`: the job's record when the caller has just read it (a worker process); else it is read here.
   * `takenAt`: when a worker process took the job off the queue, recorded as its start (else: now).
   * `lost`: aborted when the worker lost the job's queue lock (see {@link QueuedRunOptions.lost}).
   * Resolves with how the run ended; `'lost'` when another run owns the job now (this one wrote nothing).
   */
  private async runJob(
    run: Run,
    options: { retaken?: boolean; stored?: JobRecord; takenAt?: Date; lost?: AbortSignal } = {},
  ): Promise<ExecutionOutcome | 'lost'> {
    const id = run.id;
    let outcome: ExecutionOutcome = 'failed';
    let live: LiveJob | undefined;
    let onLost: (() => void) | undefined;
    const log = this.deps.log.child({ jobId: id, processID: run.process.description.id });
    // The process releases as for a hand-over: the run that took the job owns what this one held.
    const lost = (): 'lost' => {
      outcome = 'handed-over';
      return this.lostRun(id, log);
    };
    try {
      const stored = options.stored ?? (await this.deps.store.get(id));
      if (!stored || (stored.status !== 'accepted' && !(options.retaken && stored.status === 'running'))) {
        outcome = 'dismissed'; // dismissed while queued
        return outcome;
      }
      if (this.closed) {
        await this.failStopped(id, 'before this job started');
        return outcome;
      }
      if (options.lost?.aborted) return lost();
      const controller = new AbortController();
      const started = (options.takenAt ?? new Date()).toISOString();
      const worker = this.deps.workerName ? { worker: this.deps.workerName } : {};
      const message = options.retaken ? 'running again (its previous worker stopped)' : 'running';
      const current: LiveJob = (live = {
        controller,
        record: { ...stored, status: 'running', started, updated: started, message, progress: 0, ...worker },
        owner: { started, ...worker },
        lastPersist: 0,
        lastCallback: 0,
        dismissed: false,
        lost: false,
      });
      this.live.set(id, current);
      onLost = () => {
        current.lost = true;
        if (current.persistTimer) clearTimeout(current.persistTimer);
        current.persistTimer = undefined;
        controller.abort(lostReason());
      };
      options.lost?.addEventListener('abort', onLost, { once: true });
      // A write of this run the store refused (the job is no longer this run's: see finish()): dismissed
      // meanwhile (the dismiss wrote the status), or taken by another run — lost.
      const refused = async (): Promise<ExecutionOutcome | 'lost'> => {
        if (!current.dismissed && (await this.takenOver(id))) return lost();
        outcome = 'dismissed';
        return outcome;
      };
      // Only from the job as read above: a dismiss written since (by another server, or while this one
      // waited for the store) must stay, the job not run; and a run that took the job since (this worker
      // stalled in between) owns it.
      const from: JobStatus[] = options.retaken ? ['accepted', 'running'] : ['accepted'];
      const marked = await this.deps.store.updateIf(
        id,
        from,
        { status: 'running', started, updated: started, message, progress: 0, ...worker },
        { worker: stored.worker, started: stored.started },
      );
      if (!marked) {
        if (this.live.get(id) === current) this.live.delete(id);
        return current.lost ? lost() : await refused();
      }
      log.info('job running');
      this.callback(current.record, 'inProgressUri');

      const progress = (percent: number, message?: string) => {
        if (controller.signal.aborted) return;
        const p = Math.max(0, Math.min(100, Math.round(percent * 100) / 100));
        current.record.progress = Math.max(current.record.progress ?? 0, p);
        if (message !== undefined) current.record.message = message;
        current.record.updated = new Date().toISOString();
        this.schedulePersist(id, current);
        const now = Date.now();
        if (now - current.lastCallback >= CALLBACK_INTERVAL_MS) {
          current.lastCallback = now;
          this.callback(current.record, 'inProgressUri');
        }
      };
      const warn = (message: string) => {
        current.record.warnings = [...(current.record.warnings ?? []), message];
        current.record.message = `warning: ${message}`;
        current.record.updated = new Date().toISOString();
        this.schedulePersist(id, current);
        log.warn('job warning', { warning: message });
      };
      const report = (members: StatusMembers) => {
        if (controller.signal.aborted) return;
        current.record.statusMembers = { ...current.record.statusMembers, ...checkStatusMembers(members) };
        current.record.updated = new Date().toISOString();
        this.schedulePersist(id, current);
      };

      try {
        const outputs = await this.runExecution(run, controller.signal, progress, warn, report, log);
        if (controller.signal.aborted) throw controller.signal.reason;
        const results: Record<string, ResultEntry> = {};
        for (const [outputId, o] of Object.entries(outputs)) {
          const key = `jobs/${id}/results/${outputId}`;
          await this.deps.storage.write(key, o.bytes);
          results[outputId] = {
            key,
            mediaType: o.mediaType,
            transmissionMode: run.parsed.outputs[outputId]?.transmissionMode ?? 'value',
            json: o.json,
            size: o.bytes.length,
          };
        }
        if (controller.signal.aborted) {
          // A lost run's job folder is the other run's: nothing of it is removed.
          if (!current.lost) await this.deps.storage.deletePrefix(`jobs/${id}`);
          throw controller.signal.reason;
        }
        const finished = new Date().toISOString();
        const record = await this.finish(
          id,
          current,
          { status: 'successful', finished, updated: finished, progress: 100, message: 'done', results },
          log,
        );
        if (!record) return await refused();
        outcome = 'successful';
        log.info('job successful', { seconds: (Date.parse(finished) - Date.parse(started)) / 1000 });
        if (record.request.subscriber?.successUri)
          this.post(record.request.subscriber.successUri, this.deps.links.resultsDocument(record, outputs), log);
      } catch (err) {
        // Lost (heard from the queue, or found by the process: its product taken over): nothing is written.
        if (current.lost || isJobLost(err)) return lost();
        if (current.dismissed) {
          outcome = 'dismissed'; // dismiss() has written the status
          return outcome;
        }
        if (controller.signal.reason instanceof ApiError && controller.signal.reason.kind === 'job-handed-back') {
          // A stopping worker gives the job back (close({ handBack })): accepted again, for another worker.
          // Only what this run wrote goes (results); the inputs the server fetched for the execution
          // (jobs/<id>/inputs/, fetched-inputs.ts) are the next run's.
          outcome = 'handed-over';
          await this.deps.storage.deletePrefix(`jobs/${id}/results/`).catch(() => {});
          const back = await this.deps.store.updateIf(
            id,
            ['running'],
            {
              status: 'accepted',
              message: 'waiting for a worker (the one running it stopped and gave it back)',
              progress: 0,
              updated: new Date().toISOString(),
            },
            current.owner,
          );
          if (!back) return await refused();
          log.info('job handed back');
          return outcome;
        }
        // Stopped with the server (close()): failed now with the stop's reason, not left running on disk.
        const problem = toProblem(controller.signal.aborted && this.closed ? controller.signal.reason : err, `/jobs/${id}`);
        logServerError(log, 'job failed', problem, err);
        const finished = new Date().toISOString();
        const record = await this.finish(
          id,
          current,
          { status: 'failed', finished, updated: finished, message: problem.detail, error: problem },
          log,
        );
        if (!record) return await refused();
        if (problem.status < 500) log.warn('job failed', { detail: problem.detail });
        if (record.request.subscriber?.failedUri) this.post(record.request.subscriber.failedUri, problem, log);
      }
      return outcome;
    } finally {
      if (onLost) options.lost?.removeEventListener('abort', onLost);
      if (live?.persistTimer) clearTimeout(live.persistTimer);
      if (this.live.get(id) === live) this.live.delete(id);
      await this.end(run, outcome);
    }
  }

  /** True when job `id` is still running or accepted, under another run than the caller's (which the store refused). */
  private async takenOver(id: string): Promise<boolean> {
    const job = await this.deps.store.get(id).catch(() => undefined);
    return !!job && !FINISHED.includes(job.status);
  }

  /**
   * Writes the final state of a job, only while the job is still this run's (running, under its
   * `owner`): undefined when it is not (dismissed, or taken by another worker). The live record takes it
   * only once the store accepted it, so that what GET /jobs/{id} shows is what is on disk; a refused write
   * (a full disk) is retried while the server runs, the job showing as running meanwhile (a stop leaves it
   * to recovery).
   */
  private async finish(id: string, live: LiveJob, patch: Partial<JobRecord>, log: Logger): Promise<JobRecord | undefined> {
    if (live.persistTimer) clearTimeout(live.persistTimer);
    live.persistTimer = undefined;
    const full = {
      ...patch,
      warnings: live.record.warnings,
      statusMembers: live.record.statusMembers,
      message: patch.message ?? live.record.message,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const record = await this.deps.store.updateIf(id, ['running'], full, live.owner);
        if (record) Object.assign(live.record, patch);
        return record;
      } catch (err) {
        if (attempt === 0) {
          logServerError(log, `the job ended ${patch.status} but its state cannot be saved; retrying`, toProblem(err), err);
          live.record.message = `ended ${patch.status}; saving its state failed, retrying`;
        }
        if (this.closed || live.dismissed || live.lost) throw err;
        await new Promise((resolve) => setTimeout(resolve, FINISH_RETRY_MS));
      }
    }
  }

  private schedulePersist(id: string, live: LiveJob): void {
    if (live.persistTimer) return;
    const wait = Math.max(0, PERSIST_INTERVAL_MS - (Date.now() - live.lastPersist));
    live.persistTimer = setTimeout(() => {
      live.persistTimer = undefined;
      live.lastPersist = Date.now();
      if (!this.live.has(id) || live.controller.signal.aborted || live.lost) return;
      const { progress, message, updated, warnings, statusMembers } = live.record;
      // Only while the job is this run's: a stalled worker's timer, firing as it resumes, writes nothing over
      // the progress of the run that took the job.
      this.deps.store
        .updateIf(
          id,
          ['running'],
          { progress, message, updated, ...(warnings ? { warnings } : {}), ...(statusMembers ? { statusMembers } : {}) },
          live.owner,
        )
        .catch(() => {});
    }, wait);
  }

  /**
   * Runs the process with its context and normalizes the outputs. An output the request named that
   * the process did not produce is an error naming it (never a silent gap in the results).
   */
  private async runExecution(
    run: Run,
    signal: AbortSignal,
    progress: ProcessContext['progress'],
    warn: ProcessContext['warn'],
    report: ProcessContext['report'],
    log: Logger,
  ): Promise<Record<string, OutputData>> {
    const ctx: ProcessContext = {
      ...this.prepareContext(run.process, run.parsed, run.id, run.tmpDir, signal, log),
      progress,
      warn,
      report,
      plan: run.plan,
    };
    const raw = await run.process.execute(run.inputs, ctx);
    signal.throwIfAborted();
    const outputs: Record<string, OutputData> = {};
    for (const outputId of Object.keys(run.parsed.outputs)) {
      const value = raw && Object.hasOwn(raw, outputId) ? raw[outputId] : undefined;
      if (value === undefined) {
        if (!run.parsed.outputsNamed) continue;
        throw new ApiError(
          'invalid-parameter',
          `output '${outputId}' was requested but process '${run.process.description.id}' did not produce it from these inputs (it produced ${Object.keys(raw ?? {}).join(', ') || 'nothing'})`,
          { output: outputId },
        );
      }
      outputs[outputId] = await normalizeOutput(run.process.description, outputId, value);
    }
    return outputs;
  }

  /** The job as stored, with the live progress of a running job. */
  async get(id: string): Promise<JobRecord | undefined> {
    const live = this.live.get(id);
    if (live) {
      const stored = await this.deps.store.get(id);
      return stored && stored.status === 'running' ? withLiveProgress(stored, live.record) : stored;
    }
    return this.deps.store.get(id);
  }

  async list(filter: JobFilter, offset: number, limit: number): Promise<JobPage> {
    const page = await this.deps.store.list(filter, offset, limit);
    return {
      more: page.more,
      jobs: page.jobs.map((j) =>
        this.live.has(j.jobID) && j.status === 'running' ? withLiveProgress(j, this.live.get(j.jobID)!.record) : j,
      ),
    };
  }

  /**
   * DELETE /jobs/{id}: aborts a running job (its pool tasks get the AbortSignal), drops a queued one,
   * removes results, and answers the dismissed status (ogcapi-processes.md §2 Dismiss).
   */
  async dismiss(id: string): Promise<JobRecord> {
    const job = await this.deps.store.get(id);
    if (!job) throw new ApiError('no-such-job', `no job with id '${id}'`);
    if (job.status === 'dismissed') return job;
    const live = this.live.get(id);
    const qi = this.queue.findIndex((q) => q.id === id);
    const queued = qi >= 0 ? this.queue.splice(qi, 1)[0] : undefined;
    const now = new Date().toISOString();
    const patch: Partial<JobRecord> = {
      status: 'dismissed',
      message: 'dismissed by the client',
      updated: now,
      ...(FINISHED.includes(job.status) ? {} : { finished: now }),
      results: undefined,
    };
    if (live) {
      if (live.persistTimer) clearTimeout(live.persistTimer);
      live.dismissed = true;
      live.controller.abort(new ApiError('job-dismissed', 'the job was dismissed'));
      this.live.delete(id);
    }
    try {
      const record = await this.deps.store.update(id, patch);
      // Through Redis to whichever worker runs it (issue 14): its AbortSignal fires, as a local dismiss does.
      if (this.deps.remote && !FINISHED.includes(job.status)) await this.deps.remote.cancel(id);
      await this.deps.storage.deletePrefix(`jobs/${id}`);
      this.deps.log.info('job dismissed', { jobId: id, was: job.status });
      return record!;
    } finally {
      if (queued) await this.end(queued, 'dismissed');
      const waiting = this.waiting.get(id); // dismissed before a worker took it: what it held is free at once
      if (waiting) {
        this.waiting.delete(id);
        await this.end(waiting, 'dismissed');
      }
    }
  }

  /** The results of a job (ogcapi-processes.md §2 Core, §3.3 not-ready, failed, dismissed). */
  async results(id: string): Promise<JobResults> {
    const job = await this.finishedJob(id);
    if (job.status === 'failed') {
      return { status: 'failed', job, problem: job.error ?? new ApiError('job-failed', job.message ?? 'the job failed').toProblem() };
    }
    const outputs: Record<string, OutputData> = {};
    for (const [outputId, r] of Object.entries(job.results ?? {})) {
      outputs[outputId] = {
        bytes: await this.deps.storage.read(r.key),
        mediaType: r.mediaType,
        json: r.json,
        binary: !r.json && !/^text\//.test(r.mediaType),
      };
    }
    return { status: 'successful', job, outputs };
  }

  /** A job that has results to tell: successful or failed (404 unknown, 410 dismissed, 404 not ready). */
  private async finishedJob(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (!job) throw new ApiError('no-such-job', `no job with id '${id}'`);
    if (job.status === 'dismissed') throw new ApiError('job-dismissed', `job '${id}' was dismissed; it has no results`);
    if (job.status === 'failed') return job;
    if (job.status !== 'successful' || !job.results)
      throw new ApiError('result-not-ready', `job '${id}' is ${job.status}; results are not ready yet`);
    return job;
  }

  /** One output of a successful job, raw (target of reference links). */
  async result(id: string, outputId: string): Promise<{ bytes: Buffer; mediaType: string }> {
    const job = await this.finishedJob(id);
    if (job.status === 'failed') throw new ApiError('result-not-ready', `job '${id}' failed; it has no output '${outputId}'`);
    const r = Object.hasOwn(job.results!, outputId) ? job.results![outputId] : undefined;
    if (!r) throw new ApiError('no-such-output', `job '${id}' has no output '${outputId}'`);
    return { bytes: await this.deps.storage.read(r.key), mediaType: r.mediaType };
  }

  /** An output of a synchronous execution asked by reference. */
  async syncOutput(executionId: string, outputId: string): Promise<{ bytes: Buffer; mediaType: string }> {
    if (!/^[0-9a-f-]{36}$/.test(executionId) || !/^[A-Za-z0-9_.-]+$/.test(outputId)) throw new ApiError('not-found', 'no such output');
    try {
      const manifest = JSON.parse((await this.deps.storage.read(`outputs/${executionId}/manifest.json`)).toString('utf8')) as Record<
        string,
        { mediaType: string }
      >;
      if (!Object.hasOwn(manifest, outputId)) throw new Error('absent');
      return { bytes: await this.deps.storage.read(`outputs/${executionId}/${outputId}`), mediaType: manifest[outputId].mediaType };
    } catch {
      throw new ApiError('not-found', `no output '${outputId}' for execution '${executionId}'`);
    }
  }

  private callback(job: JobRecord, which: 'inProgressUri'): void {
    const uri = job.request.subscriber?.[which];
    if (uri) this.post(uri, this.deps.links.statusDocument(job), this.deps.log.child({ jobId: job.jobID }));
  }

  /** POSTs a callback (fire and forget, guarded like hrefs; failures are logged with their cause, never fatal). */
  private post(uri: string, body: unknown, log: Logger): void {
    void (async () => {
      const refusal = await outboundRefusal(uri, this.deps.config.security);
      if (refusal) {
        log.warn('callback refused', { uri, refusal });
        return;
      }
      try {
        const init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } as const;
        const res = await guardedFetch(uri, { ...init, signal: AbortSignal.timeout(10_000), redirect: 'error' }, this.deps.config.security);
        log.info('callback sent', { uri, status: res.status });
      } catch (err) {
        // fetch says only "fetch failed"; the reason (refused, reset, timeout, DNS) is its cause.
        log.warn('callback failed', {
          uri,
          error: String(err),
          ...(err instanceof Error && err.cause !== undefined ? { cause: causeText(err.cause) } : {}),
        });
      }
    })();
  }

  /**
   * Who runs jobs (GET /workers): with the bullmq manager the workers alive (heartbeats) and the queue's
   * depth; with the embedded managers this server's own counts.
   */
  async workers(): Promise<{ manager: string; queue: { waiting: number; active: number }; workers: WorkerBeat[] }> {
    const manager = this.deps.config.manager.name;
    if (!this.deps.remote) return { manager, queue: { waiting: this.queue.length, active: this.running }, workers: [] };
    const [queue, workers] = await Promise.all([this.deps.remote.counts(), this.deps.remote.workers()]);
    return { manager, queue, workers };
  }

  /** Running + queued counts (landing page, tests). */
  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /**
   * Stops the manager (server shutdown): takes no more executions, fails the queued jobs, aborts the
   * running ones through their AbortSignal (each process removes its own partial output; the job ends
   * failed with the stop's reason) and sync runs, and waits until every job has written its final status.
   * Queued jobs are failed rather than kept `accepted` for the next start: their resolved inputs (temp
   * folder) and reservations live in this process only. Every run is released.
   * `handBack` (a bullmq worker stopping): running jobs are aborted with `job-handed-back` and stored
   * `accepted` again, for the queue to give them to another worker (src/manager/bullmq-worker.ts).
   */
  async close(options: { handBack?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.waitingTimer) clearInterval(this.waitingTimer);
    for (const run of [...this.waiting.values()]) await this.end(run, 'handed-over');
    this.waiting.clear();
    for (const run of this.queue.splice(0)) {
      await this.failStopped(run.id, 'before this job started').catch(() => {});
      await this.end(run, 'failed');
    }
    const stopped = options.handBack
      ? new ApiError('job-handed-back', 'the worker running this job stopped and gave it back to the queue')
      : new ApiError('unavailable', 'the server stopped while this job was running; it did not finish. Submit it again.');
    for (const live of this.live.values()) live.controller.abort(stopped);
    for (const controller of this.syncRuns) controller.abort(new ApiError('unavailable', 'the server stopped'));
    await Promise.allSettled([...this.settled]);
    await this.deps.remote?.close();
  }

  /** Marks a job that had not started failed because the server stops. */
  private async failStopped(id: string, when: string): Promise<void> {
    const job = await this.deps.store.get(id);
    if (!job || job.status !== 'accepted') return;
    const detail = `the server stopped ${when}; submit it again`;
    const now = new Date().toISOString();
    await this.deps.store.update(id, {
      status: 'failed',
      message: detail,
      updated: now,
      started: now,
      finished: now,
      error: new ApiError('unavailable', detail).toProblem(`/jobs/${id}`),
    });
    this.deps.log.warn('job failed: the server stops', { jobId: id });
  }
}

export type { Problem, JobStatus };
