import { randomUUID } from 'node:crypto';
import os from 'node:os';
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
import { checkFields } from '../check-fields.js';
import type { Collection, RecordKind, RecordLocks, RecordPage, RecordQuery, RecordStore, Release } from '../record-store.js';
import { once } from '../locks.js';
import { pageOf } from './memory.js';

/** Records read per round trip when a list walks a collection. */
const SCAN_CHUNK = 500;

class RedisCollection<T extends object> implements Collection<T> {
  private readonly index: string;

  constructor(
    private readonly redis: Redis & RecordCommands,
    private readonly prefix: string,
    private readonly kind: RecordKind<T>,
    private readonly log: Logger,
  ) {
    this.index = keyOf(prefix, 'records', kind.name);
  }

  private key(id: string): string {
    return keyOf(this.prefix, 'record', this.kind.name, id);
  }

  private decode(id: string, raw: Record<string, string> | string[] | null | undefined): T | undefined {
    const record = decodeHash(raw);
    if (!record) return undefined;
    const problems = [...checkFields(record, this.kind.required), ...(this.kind.check?.(record) ?? [])];
    if (problems.length) {
      this.log.error('record in Redis cannot be served', { kind: this.kind.name, id, problems });
      return undefined;
    }
    return record as T;
  }

  async create(record: T): Promise<T> {
    const id = record[this.kind.idField] as string;
    const { set } = encodeHash(record as Record<string, unknown>);
    // Score 0 for all: equal scores order by member, whose 16-digit sequence is the creation order.
    const created = await this.redis.createRecord(this.key(id), this.index, keyOf(this.prefix, 'records-sequence'), 0, id, ...set);
    if (created !== 1) throw new Error(`${this.kind.name} '${id}' exists`);
    return structuredClone(record);
  }

  async get(id: string): Promise<T | undefined> {
    return this.decode(id, await this.redis.hgetall(this.key(id)));
  }

  /** Every record, in creation order, read in chunks. */
  private async *all(): AsyncGenerator<T> {
    for (let start = 0; ; start += SCAN_CHUNK) {
      const members = await this.redis.zrange(this.index, start, start + SCAN_CHUNK - 1);
      if (members.length) {
        const pipeline = this.redis.pipeline();
        for (const m of members) pipeline.hgetall(this.key(idOfMember(m)));
        const answers = (await pipeline.exec()) ?? [];
        for (let i = 0; i < answers.length; i++) {
          const [err, raw] = answers[i];
          if (err) throw err;
          const r = this.decode(idOfMember(members[i]), raw as Record<string, string>);
          if (r) yield r;
        }
      }
      if (members.length < SCAN_CHUNK) return;
    }
  }

  async list(query: RecordQuery<T> = {}): Promise<RecordPage<T>> {
    const records: T[] = [];
    for await (const r of this.all()) records.push(r);
    return pageOf(records, query);
  }

  async find(where: (record: T) => boolean): Promise<T | undefined> {
    for await (const r of this.all()) if (where(r)) return r;
    return undefined;
  }

  async update(id: string, patch: Partial<T>): Promise<T | undefined> {
    const { set, unset } = encodeHash(patch as Record<string, unknown>);
    const raw = await this.redis.updateRecord(this.key(id), unset.length, ...unset, ...set);
    return raw ? this.decode(id, raw) : undefined;
  }

  async updateIf(id: string, expected: Partial<T>, patch: Partial<T>): Promise<T | undefined> {
    const { set, unset } = encodeHash(patch as Record<string, unknown>);
    const conditions = conditionArgs(Object.entries(expected).flatMap(([k, v]) => (v === undefined ? [] : [[k, [v]] as const])));
    // One script: the test and the write cannot be split by another process's write (src/redis/connection.ts).
    const raw = await this.redis.updateRecordIf(this.key(id), ...conditions, unset.length, ...unset, ...set);
    return raw ? this.decode(id, raw) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.deleteRecord(this.key(id), this.index)) === 1;
  }
}

/**
 * Lock scripts. Every holder is a process (an owner id); a holder counts while its lease key
 * `<alive prefix><owner>` exists, so what a killed process held frees itself when its lease expires.
 * Readers: a hash owner → count. Writer and reservations: the owner as value.
 */
const ALIVE_READERS = `
local n = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local holder = fields[i]
  local sep = string.find(holder, '|', 1, true)
  if sep then holder = string.sub(holder, 1, sep - 1) end
  if tonumber(fields[i + 1]) > 0 and redis.call('EXISTS', ARGV[1] .. holder) == 1 then n = n + tonumber(fields[i + 1])
  else redis.call('HDEL', KEYS[1], fields[i]) end
end
return n`;

/**
 * KEYS: readers hashes; ARGV: field (`<owner>` or `<owner>|<run>`), run suffix (`|<run>`) or '' → one read
 * each, taking over the reads another process made for the same run (the server's, once a worker prepared).
 */
const TAKE_READ = `
for _, key in ipairs(KEYS) do
  if ARGV[2] ~= '' then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      if f ~= ARGV[1] and string.sub(f, -#ARGV[2]) == ARGV[2] then redis.call('HDEL', key, f) end
    end
  end
  redis.call('HINCRBY', key, ARGV[1], 1)
end
return 1`;

/** KEYS: readers hash, writer key; ARGV: alive prefix, owner → 1 taken, 0 held by a live holder. */
const TAKE_WRITE = `${ALIVE_READERS.replace('return n', '')}
if n > 0 then return 0 end
local w = redis.call('GET', KEYS[2])
if w and redis.call('EXISTS', ARGV[1] .. w) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

/** KEYS: readers hash, writer key; ARGV: alive prefix → {live readers, 1 when a live writer}. */
const HOLDERS = `${ALIVE_READERS.replace('return n', '')}
local w = redis.call('GET', KEYS[2])
local writer = 0
if w and redis.call('EXISTS', ARGV[1] .. w) == 1 then writer = 1 end
return {n, writer}`;

/**
 * KEYS: a reservation; ARGV: alive prefix, value (`<owner>` or `<owner>|<run>`), run or '' → 1 taken (free, its
 * holder's lease is gone, or it was reserved for the same run by another process: taken over), 0 held.
 */
const TAKE_KEY = `
local v = redis.call('GET', KEYS[1])
if v then
  local holder, run = v, ''
  local sep = string.find(v, '|', 1, true)
  if sep then holder, run = string.sub(v, 1, sep - 1), string.sub(v, sep + 1) end
  local same = ARGV[3] ~= '' and run == ARGV[3]
  if not same and redis.call('EXISTS', ARGV[1] .. holder) == 1 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

/** KEYS: a key; ARGV: value → deleted only while it holds this value (not after another took it over). */
const DROP_KEY = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS: readers hash; ARGV: field → one read released (a field taken over is gone: nothing left to release). */
const DROP_READ = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1`;

interface LockCommands {
  takeRead(...keysThenArgs: Array<string | number>): Promise<number>;
  takeWrite(readers: string, writer: string, alive: string, owner: string): Promise<number>;
  lockHolders(readers: string, writer: string, alive: string): Promise<[number, number]>;
  takeKey(key: string, alive: string, value: string, run: string): Promise<number>;
  dropKey(key: string, value: string): Promise<number>;
  dropRead(readers: string, owner: string): Promise<number>;
}

/** How long a holder's lease lasts without renewal, and how often it is renewed. */
export const LEASE_MS = 15_000;

/**
 * Locks kept in Redis beside the records, so that a server and the workers see the same holders.
 * Each store holds its locks as an owner with a lease (`<prefix>:alive:<owner>`, renewed every third of
 * {@link LEASE_MS}): the locks and reservations of a process that died (SIGKILL, a lost machine) stop
 * counting once its lease expires, so a job retaken by another worker gets its name again (issue 14).
 * Releases are sent at once on the store's connection (commands on one connection run in order, so a
 * check after a release sees it).
 */
class RedisLocks implements RecordLocks {
  private readonly redis: Redis & LockCommands;
  private readonly alive: string;
  private renewal?: NodeJS.Timeout;

  /** @param run the execution whose reservations these are (see {@link forRun}); '' for the process's own. */
  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly leaseMs = LEASE_MS,
    readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    private readonly run = '',
  ) {
    const commands: Array<[keyof LockCommands, number | undefined, string]> = [
      ['takeRead', undefined, TAKE_READ],
      ['takeWrite', 2, TAKE_WRITE],
      ['lockHolders', 2, HOLDERS],
      ['takeKey', 1, TAKE_KEY],
      ['dropKey', 1, DROP_KEY],
      ['dropRead', 1, DROP_READ],
    ];
    for (const [name, numberOfKeys, lua] of commands) if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    this.redis = redis as Redis & LockCommands;
    this.alive = keyOf(prefix, 'alive', '');
  }

  /** Takes the lease and keeps it (a timer that does not hold the process open). */
  async start(): Promise<void> {
    await this.renew();
    this.renewal = setInterval(() => void this.renew().catch(() => {}), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewal.unref();
  }

  private renew(): Promise<unknown> {
    return this.redis.set(this.alive + this.owner, '1', 'PX', this.leaseMs);
  }

  /** Ends the lease: whatever this process still holds stops counting. */
  async stop(): Promise<void> {
    if (this.renewal) clearInterval(this.renewal);
    await this.redis.del(this.alive + this.owner).catch(() => {});
  }

  private readers(id: string): string {
    return keyOf(this.prefix, 'lock', 'readers', id);
  }

  private writer(id: string): string {
    return keyOf(this.prefix, 'lock', 'writer', id);
  }

  async read(ids: string[]): Promise<Release> {
    const field = this.run ? `${this.owner}|${this.run}` : this.owner;
    if (ids.length) await this.redis.takeRead(ids.length, ...ids.map((id) => this.readers(id)), field, this.run ? `|${this.run}` : '');
    return once(() => {
      for (const id of ids) void this.redis.dropRead(this.readers(id), field).catch(() => {});
    });
  }

  async write(id: string): Promise<Release | undefined> {
    const taken = await this.redis.takeWrite(this.readers(id), this.writer(id), this.alive, this.owner);
    if (taken !== 1) return undefined;
    return once(() => void this.redis.dropKey(this.writer(id), this.owner).catch(() => {}));
  }

  async holders(id: string): Promise<{ readers: number; writer: boolean }> {
    const [readers, writer] = await this.redis.lockHolders(this.readers(id), this.writer(id), this.alive);
    return { readers: Math.max(0, Number(readers)), writer: Number(writer) === 1 };
  }

  async reserve(scope: string, name: string): Promise<Release | undefined> {
    const key = keyOf(this.prefix, 'reserved', scope, name);
    const value = this.run ? `${this.owner}|${this.run}` : this.owner;
    if ((await this.redis.takeKey(key, this.alive, value, this.run)) !== 1) return undefined;
    // Dropped only while still ours: a worker that took the reservation over keeps it.
    return once(() => void this.redis.dropKey(key, value).catch(() => {}));
  }

  /** This process's locks, with reservations made for `runId` (held under this process's lease). */
  forRun(runId: string): RecordLocks {
    return new RedisLocks(this.redis, this.prefix, this.leaseMs, this.owner, runId);
  }
}

/**
 * Records in Redis (issue 14): the store of the `bullmq` manager, shared by its servers and workers (a
 * worker's pyramid is a stored data the server lists). Records are hashes (one JSON field per member,
 * as the Redis job store keeps jobs) in a per-kind sorted set in creation order; writes are atomic Lua
 * scripts. Lists read the collection in creation order and filter in the process.
 */
export class RedisRecordStore implements RecordStore {
  readonly name = 'redis';
  readonly locks: RecordLocks;
  private readonly redis: Redis & RecordCommands;
  private readonly owned: boolean;
  private readonly collections = new Map<string, RedisCollection<object>>();

  private readonly leases: RedisLocks;

  /** @param options.leaseMs how long the locks of a process that stopped renewing still count (tests shorten it). */
  constructor(
    connection: string | Redis,
    private readonly prefix: string,
    private readonly log: Logger = silentLogger,
    options: { leaseMs?: number } = {},
  ) {
    this.owned = typeof connection === 'string';
    this.redis = withRecordCommands(typeof connection === 'string' ? connectRedis(connection, log) : connection);
    this.locks = this.leases = new RedisLocks(this.redis, prefix, options.leaseMs);
  }

  async open(): Promise<void> {
    await this.redis.ping();
    await this.leases.start();
  }

  collection<T extends object>(kind: RecordKind<T>): Collection<T> {
    let c = this.collections.get(kind.name);
    if (!c) this.collections.set(kind.name, (c = new RedisCollection(this.redis, this.prefix, kind as RecordKind<object>, this.log)));
    return c as unknown as Collection<T>;
  }

  async close(): Promise<void> {
    await this.leases.stop();
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
