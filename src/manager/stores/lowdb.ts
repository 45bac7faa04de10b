import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import { holdsValues, RecordFile } from '../../records/record-file.js';
import type { JobRecord, JobStatus } from '../job.js';
import { checkJob } from '../job-check.js';
import { pageNewestFirst, type JobFilter, type JobPage, type JobStore } from '../store.js';

interface Segment {
  index: number;
  file: RecordFile<JobRecord>;
  /** Jobs written or being written to it (it takes no more past SEGMENT_SIZE). */
  slots: number;
}

/** Jobs per segment file: small enough that rewriting one stays cheap (~1 ms per 1,000 jobs). */
const SEGMENT_SIZE = 1000;
const SEGMENT_NAME = /^jobs-(\d{6})\.json$/;

const byCreated = (a: JobRecord, b: JobRecord) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0);

/**
 * The default job store, persisted with lowdb. lowdb rewrites a whole file on each write, so one
 * file for every job would make each submission O(number of jobs) — pygeoapi's TinyDB mistake
 * (ogcapi-processes.md §0.4). Jobs are therefore kept in segment files of SEGMENT_SIZE jobs in
 * creation order (jobs-000001.json, …), each a {@link RecordFile}: writes are group-committed and
 * durable (temp file, fsync, rename, fsync of the folder), a change resolves once on disk (a job is
 * stored before its 201), and memory changes only after the write succeeded (a full disk leaves the
 * job list as it was). An unreadable segment is quarantined at open and the others are served.
 */
export class LowdbJobStore implements JobStore {
  readonly name = 'lowdb';
  private readonly byId = new Map<string, { job: JobRecord; segment: Segment }>();
  private readonly ordered: JobRecord[] = [];
  private readonly segments: Segment[] = [];
  /** Ids of creates queued but not yet written (a duplicate is refused before it is written). */
  private readonly creating = new Set<string>();
  private orderedDirty = false;

  constructor(
    private readonly dir: string,
    private readonly log: Logger = silentLogger,
  ) {}

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const files = (await fs.readdir(this.dir)).filter((f) => SEGMENT_NAME.test(f)).sort();
    for (const file of files) {
      const segment = this.newSegment(Number(SEGMENT_NAME.exec(file)![1]));
      await segment.file.load(this.log);
      segment.slots = segment.file.size;
      this.segments.push(segment);
    }
    this.ordered.sort(byCreated);
  }

  private newSegment(index: number): Segment {
    const segment: Segment = { index, slots: 0, file: undefined as unknown as RecordFile<JobRecord> };
    segment.file = new RecordFile<JobRecord>({
      file: path.join(this.dir, `jobs-${String(index).padStart(6, '0')}.json`),
      root: 'jobs',
      idField: 'jobID',
      check: checkJob,
      onAdded: (job) => {
        // Two segments holding one id (a copy restored by hand): the first one read is served.
        if (this.byId.has(job.jobID)) return;
        this.byId.set(job.jobID, { job, segment });
        const last = this.ordered[this.ordered.length - 1];
        this.ordered.push(job);
        if (last && last.created > job.created) this.orderedDirty = true;
      },
      onRemoved: (job) => {
        this.byId.delete(job.jobID);
        const i = this.ordered.lastIndexOf(job);
        if (i >= 0) this.ordered.splice(i, 1);
      },
    });
    return segment;
  }

  private currentSegment(): Segment {
    let last = this.segments[this.segments.length - 1];
    if (!last || last.slots >= SEGMENT_SIZE) {
      last = this.newSegment((last?.index ?? 0) + 1);
      this.segments.push(last);
    }
    return last;
  }

  async create(job: JobRecord): Promise<void> {
    if (this.byId.has(job.jobID) || this.creating.has(job.jobID)) throw new Error(`job ${job.jobID} exists`);
    const copy = structuredClone(job);
    const segment = this.currentSegment();
    segment.slots++;
    this.creating.add(job.jobID);
    try {
      await segment.file.change((draft) => draft.set(copy.jobID, copy));
    } catch (err) {
      segment.slots--;
      throw err;
    } finally {
      this.creating.delete(job.jobID);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const entry = this.byId.get(id);
    return entry && structuredClone(entry.job);
  }

  async list(filter: JobFilter, offset: number, limit: number, now = Date.now()): Promise<JobPage> {
    if (this.orderedDirty) {
      this.ordered.sort(byCreated);
      this.orderedDirty = false;
    }
    const page = pageNewestFirst(this.ordered, filter, offset, limit, now);
    return { jobs: page.jobs.map((j) => structuredClone(j)), more: page.more };
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    return entry.segment.file.update(id, patch);
  }

  async updateIf(
    id: string,
    statuses: readonly JobStatus[],
    patch: Partial<JobRecord>,
    expect: Partial<JobRecord> = {},
  ): Promise<JobRecord | undefined> {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    return entry.segment.file.updateIf(id, patch, (current) => statuses.includes(current.status) && holdsValues(current, expect));
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.byId.get(id);
    if (!entry) return false;
    return entry.segment.file.remove(id);
  }

  async findByStatus(statuses: JobStatus[]): Promise<JobRecord[]> {
    return this.ordered.filter((j) => statuses.includes(j.status)).map((j) => structuredClone(j));
  }

  async count(): Promise<number> {
    return this.byId.size;
  }

  async close(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.file.idle()));
  }
}
