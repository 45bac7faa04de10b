import { ProcessLocks } from '../locks.js';
import { holdsValues, patched } from '../record-file.js';
import type { Collection, RecordKind, RecordPage, RecordQuery, RecordStore } from '../record-store.js';

/** One page of `records` (in creation order) matching the query; copies. */
export function pageOf<T extends object>(records: Iterable<T>, query: RecordQuery<T> = {}): RecordPage<T> {
  const { where, offset = 0, limit = Infinity } = query;
  const items: T[] = [];
  let skipped = 0;
  for (const record of records) {
    if (where && !where(record)) continue;
    if (skipped < offset) {
      skipped++;
      continue;
    }
    if (items.length === limit) return { items, more: true };
    items.push(structuredClone(record));
  }
  return { items, more: false };
}

class MemoryCollection<T extends object> implements Collection<T> {
  private readonly records = new Map<string, T>();

  constructor(private readonly kind: RecordKind<T>) {}

  async create(record: T): Promise<T> {
    const id = record[this.kind.idField] as string;
    if (this.records.has(id)) throw new Error(`${this.kind.name} '${id}' exists`);
    this.records.set(id, structuredClone(record));
    return structuredClone(record);
  }

  async get(id: string): Promise<T | undefined> {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }

  async list(query?: RecordQuery<T>): Promise<RecordPage<T>> {
    return pageOf(this.records.values(), query);
  }

  async find(where: (record: T) => boolean): Promise<T | undefined> {
    for (const r of this.records.values()) if (where(r)) return structuredClone(r);
    return undefined;
  }

  async update(id: string, patch: Partial<T>): Promise<T | undefined> {
    const r = this.records.get(id);
    if (!r) return undefined;
    const next = patched(r, patch);
    this.records.set(id, next);
    return structuredClone(next);
  }

  async updateIf(id: string, expected: Partial<T>, patch: Partial<T>): Promise<T | undefined> {
    const r = this.records.get(id);
    if (!r || !holdsValues(r, expected)) return undefined;
    return this.update(id, patch);
  }

  async delete(id: string): Promise<boolean> {
    return this.records.delete(id);
  }
}

/** Records in memory only: for tests and throw-away servers (`manager.name: memory`). */
export class MemoryRecordStore implements RecordStore {
  readonly name = 'memory';
  readonly locks = new ProcessLocks();
  private readonly collections = new Map<string, MemoryCollection<object>>();

  async open(): Promise<void> {}

  collection<T extends object>(kind: RecordKind<T>): Collection<T> {
    let c = this.collections.get(kind.name);
    if (!c) this.collections.set(kind.name, (c = new MemoryCollection(kind as RecordKind<object>)));
    return c as unknown as Collection<T>;
  }

  async close(): Promise<void> {}
}
