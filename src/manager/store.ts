import type { JobRecord, JobStatus } from './job.js';
import { FINISHED } from './job.js';

/** Filters of GET /jobs (ogcapi-processes.md §2 "Job list"). */
export interface JobFilter {
  type?: string[];
  processID?: string[];
  status?: JobStatus[];
  /** Interval on `created`, ms since epoch; undefined bounds are open. */
  datetime?: { start?: number; end?: number; instant?: number };
  /** Seconds. */
  minDuration?: number;
  maxDuration?: number;
}

export interface JobPage {
  jobs: JobRecord[];
  /** True when jobs after this page match too (for the `next` link). */
  more: boolean;
}

/**
 * Persistence of jobs (DESIGN §4): the manager owns execution; stores only persist. Every store
 * passes the shared suite in test/manager/job-store.suite.ts. A write resolves only once durable.
 */
export interface JobStore {
  readonly name: string;
  /** Loads what is persisted. Called once before use. */
  open(): Promise<void>;
  create(job: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Newest first (by `created`, then creation order). */
  list(filter: JobFilter, offset: number, limit: number, now?: number): Promise<JobPage>;
  /** Merges `patch` into the job; resolves to the updated record, undefined when absent. */
  update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined>;
  /**
   * {@link update} only while the job's status is one of `statuses` and each defined member of `expect` holds
   * that value, checked and written at once (a worker starting a job that a server dismissed meanwhile must not
   * write `running` over `dismissed`; a run whose job another worker took since — same status, another
   * `worker`/`started` — must not write its end over the new run's); undefined when absent or not so.
   */
  updateIf(
    id: string,
    statuses: readonly JobStatus[],
    patch: Partial<JobRecord>,
    expect?: Partial<JobRecord>,
  ): Promise<JobRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** Jobs in these states (for crash recovery at start-up). */
  findByStatus(statuses: JobStatus[]): Promise<JobRecord[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** The job-list filter rule shared by every store. */
export function matchesFilter(job: JobRecord, filter: JobFilter, now: number): boolean {
  if (filter.type && !filter.type.includes(job.type)) return false;
  if (filter.processID && !filter.processID.includes(job.processID)) return false;
  if (filter.status && !filter.status.includes(job.status)) return false;
  if (filter.datetime) {
    const created = Date.parse(job.created);
    const { start, end, instant } = filter.datetime;
    if (instant !== undefined && created !== instant) return false;
    if (start !== undefined && created < start) return false;
    if (end !== undefined && created > end) return false;
  }
  if (filter.minDuration !== undefined || filter.maxDuration !== undefined) {
    // /req/job-list/duration: running jobs count now − started, finished ones finished − started;
    // jobs without those times are left out, and so (without a status filter) are accepted ones.
    if (!job.started) return false;
    const running = job.status === 'running';
    if (!running && !FINISHED.includes(job.status)) return false;
    const endMs = running ? now : job.finished ? Date.parse(job.finished) : undefined;
    if (endMs === undefined) return false;
    const seconds = (endMs - Date.parse(job.started)) / 1000;
    if (filter.minDuration !== undefined && seconds < filter.minDuration) return false;
    if (filter.maxDuration !== undefined && seconds > filter.maxDuration) return false;
  }
  return true;
}

/** Newest-first page over jobs kept in creation order (shared by the in-memory indexes of the stores). */
export function pageNewestFirst(ordered: readonly JobRecord[], filter: JobFilter, offset: number, limit: number, now: number): JobPage {
  const jobs: JobRecord[] = [];
  let skipped = 0;
  for (let i = ordered.length - 1; i >= 0; i--) {
    const job = ordered[i];
    if (!matchesFilter(job, filter, now)) continue;
    if (skipped < offset) {
      skipped++;
      continue;
    }
    if (jobs.length === limit) return { jobs, more: true };
    jobs.push(job);
  }
  return { jobs, more: false };
}
