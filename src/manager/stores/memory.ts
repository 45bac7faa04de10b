import { holdsValues } from '../../records/record-file.js';
import type { JobRecord, JobStatus } from '../job.js';
import { pageNewestFirst, type JobFilter, type JobPage, type JobStore } from '../store.js';

/** Jobs in memory only: for tests and throw-away servers. */
export class MemoryJobStore implements JobStore {
  readonly name = 'memory';
  private readonly byId = new Map<string, JobRecord>();
  private ordered: JobRecord[] = [];

  async open(): Promise<void> {}

  async create(job: JobRecord): Promise<void> {
    if (this.byId.has(job.jobID)) throw new Error(`job ${job.jobID} exists`);
    const copy = structuredClone(job);
    this.byId.set(job.jobID, copy);
    // Kept sorted by `created` (then creation order) so that list() is newest first as the
    // JobStore contract says, even when a job is created with an earlier timestamp.
    let i = this.ordered.length;
    while (i > 0 && this.ordered[i - 1].created > copy.created) i--;
    this.ordered.splice(i, 0, copy);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const job = this.byId.get(id);
    return job && structuredClone(job);
  }

  async list(filter: JobFilter, offset: number, limit: number, now = Date.now()): Promise<JobPage> {
    const page = pageNewestFirst(this.ordered, filter, offset, limit, now);
    return { jobs: page.jobs.map((j) => structuredClone(j)), more: page.more };
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    const job = this.byId.get(id);
    if (!job) return undefined;
    Object.assign(job, structuredClone(patch));
    return structuredClone(job);
  }

  async updateIf(
    id: string,
    statuses: readonly JobStatus[],
    patch: Partial<JobRecord>,
    expect: Partial<JobRecord> = {},
  ): Promise<JobRecord | undefined> {
    const job = this.byId.get(id);
    if (!job || !statuses.includes(job.status) || !holdsValues(job, expect)) return undefined;
    Object.assign(job, structuredClone(patch));
    return structuredClone(job);
  }

  async delete(id: string): Promise<boolean> {
    const job = this.byId.get(id);
    if (!job) return false;
    this.byId.delete(id);
    this.ordered = this.ordered.filter((j) => j !== job);
    return true;
  }

  async findByStatus(statuses: JobStatus[]): Promise<JobRecord[]> {
    return this.ordered.filter((j) => statuses.includes(j.status)).map((j) => structuredClone(j));
  }

  async count(): Promise<number> {
    return this.byId.size;
  }

  async close(): Promise<void> {}
}
