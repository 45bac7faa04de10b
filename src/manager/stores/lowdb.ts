import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import type { JobRecord, JobStatus } from '../job.js';
import { pageNewestFirst, type JobFilter, type JobPage, type JobStore } from '../store.js';

interface SegmentData {
  jobs: JobRecord[];
}

interface Segment {
  index: number;
  db: Low<SegmentData>;
  jobs: Set<JobRecord>;
}

/** Jobs per segment file: small enough that rewriting one stays cheap (~1 ms per 1,000 jobs). */
const SEGMENT_SIZE = 1000;

/**
 * The default job store, persisted with lowdb. lowdb rewrites a whole file on each write, so one
 * file for every job would make each submission O(number of jobs) — pygeoapi's TinyDB mistake
 * (ogcapi-processes.md §0.4). Jobs are therefore kept in segment files of SEGMENT_SIZE jobs in
 * creation order (jobs-000001.json, …) and writes are group-committed: every change made while a
 * flush is pending joins it, and each flush rewrites only the segments that changed (in practice
 * the newest one). A write resolves once its flush is on disk, so a job is stored before its 201.
 */
export class LowdbJobStore implements JobStore {
  readonly name = 'lowdb';
  private readonly byId = new Map<string, { job: JobRecord; segment: Segment }>();
  private readonly ordered: JobRecord[] = [];
  private readonly segments: Segment[] = [];
  private readonly dirty = new Set<Segment>();
  private flushing: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  private orderedDirty = false;

  constructor(private readonly dir: string) {}

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const files = (await fs.readdir(this.dir)).filter((f) => /^jobs-\d{6}\.json$/.test(f)).sort();
    for (const file of files) {
      const index = Number(file.slice(5, 11));
      const segment = this.newSegment(index);
      await segment.db.read();
      for (const job of segment.db.data.jobs ?? []) {
        segment.jobs.add(job);
        this.byId.set(job.jobID, { job, segment });
        this.ordered.push(job);
      }
      this.segments.push(segment);
    }
    this.ordered.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  }

  private newSegment(index: number): Segment {
    const file = path.join(this.dir, `jobs-${String(index).padStart(6, '0')}.json`);
    const adapter = new DataFile<SegmentData>(file, { parse: JSON.parse, stringify: (d) => JSON.stringify(d) });
    return { index, db: new Low<SegmentData>(adapter, { jobs: [] }), jobs: new Set() };
  }

  private currentSegment(): Segment {
    let last = this.segments[this.segments.length - 1];
    if (!last || last.jobs.size >= SEGMENT_SIZE) {
      last = this.newSegment((last?.index ?? 0) + 1);
      this.segments.push(last);
    }
    return last;
  }

  /** Group commit: resolves when every change made before the call is on disk. */
  private commit(segment: Segment): Promise<void> {
    this.dirty.add(segment);
    if (this.pending) return this.pending;
    const run = async () => {
      if (this.flushing) await this.flushing.catch(() => {});
      this.pending = undefined;
      const segments = [...this.dirty];
      this.dirty.clear();
      const flush = Promise.all(
        segments.map((s) => {
          s.db.data = { jobs: [...s.jobs] };
          return s.db.write();
        }),
      ).then(() => undefined);
      this.flushing = flush;
      await flush;
    };
    this.pending = new Promise<void>((resolve) => setImmediate(resolve)).then(run);
    return this.pending;
  }

  async create(job: JobRecord): Promise<void> {
    if (this.byId.has(job.jobID)) throw new Error(`job ${job.jobID} exists`);
    const copy = structuredClone(job);
    const segment = this.currentSegment();
    segment.jobs.add(copy);
    this.byId.set(copy.jobID, { job: copy, segment });
    const last = this.ordered[this.ordered.length - 1];
    this.ordered.push(copy);
    if (last && last.created > copy.created) this.orderedDirty = true;
    await this.commit(segment);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const entry = this.byId.get(id);
    return entry && structuredClone(entry.job);
  }

  async list(filter: JobFilter, offset: number, limit: number, now = Date.now()): Promise<JobPage> {
    if (this.orderedDirty) {
      this.ordered.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
      this.orderedDirty = false;
    }
    const page = pageNewestFirst(this.ordered, filter, offset, limit, now);
    return { jobs: page.jobs.map((j) => structuredClone(j)), more: page.more };
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    Object.assign(entry.job, structuredClone(patch));
    const result = structuredClone(entry.job);
    await this.commit(entry.segment);
    return result;
  }

  async delete(id: string): Promise<boolean> {
    const entry = this.byId.get(id);
    if (!entry) return false;
    this.byId.delete(id);
    entry.segment.jobs.delete(entry.job);
    const i = this.ordered.lastIndexOf(entry.job);
    if (i >= 0) this.ordered.splice(i, 1);
    await this.commit(entry.segment);
    return true;
  }

  async findByStatus(statuses: JobStatus[]): Promise<JobRecord[]> {
    return this.ordered.filter((j) => statuses.includes(j.status)).map((j) => structuredClone(j));
  }

  async count(): Promise<number> {
    return this.byId.size;
  }

  async close(): Promise<void> {
    while (this.pending || this.flushing) {
      await (this.pending ?? this.flushing);
      if (!this.pending) {
        await this.flushing;
        this.flushing = undefined;
      }
    }
  }
}
