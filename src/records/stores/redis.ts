import type { Redis } from 'ioredis';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import {
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

  async delete(id: string): Promise<boolean> {
    return (await this.redis.deleteRecord(this.key(id), this.index)) === 1;
  }
}

/** KEYS: readers counter, writer flag → 1 taken, 0 held by others. */
const TAKE_WRITE = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1')
return 1`;

/**
 * Locks kept in Redis beside the records, so that a server and the workers see the same holders.
 * Releases are sent at once on the store's connection (commands on one connection run in order, so a
 * check after a release sees it). A process killed while holding one leaves it held: the scale-out
 * deployment's recovery is the operator's (README, Scale-out).
 */
class RedisLocks implements RecordLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    if (!('takeWriteLock' in redis)) redis.defineCommand('takeWriteLock', { numberOfKeys: 2, lua: TAKE_WRITE });
  }

  private readers(id: string): string {
    return keyOf(this.prefix, 'lock', 'readers', id);
  }

  private writer(id: string): string {
    return keyOf(this.prefix, 'lock', 'writer', id);
  }

  async read(ids: string[]): Promise<Release> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.incr(this.readers(id));
    await pipeline.exec();
    return once(() => {
      const p = this.redis.pipeline();
      for (const id of ids) p.decr(this.readers(id));
      void p.exec().catch(() => {});
    });
  }

  async write(id: string): Promise<Release | undefined> {
    const taken = await (this.redis as unknown as { takeWriteLock(a: string, b: string): Promise<number> }).takeWriteLock(
      this.readers(id),
      this.writer(id),
    );
    if (taken !== 1) return undefined;
    return once(() => void this.redis.del(this.writer(id)).catch(() => {}));
  }

  async holders(id: string): Promise<{ readers: number; writer: boolean }> {
    const [readers, writer] = await Promise.all([this.redis.get(this.readers(id)), this.redis.exists(this.writer(id))]);
    return { readers: Math.max(0, Number(readers ?? 0)), writer: writer === 1 };
  }

  async reserve(scope: string, name: string): Promise<Release | undefined> {
    const key = keyOf(this.prefix, 'reserved', scope, name);
    if ((await this.redis.set(key, '1', 'NX')) !== 'OK') return undefined;
    return once(() => void this.redis.del(key).catch(() => {}));
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

  constructor(
    connection: string | Redis,
    private readonly prefix: string,
    private readonly log: Logger = silentLogger,
  ) {
    this.owned = typeof connection === 'string';
    this.redis = withRecordCommands(typeof connection === 'string' ? connectRedis(connection, log) : connection);
    this.locks = new RedisLocks(this.redis, prefix);
  }

  async open(): Promise<void> {
    await this.redis.ping();
  }

  collection<T extends object>(kind: RecordKind<T>): Collection<T> {
    let c = this.collections.get(kind.name);
    if (!c) this.collections.set(kind.name, (c = new RedisCollection(this.redis, this.prefix, kind as RecordKind<object>, this.log)));
    return c as unknown as Collection<T>;
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
