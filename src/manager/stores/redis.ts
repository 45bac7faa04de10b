import type { Redis } from 'ioredis';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import {
  conditionArgs,
  connectRedis,
  decodeHash,
  encodeHash,
  idOfMember,
  keyOf,
  withRecordCommands,
  type RecordCommands,
} from '../../redis/connection.js';
import type { JobRecord, JobStatus } from '../job.js';
import { checkJob } from '../job-check.js';
import { matchesFilter, type JobFilter, type JobPage, type JobStore } from '../store.js';

/** Jobs read per round trip when a list has to filter. */
const SCAN_CHUNK = 500;

/**
 * Jobs in Redis (issue 14): what several servers and the workers of the `bullmq` manager share. A job is
 * a hash `<prefix>:job:<id>` (one field per member, JSON) and a member of the sorted set
 * `<prefix>:jobs` scored by its creation time, so list() pages newest first with ZREVRANGE; filters are
 * applied while walking that index. Every write is one Lua script (atomic on the Redis server): a create
 * refuses an existing id, an update merges its members, with no read-modify-write race between
 * processes. Durability is Redis's: the documented deployment runs it with AOF (README, Scale-out).
 */
export class RedisJobStore implements JobStore {
  readonly name = 'redis';
  private readonly redis: Redis & RecordCommands;
  private readonly index: string;
  private readonly sequence: string;
  /** True when the client is this store's own (closed with it). */
  private readonly owned: boolean;

  /** @param connection a redis:// URL (a client of its own, closed by close()) or a client to share. */
  constructor(
    connection: string | Redis,
    private readonly prefix: string,
    private readonly log: Logger = silentLogger,
  ) {
    this.redis = withRecordCommands(typeof connection === 'string' ? connectRedis(connection, log) : connection);
    this.owned = typeof connection === 'string';
    this.index = keyOf(prefix, 'jobs');
    this.sequence = keyOf(prefix, 'jobs-sequence');
  }

  private key(id: string): string {
    return keyOf(this.prefix, 'job', id);
  }

  async open(): Promise<void> {
    await this.redis.ping();
  }

  async create(job: JobRecord): Promise<void> {
    const { set } = encodeHash(job as unknown as Record<string, unknown>);
    const created = await this.redis.createRecord(
      this.key(job.jobID),
      this.index,
      this.sequence,
      Date.parse(job.created),
      job.jobID,
      ...set,
    );
    if (created !== 1) throw new Error(`job ${job.jobID} exists`);
  }

  /** A stored job, or undefined when absent or not servable (reported once per read). */
  private decode(id: string, raw: Record<string, string> | string[] | null | undefined): JobRecord | undefined {
    const record = decodeHash(raw);
    if (!record) return undefined;
    const problems = checkJob(record);
    if (problems.length) {
      this.log.error('job in Redis cannot be served', { jobId: id, problems });
      return undefined;
    }
    return record as unknown as JobRecord;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.decode(id, await this.redis.hgetall(this.key(id)));
  }

  /** The jobs of these index members, in that order (absent ones, deleted meanwhile, left out). */
  private async load(members: string[]): Promise<JobRecord[]> {
    if (members.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const m of members) pipeline.hgetall(this.key(idOfMember(m)));
    const answers = (await pipeline.exec()) ?? [];
    const jobs: JobRecord[] = [];
    answers.forEach(([err, raw], i) => {
      if (err) throw err;
      const job = this.decode(idOfMember(members[i]), raw as Record<string, string>);
      if (job) jobs.push(job);
    });
    return jobs;
  }

  async list(filter: JobFilter, offset: number, limit: number, now = Date.now()): Promise<JobPage> {
    const unfiltered = Object.values(filter).every((v) => v === undefined);
    if (unfiltered) {
      const members = await this.redis.zrevrange(this.index, offset, offset + limit);
      const jobs = await this.load(members.slice(0, limit));
      return { jobs, more: members.length > limit };
    }
    const jobs: JobRecord[] = [];
    let skipped = 0;
    for (let start = 0; ; start += SCAN_CHUNK) {
      const members = await this.redis.zrevrange(this.index, start, start + SCAN_CHUNK - 1);
      for (const job of await this.load(members)) {
        if (!matchesFilter(job, filter, now)) continue;
        if (skipped < offset) {
          skipped++;
          continue;
        }
        if (jobs.length === limit) return { jobs, more: true };
        jobs.push(job);
      }
      if (members.length < SCAN_CHUNK) return { jobs, more: false };
    }
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    const { set, unset } = encodeHash(patch as Record<string, unknown>);
    const raw = await this.redis.updateRecord(this.key(id), unset.length, ...unset, ...set);
    return raw ? this.decode(id, raw) : undefined;
  }

  async updateIf(
    id: string,
    statuses: readonly JobStatus[],
    patch: Partial<JobRecord>,
    expect: Partial<JobRecord> = {},
  ): Promise<JobRecord | undefined> {
    const { set, unset } = encodeHash(patch as Record<string, unknown>);
    const held = Object.entries(expect).filter(([, v]) => v !== undefined);
    const conditions = conditionArgs([['status', statuses], ...held.map(([k, v]) => [k, [v]] as const)]);
    const raw = await this.redis.updateRecordIf(this.key(id), ...conditions, unset.length, ...unset, ...set);
    return raw ? this.decode(id, raw) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.deleteRecord(this.key(id), this.index)) === 1;
  }

  async findByStatus(statuses: JobStatus[]): Promise<JobRecord[]> {
    const found: JobRecord[] = [];
    for (let start = 0; ; start += SCAN_CHUNK) {
      const members = await this.redis.zrange(this.index, start, start + SCAN_CHUNK - 1);
      for (const job of await this.load(members)) if (statuses.includes(job.status)) found.push(job);
      if (members.length < SCAN_CHUNK) return found;
    }
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.index);
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
