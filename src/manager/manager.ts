import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { ApiError, toProblem, type Problem } from '../errors.js';
import type { Config } from '../config.js';
import type { Datastore } from '../records/stored-data.js';
import type { Logger } from '../log.js';
import type { ParsedExecute } from '../process/execute-request.js';
import { checkHrefs, resolveInputs } from '../process/inputs.js';
import type { RegisteredProcess } from '../process/registry.js';
import type { ProcessContext } from '../process/types.js';
import { outboundRefusal } from '../security/hosts.js';
import { guardedFetch } from '../security/outbound-fetch.js';
import type { Storage } from '../storage/storage.js';
import type { WorkerPool } from '../workers/pool.js';
import { execFolderPrefix } from './exec-folders.js';
import { FINISHED, type JobRecord, type JobStatus, type ResultEntry } from './job.js';
import { normalizeOutput, type OutputData } from './outputs.js';
import { buildResultsResponse } from './results-response.js';
import type { JobFilter, JobPage, JobStore } from './store.js';

export interface ManagerDeps {
  store: JobStore;
  storage: Storage;
  datastore: Datastore;
  pool: WorkerPool;
  log: Logger;
  config: Config;
}

interface LiveJob {
  controller: AbortController;
  record: JobRecord;
  lastPersist: number;
  persistTimer?: NodeJS.Timeout;
  lastCallback: number;
}

interface QueuedJob {
  id: string;
  process: RegisteredProcess;
  parsed: ParsedExecute;
  prepared: Prepared;
}

/** Inputs resolved before an execution (and before a job is created, so bad input gets a 400). */
export interface Prepared {
  inputs: Record<string, unknown>;
  /** Temp folder of the execution (base64 and downloaded inputs); removed when it ends. */
  tmpDir: string;
}

/** Progress is persisted at most this often; GET /jobs/{id} reads the live value in between. */
const PERSIST_INTERVAL_MS = 500;
const CALLBACK_INTERVAL_MS = 1000;

/**
 * Orchestrates executions (DESIGN §5): sync runs, async jobs behind a queue bounded by
 * `max_running_jobs`, real progress, dismiss through AbortSignal, results in storage, subscriber
 * callbacks, and crash recovery. Persistence is the JobStore's business.
 */
/**
 * A running job as stored, with the progress it made since the last persist. Only progress fields:
 * its end (status, results) shows once the store wrote it, so a client never sees an end that a failed
 * write (a full disk) would undo.
 */
function withLiveProgress(stored: JobRecord, live: JobRecord): JobRecord {
  const { progress, message, updated, warnings } = live;
  return { ...stored, progress, message, updated, ...(warnings ? { warnings } : {}) };
}

export class JobManager {
  private readonly live = new Map<string, LiveJob>();
  private readonly queue: QueuedJob[] = [];
  private running = 0;
  private closed = false;
  private readonly settled = new Set<Promise<void>>();

  constructor(private readonly deps: ManagerDeps) {}

  /** Marks jobs left accepted/running by a previous process as failed, saying so (DESIGN §5). */
  async recover(): Promise<number> {
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

  /** Checks that need no work: hrefs allowed, subscriber hosts allowed, the process's own precheck. */
  async precheck(process: RegisteredProcess, parsed: ParsedExecute): Promise<void> {
    await checkHrefs(parsed, { security: this.deps.config.security });
    for (const [key, uri] of Object.entries(parsed.subscriber ?? {})) {
      const refusal = uri ? await outboundRefusal(uri, this.deps.config.security) : undefined;
      if (refusal) throw new ApiError('invalid-parameter', `subscriber.${key} refused: ${refusal}`, { parameter: `subscriber.${key}` });
    }
  }

  /**
   * Resolves the inputs (hrefs fetched, base64 written to a temp folder) and runs the process's own
   * precheck, so that what can be known before any work is answered with a 400 (DESIGN §8).
   */
  async prepare(process: RegisteredProcess, parsed: ParsedExecute, signal?: AbortSignal): Promise<Prepared> {
    const tmpDir = await fs.mkdtemp(execFolderPrefix());
    try {
      const inputs = await resolveInputs(process.description, parsed, {
        security: this.deps.config.security,
        hrefMaxBytes: this.deps.config.server.limits.href_max_bytes,
        tmpDir,
        signal,
      });
      await process.precheck?.(inputs, {
        signal: signal ?? new AbortController().signal,
        storage: this.deps.storage,
        datastore: this.deps.datastore,
        pool: this.deps.pool,
        log: this.deps.log,
        options: this.optionsOf(process),
        outputs: Object.keys(parsed.outputs),
        jobId: '',
        tmpDir,
        settings: this.settings(),
      });
      return { inputs, tmpDir };
    } catch (err) {
      await fs.rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  private settings(): ProcessContext['settings'] {
    const limits = this.deps.config.server.limits;
    return { maxPixels: limits.max_pixels, tmsFolders: this.deps.config.tms_folders ?? [], maxOutputBytes: limits.max_output_bytes, minFreeBytes: limits.min_free_bytes };
  }

  private optionsOf(process: RegisteredProcess): Record<string, unknown> {
    return { ...process.options, max_pixels: this.deps.config.server.limits.max_pixels, tms_folders: this.deps.config.tms_folders };
  }

  /** Runs a synchronous execution: no job is created (ogcapi-processes.md §0.1, Permission 7 not used). */
  async executeSync(process: RegisteredProcess, parsed: ParsedExecute, prepared: Prepared, signal: AbortSignal): Promise<{ executionId: string; outputs: Record<string, OutputData> }> {
    const executionId = randomUUID();
    const log = this.deps.log.child({ executionId, processID: process.description.id });
    const outputs = await this.runExecution(executionId, process, parsed, prepared, signal, () => {}, () => {}, log);
    // References of a sync execution are kept in storage and served under /outputs/.
    const refs = Object.entries(parsed.outputs).filter(([, o]) => o.transmissionMode === 'reference');
    if (refs.length) {
      const manifest: Record<string, { mediaType: string }> = {};
      for (const [id] of refs) {
        await this.deps.storage.write(`outputs/${executionId}/${id}`, outputs[id].bytes);
        manifest[id] = { mediaType: outputs[id].mediaType };
      }
      await this.deps.storage.write(`outputs/${executionId}/manifest.json`, JSON.stringify(manifest));
    }
    return { executionId, outputs };
  }

  /** Creates an async job (stored before the answer) and queues it. */
  async submit(process: RegisteredProcess, parsed: ParsedExecute, prepared: Prepared): Promise<JobRecord> {
    const now = new Date().toISOString();
    const job: JobRecord = {
      jobID: randomUUID(),
      processID: process.description.id,
      type: 'process',
      status: 'accepted',
      message: 'accepted, waiting for a free slot',
      progress: 0,
      created: now,
      updated: now,
      request: { outputs: parsed.outputs, response: parsed.response, ...(parsed.subscriber ? { subscriber: parsed.subscriber } : {}) },
    };
    try {
      await this.deps.store.create(job);
    } catch (err) {
      await fs.rm(prepared.tmpDir, { recursive: true, force: true });
      throw err;
    }
    this.deps.log.info('job accepted', { jobId: job.jobID, processID: job.processID });
    this.queue.push({ id: job.jobID, process, parsed, prepared });
    this.pump();
    return job;
  }

  private pump(): void {
    while (!this.closed && this.running < this.deps.config.server.limits.max_running_jobs && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      const p = this.runJob(next)
        .catch((err) => this.deps.log.error('job runner crashed', { jobId: next.id, error: String(err) }))
        .finally(() => {
          this.running--;
          this.settled.delete(p);
          this.pump();
        });
      this.settled.add(p);
    }
  }

  private async runJob({ id, process, parsed, prepared }: QueuedJob): Promise<void> {
    const stored = await this.deps.store.get(id);
    if (!stored || stored.status !== 'accepted') {
      await fs.rm(prepared.tmpDir, { recursive: true, force: true });
      return; // dismissed while queued
    }
    const log = this.deps.log.child({ jobId: id, processID: process.description.id });
    const controller = new AbortController();
    const started = new Date().toISOString();
    const live: LiveJob = {
      controller,
      record: { ...stored, status: 'running', started, updated: started, message: 'running', progress: 0 },
      lastPersist: 0,
      lastCallback: 0,
    };
    this.live.set(id, live);
    await this.deps.store.update(id, { status: 'running', started, updated: started, message: 'running', progress: 0 });
    log.info('job running');
    this.callback(live.record, 'inProgressUri');

    const progress = (percent: number, message?: string) => {
      if (controller.signal.aborted) return;
      const p = Math.max(0, Math.min(100, Math.round(percent * 100) / 100));
      live.record.progress = Math.max(live.record.progress ?? 0, p);
      if (message !== undefined) live.record.message = message;
      live.record.updated = new Date().toISOString();
      this.schedulePersist(id, live);
      const now = Date.now();
      if (now - live.lastCallback >= CALLBACK_INTERVAL_MS) {
        live.lastCallback = now;
        this.callback(live.record, 'inProgressUri');
      }
    };
    const warn = (message: string) => {
      live.record.warnings = [...(live.record.warnings ?? []), message];
      live.record.message = `warning: ${message}`;
      live.record.updated = new Date().toISOString();
      this.schedulePersist(id, live);
      log.warn('job warning', { warning: message });
    };

    try {
      const outputs = await this.runExecution(id, process, parsed, prepared, controller.signal, progress, warn, log);
      if (controller.signal.aborted) return;
      const results: Record<string, ResultEntry> = {};
      for (const [outputId, o] of Object.entries(outputs)) {
        const key = `jobs/${id}/results/${outputId}`;
        await this.deps.storage.write(key, o.bytes);
        results[outputId] = { key, mediaType: o.mediaType, transmissionMode: parsed.outputs[outputId]?.transmissionMode ?? 'value', json: o.json, size: o.bytes.length };
      }
      if (controller.signal.aborted) {
        await this.deps.storage.deletePrefix(`jobs/${id}`);
        return;
      }
      const finished = new Date().toISOString();
      const record = await this.finish(id, live, { status: 'successful', finished, updated: finished, progress: 100, message: 'done', results });
      log.info('job successful', { seconds: (Date.parse(finished) - Date.parse(started)) / 1000 });
      if (record?.request.subscriber?.successUri) {
        const body = buildResultsResponse({ outputs: record.request.outputs, response: 'document' }, outputs, (o) => this.resultLink(id, o));
        this.post(record.request.subscriber.successUri, body.body, log);
      }
    } catch (err) {
      if (controller.signal.aborted) return; // dismissed: dismiss() has written the status
      const problem = toProblem(err, `/jobs/${id}`);
      const finished = new Date().toISOString();
      const record = await this.finish(id, live, { status: 'failed', finished, updated: finished, message: problem.detail, error: problem });
      log.warn('job failed', { detail: problem.detail });
      if (record?.request.subscriber?.failedUri) this.post(record.request.subscriber.failedUri, problem, log);
    } finally {
      const l = this.live.get(id);
      if (l?.persistTimer) clearTimeout(l.persistTimer);
      this.live.delete(id);
    }
  }

  private async finish(id: string, live: LiveJob, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    if (live.persistTimer) clearTimeout(live.persistTimer);
    live.persistTimer = undefined;
    Object.assign(live.record, patch);
    return this.deps.store.update(id, { ...patch, warnings: live.record.warnings, message: patch.message ?? live.record.message });
  }

  private schedulePersist(id: string, live: LiveJob): void {
    if (live.persistTimer) return;
    const wait = Math.max(0, PERSIST_INTERVAL_MS - (Date.now() - live.lastPersist));
    live.persistTimer = setTimeout(() => {
      live.persistTimer = undefined;
      live.lastPersist = Date.now();
      if (!this.live.has(id) || live.controller.signal.aborted) return;
      const { progress, message, updated, warnings } = live.record;
      this.deps.store.update(id, { progress, message, updated, ...(warnings ? { warnings } : {}) }).catch(() => {});
    }, wait);
  }

  /** Resolves inputs, runs the process with its context, normalizes the requested outputs. */
  private async runExecution(
    id: string,
    process: RegisteredProcess,
    parsed: ParsedExecute,
    prepared: Prepared,
    signal: AbortSignal,
    progress: ProcessContext['progress'],
    warn: ProcessContext['warn'],
    log: Logger,
  ): Promise<Record<string, OutputData>> {
    const { inputs, tmpDir } = prepared;
    try {
      const ctx: ProcessContext = {
        jobId: id,
        signal,
        progress,
        warn,
        storage: this.deps.storage,
        datastore: this.deps.datastore,
        pool: this.deps.pool,
        log,
        options: this.optionsOf(process),
        outputs: Object.keys(parsed.outputs),
        tmpDir,
        settings: this.settings(),
        plan: undefined,
      };
      const raw = await process.execute(inputs, ctx);
      signal.throwIfAborted();
      const outputs: Record<string, OutputData> = {};
      for (const outputId of Object.keys(parsed.outputs)) {
        if (!(outputId in raw)) continue;
        outputs[outputId] = await normalizeOutput(process.description, outputId, raw[outputId]);
      }
      return outputs;
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
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
    return { more: page.more, jobs: page.jobs.map((j) => (this.live.has(j.jobID) && j.status === 'running' ? withLiveProgress(j, this.live.get(j.jobID)!.record) : j)) };
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
    if (qi >= 0) {
      const [queued] = this.queue.splice(qi, 1);
      await fs.rm(queued.prepared.tmpDir, { recursive: true, force: true });
    }
    const now = new Date().toISOString();
    const patch: Partial<JobRecord> = { status: 'dismissed', message: 'dismissed by the client', updated: now, ...(FINISHED.includes(job.status) ? {} : { finished: now }), results: undefined };
    if (live) {
      if (live.persistTimer) clearTimeout(live.persistTimer);
      live.controller.abort(new ApiError('job-dismissed', 'the job was dismissed'));
      this.live.delete(id);
    }
    const record = await this.deps.store.update(id, patch);
    await this.deps.storage.deletePrefix(`jobs/${id}`);
    this.deps.log.info('job dismissed', { jobId: id, was: job.status });
    return record!;
  }

  /** Answer of GET /jobs/{id}/results (ogcapi-processes.md §2 Core, §3.3 not-ready, failed). */
  async results(id: string): Promise<import('../api/request.js').ApiResponse> {
    const job = await this.get(id);
    if (!job) throw new ApiError('no-such-job', `no job with id '${id}'`);
    if (job.status === 'failed') {
      const p = job.error ?? new ApiError('job-failed', job.message ?? 'the job failed').toProblem();
      return { status: p.status >= 400 ? p.status : 500, headers: { 'Content-Type': 'application/json' }, body: p };
    }
    if (job.status === 'dismissed') throw new ApiError('job-dismissed', `job '${id}' was dismissed; it has no results`);
    if (job.status !== 'successful' || !job.results) throw new ApiError('result-not-ready', `job '${id}' is ${job.status}; results are not ready yet`);
    const outputs: Record<string, OutputData> = {};
    for (const [outputId, r] of Object.entries(job.results)) {
      outputs[outputId] = { bytes: await this.deps.storage.read(r.key), mediaType: r.mediaType, json: r.json, binary: !r.json && !/^text\//.test(r.mediaType) };
    }
    return buildResultsResponse(job.request, outputs, (o) => this.resultLink(id, o));
  }

  /** One output of a finished job, raw (target of reference links). */
  async result(id: string, outputId: string): Promise<{ bytes: Buffer; mediaType: string }> {
    const job = await this.get(id);
    if (!job) throw new ApiError('no-such-job', `no job with id '${id}'`);
    if (job.status !== 'successful' || !job.results) throw new ApiError('result-not-ready', `job '${id}' is ${job.status}; results are not ready yet`);
    const r = job.results[outputId];
    if (!r) throw new ApiError('no-such-output', `job '${id}' has no output '${outputId}'`);
    return { bytes: await this.deps.storage.read(r.key), mediaType: r.mediaType };
  }

  /** An output of a synchronous execution asked by reference. */
  async syncOutput(executionId: string, outputId: string): Promise<{ bytes: Buffer; mediaType: string }> {
    if (!/^[0-9a-f-]{36}$/.test(executionId) || !/^[A-Za-z0-9_.-]+$/.test(outputId)) throw new ApiError('not-found', 'no such output');
    try {
      const manifest = JSON.parse((await this.deps.storage.read(`outputs/${executionId}/manifest.json`)).toString('utf8')) as Record<string, { mediaType: string }>;
      if (!manifest[outputId]) throw new Error('absent');
      return { bytes: await this.deps.storage.read(`outputs/${executionId}/${outputId}`), mediaType: manifest[outputId].mediaType };
    } catch {
      throw new ApiError('not-found', `no output '${outputId}' for execution '${executionId}'`);
    }
  }

  /** Set by the app: absolute URL of an async job's output (for reference links and callbacks). */
  resultLink: (jobId: string, outputId: string) => string = (jobId, outputId) => `/jobs/${jobId}/results/${outputId}`;
  /** Set by the app: absolute URL of a job's status (callbacks). */
  statusDocument: (job: JobRecord) => unknown = (job) => job;

  private callback(job: JobRecord, which: 'inProgressUri'): void {
    const uri = job.request.subscriber?.[which];
    if (uri) this.post(uri, this.statusDocument(job), this.deps.log.child({ jobId: job.jobID }));
  }

  /** POSTs a callback (fire and forget, guarded like hrefs; failures are logged, never fatal). */
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
        log.warn('callback failed', { uri, error: String(err) });
      }
    })();
  }

  /** Running + queued counts (landing page, tests). */
  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /** Stops taking jobs, aborts running ones (they are failed on next start if not finished). */
  async close(): Promise<void> {
    this.closed = true;
    for (const live of this.live.values()) live.controller.abort(new Error('server shutting down'));
    await Promise.allSettled([...this.settled]);
  }
}

export type { Problem, JobStatus };
