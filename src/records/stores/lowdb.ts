import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger, type Logger } from '../../log.js';
import { checkFields } from '../check-fields.js';
import { ProcessLocks } from '../locks.js';
import { holdsValues, RecordFile } from '../record-file.js';
import type { Collection, RecordKind, RecordPage, RecordQuery, RecordStore } from '../record-store.js';
import { pageOf } from './memory.js';

class LowdbCollection<T extends object> implements Collection<T> {
  constructor(
    private readonly kind: RecordKind<T>,
    private readonly file: RecordFile<T>,
  ) {}

  async create(record: T): Promise<T> {
    const id = record[this.kind.idField] as string;
    const copy = structuredClone(record);
    return this.file.change((draft) => {
      if (draft.get(id)) throw new Error(`${this.kind.name} '${id}' exists`);
      draft.set(id, copy);
      return structuredClone(copy);
    });
  }

  async get(id: string): Promise<T | undefined> {
    const r = this.file.get(id);
    return r && structuredClone(r);
  }

  async list(query?: RecordQuery<T>): Promise<RecordPage<T>> {
    return pageOf(this.file.values(), query);
  }

  async find(where: (record: T) => boolean): Promise<T | undefined> {
    for (const r of this.file.values()) if (where(r)) return structuredClone(r);
    return undefined;
  }

  async update(id: string, patch: Partial<T>): Promise<T | undefined> {
    if (!this.file.get(id)) return undefined;
    return this.file.update(id, patch);
  }

  async updateIf(id: string, expected: Partial<T>, patch: Partial<T>): Promise<T | undefined> {
    // Tested when the change runs, against the record as it is then (changes queued before it included).
    return this.file.updateIf(id, patch, (current) => holdsValues(current, expected));
  }

  async delete(id: string): Promise<boolean> {
    if (!this.file.get(id)) return false;
    return this.file.remove(id);
  }
}

/**
 * Records persisted with lowdb, one file per kind in `dir` (stored-data.json, …), each a
 * {@link RecordFile}: durable group-committed writes, memory changed only after the write, an
 * unreadable file quarantined at open.
 */
export class LowdbRecordStore implements RecordStore {
  readonly name = 'lowdb';
  readonly locks = new ProcessLocks();
  private readonly files = new Map<string, { kind: RecordKind<object>; file: RecordFile<object>; collection: Collection<object> }>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger = silentLogger,
  ) {}

  async open(kinds: ReadonlyArray<RecordKind<object>>): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    for (const kind of kinds) {
      const file = new RecordFile<object>({
        file: path.join(this.dir, kind.file),
        root: kind.name,
        idField: kind.idField,
        indent: 1,
        check: (entry) => [...checkFields(entry, kind.required), ...(kind.check?.(entry) ?? [])],
      });
      await file.load(this.log);
      this.files.set(kind.name, { kind, file, collection: new LowdbCollection(kind, file) });
    }
  }

  collection<T extends object>(kind: RecordKind<T>): Collection<T> {
    const entry = this.files.get(kind.name);
    if (!entry) throw new Error(`record kind '${kind.name}' was not opened`);
    return entry.collection as unknown as Collection<T>;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.file.idle()));
  }
}
