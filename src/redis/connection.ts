import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { silentLogger, type Logger } from '../log.js';

/**
 * A Redis client for `manager.connection` (redis://host:port[/db], rediss:// for TLS). One place for
 * the options every user needs: BullMQ's blocking connections require `maxRetriesPerRequest: null`
 * (a command waits for a reconnection instead of failing after a few tries), which also suits the
 * stores: a Redis restart delays requests instead of failing them (issue 14, faults).
 */
export function connectRedis(url: string, log: Logger = silentLogger, options: RedisOptions = {}): Redis {
  // Required here, not imported at the top: processes run on lowdb never load ioredis (start-up time).
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const redis = new RedisClient(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
  // ioredis reconnects by itself; a lost connection is said once until it is back (not once per retry).
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn('Redis connection lost; reconnecting', { error: err.message });
  });
  redis.on('ready', () => {
    if (down) log.info('Redis connection back');
    down = false;
  });
  return redis;
}

/** Keys of one deployment: every key starts with `<prefix>:` so that several can share one Redis. */
export function keyOf(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join(':');
}

/** Decodes the members of a hash written field by field as JSON (HGETALL answer), leaving out `#` fields. */
export function decodeHash(raw: Record<string, string> | string[] | null | undefined): Record<string, unknown> | undefined {
  if (!raw) return undefined;
  const entries: Array<[string, string]> = Array.isArray(raw)
    ? Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i], raw[2 * i + 1]])
    : Object.entries(raw);
  if (entries.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) if (!k.startsWith('#')) out[k] = JSON.parse(v);
  return out;
}

/** A flat [field, JSON value, …] list of the defined members, and the names of the undefined ones (to delete). */
export function encodeHash(record: Record<string, unknown>): { set: string[]; unset: string[] } {
  const set: string[] = [];
  const unset: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) unset.push(k);
    else set.push(k, JSON.stringify(v));
  }
  return { set, unset };
}

/**
 * Lua scripts shared by the Redis stores. A record is a hash, one field per top-level member (JSON),
 * so that a patch is an HSET/HDEL of its members (the shallow merge of the store contracts) done
 * atomically on the server, with no read-modify-write race between servers and workers.
 * `#order` holds the member of the record in its collection's sorted set (score: creation time,
 * members `<16-digit sequence>:<id>`, so equal times keep creation order).
 */
export const SCRIPTS = {
  /** KEYS: record, index, sequence; ARGV: score, id, field, value, … → 1 created, 0 exists. */
  createRecord: {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[3])
local member = string.format('%016d', seq) .. ':' .. ARGV[2]
redis.call('HSET', KEYS[1], '#order', member, unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], member)
return 1`,
  },
  /** KEYS: record; ARGV: count of fields to delete, those fields, then field, value, … → the record (HGETALL) or nil. */
  updateRecord: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local n = tonumber(ARGV[1])
for i = 2, n + 1 do redis.call('HDEL', KEYS[1], ARGV[i]) end
if #ARGV > n + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, n + 2)) end
return redis.call('HGETALL', KEYS[1])`,
  },
  /**
   * {@link SCRIPTS.updateRecord} only while the record meets every condition (a compare-and-set): ARGV[1] is
   * the count of conditions, each `field, count of values, values…` (as stored: JSON) and met when the field
   * holds one of them (an absent field meets none); then the count of fields to delete, those fields, then
   * field, value, … → the record, or nil when absent or a condition is not met. See {@link conditionArgs}.
   */
  updateRecordIf: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local k = tonumber(ARGV[i + 1])
  local met = false
  for j = i + 2, i + 1 + k do if ARGV[j] == current then met = true end end
  if not met then return nil end
  i = i + 2 + k
end
local n = tonumber(ARGV[i])
for j = i + 1, i + n do redis.call('HDEL', KEYS[1], ARGV[j]) end
if #ARGV > i + n then redis.call('HSET', KEYS[1], unpack(ARGV, i + n + 1)) end
return redis.call('HGETALL', KEYS[1])`,
  },
  /** KEYS: record, index → 1 deleted, 0 absent. */
  deleteRecord: {
    numberOfKeys: 2,
    lua: `
local member = redis.call('HGET', KEYS[1], '#order')
if not member then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], member)
return 1`,
  },
} as const;

/**
 * The conditions of {@link SCRIPTS.updateRecordIf}, as its arguments: for each field, the values it may hold
 * (encoded as {@link encodeHash} stores them).
 */
export function conditionArgs(conditions: ReadonlyArray<readonly [field: string, values: readonly unknown[]]>): Array<string | number> {
  const args: Array<string | number> = [conditions.length];
  for (const [field, values] of conditions) args.push(field, values.length, ...values.map((v) => JSON.stringify(v)));
  return args;
}

/** The scripts as commands of a client (defined once per client). */
export interface RecordCommands {
  createRecord(record: string, index: string, sequence: string, score: number, id: string, ...fields: string[]): Promise<number>;
  updateRecord(record: string, nUnset: number, ...fields: string[]): Promise<string[] | null>;
  updateRecordIf(record: string, ...conditionsThenFields: Array<string | number>): Promise<string[] | null>;
  deleteRecord(record: string, index: string): Promise<number>;
}

export function withRecordCommands(redis: Redis): Redis & RecordCommands {
  for (const [name, s] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis as Redis & RecordCommands;
}

/** The id of an index member (`<sequence>:<id>`). */
export function idOfMember(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}
