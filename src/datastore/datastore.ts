import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { ApiError } from '../errors.js';

export type StoredDataStatus = 'GENERATING' | 'READY' | 'FAILED' | 'DELETED';

/** A product kept by the server (a pyramid, a COG catalog), in the shape of the Entrepôt's stored data. */
export interface StoredData {
  _id: string;
  name: string;
  type: string;
  status: StoredDataStatus;
  created: string;
  updated: string;
  /** Ids of the stored data this one references (rok4.md §7: they must not be deleted). */
  use: string[];
  /** The job that produced it. */
  jobId?: string;
  /** Bytes on storage (own objects, references excluded). */
  size?: number;
  /** Type-specific facts (tms, format, levels, bbox…). */
  type_infos: Record<string, unknown>;
  /** Where it lives: storage key of its main object (a pyramid descriptor). */
  storage: { type: string; key: string; href?: string };
  message?: string;
}

export interface StoredDataFilter {
  type?: string;
  status?: string;
  name?: string;
}

/**
 * Stored data records with their dependencies (DESIGN §2, §7). A record that another one `use`s,
 * or that a running job reads or writes, cannot be deleted (409).
 */
export class Datastore {
  private db: Low<{ stored_data: StoredData[] }> | undefined;
  /** Stored data id → number of jobs reading it or writing it right now. */
  private readonly locks = new Map<string, { readers: number; writer: boolean }>();
  /** Names reserved for products that submitted jobs will write (see {@link reserveName}). */
  private readonly reservedNames = new Set<string>();

  /** `file` undefined keeps records in memory only. */
  constructor(private readonly file?: string) {}

  async open(): Promise<void> {
    if (!this.file) {
      this.db = new Low<{ stored_data: StoredData[] }>({ read: async () => null, write: async () => {} }, { stored_data: [] });
      return;
    }
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    this.db = new Low(new DataFile(this.file, { parse: JSON.parse, stringify: (d) => JSON.stringify(d, null, 1) }), { stored_data: [] });
    await this.db.read();
    this.db.data.stored_data ??= [];
  }

  private get records(): StoredData[] {
    if (!this.db) throw new Error('datastore not opened');
    return this.db.data.stored_data;
  }

  /** `beforeVisible` runs with the new id before the record can be seen (see {@link createForWrite}). */
  async create(fields: Omit<StoredData, '_id' | 'created' | 'updated' | 'use' | 'status' | 'type_infos' | 'storage'> & Partial<StoredData>, beforeVisible?: (id: string) => void): Promise<StoredData> {
    const now = new Date().toISOString();
    const record: StoredData = {
      _id: randomUUID(),
      status: 'GENERATING',
      use: [],
      type_infos: {},
      storage: { type: 'FILE', key: '' },
      ...fields,
      created: now,
      updated: now,
    };
    beforeVisible?.(record._id);
    this.records.push(record);
    await this.db!.write();
    return structuredClone(record);
  }

  /**
   * Creates the record of a product a job is about to write, locked for writing from the moment it
   * exists: it is visible (GENERATING) while `create` persists it, and a DELETE in that moment must
   * get a 409, not remove what the job then writes.
   */
  async createForWrite(fields: Parameters<Datastore['create']>[0]): Promise<{ record: StoredData; release: () => void }> {
    let release: (() => void) | undefined;
    const record = await this.create(fields, (id) => { release = this.lockForWrite(id); });
    return { record, release: release! };
  }

  get(id: string): StoredData | undefined {
    const r = this.records.find((s) => s._id === id);
    return r && structuredClone(r);
  }

  /** The record or a 404 naming it. */
  require(id: string, label = 'stored data'): StoredData {
    const r = this.get(id);
    if (!r || r.status === 'DELETED') throw new ApiError('not-found', `${label} '${id}' does not exist`);
    return r;
  }

  /**
   * Reserves `name` for a product a job will write, from its submission until the returned release is
   * called (its record then exists, or the run never wrote it). Undefined when a live record has the name
   * or another job reserved it. Check and reservation are one step: two submissions never both get it.
   */
  reserveName(name: string): (() => void) | undefined {
    if (this.reservedNames.has(name) || this.findByName(name)) return undefined;
    this.reservedNames.add(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reservedNames.delete(name);
    };
  }

  findByName(name: string, type?: string): StoredData | undefined {
    return this.records.find((s) => s.name === name && s.status !== 'DELETED' && (!type || s.type === type));
  }

  list(filter: StoredDataFilter = {}): StoredData[] {
    return this.records
      .filter((s) => (!filter.type || s.type === filter.type) && (!filter.status || s.status === filter.status) && (!filter.name || s.name.includes(filter.name)))
      .map((s) => structuredClone(s));
  }

  async update(id: string, patch: Partial<StoredData>): Promise<StoredData> {
    const r = this.records.find((s) => s._id === id);
    if (!r) throw new Error(`no stored data ${id}`);
    Object.assign(r, patch, { updated: new Date().toISOString() });
    await this.db!.write();
    return structuredClone(r);
  }

  /** `use`: what it references; `used_by`: live records that reference it. */
  dependencies(id: string): { use: Array<{ _id: string; name: string }>; used_by: Array<{ _id: string; name: string }> } {
    const r = this.require(id);
    const named = (x: StoredData) => ({ _id: x._id, name: x.name });
    return {
      use: r.use.map((u) => this.records.find((s) => s._id === u)).filter((s): s is StoredData => !!s).map(named),
      used_by: this.records.filter((s) => s.status !== 'DELETED' && s.status !== 'FAILED' && s.use.includes(id)).map(named),
    };
  }

  /** Why a record cannot be deleted now, or undefined. */
  deletionBlocker(id: string): string | undefined {
    const users = this.dependencies(id).used_by;
    if (users.length) return `stored data '${id}' is used by ${users.map((u) => `'${u.name}' (${u._id})`).join(', ')}`;
    const lock = this.locks.get(id);
    if (lock?.writer) return `stored data '${id}' is being written by a job`;
    if (lock && lock.readers > 0) return `stored data '${id}' is read by ${lock.readers} submitted job(s) until they end`;
    return undefined;
  }

  /** Marks records as read by a job (from its submission) until the returned release function is called. */
  lockForRead(ids: string[]): () => void {
    for (const id of ids) {
      const l = this.locks.get(id) ?? { readers: 0, writer: false };
      l.readers++;
      this.locks.set(id, l);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of ids) {
        const l = this.locks.get(id);
        if (l) l.readers--;
      }
    };
  }

  lockForWrite(id: string): () => void {
    const l = this.locks.get(id) ?? { readers: 0, writer: false };
    l.writer = true;
    this.locks.set(id, l);
    return () => {
      const cur = this.locks.get(id);
      if (cur) cur.writer = false;
    };
  }
}
