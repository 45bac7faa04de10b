import { randomUUID } from 'node:crypto';
import { ApiError } from '../errors.js';
import { CONFIGURATIONS, OFFERINGS, type Configuration, type Offering } from './publication.js';
import type { Collection, RecordKind, RecordLocks, RecordStore, Release } from './record-store.js';

export type StoredDataStatus = 'GENERATING' | 'READY' | 'FAILED' | 'DELETED';

const STATUSES = new Set<string>(['GENERATING', 'READY', 'FAILED', 'DELETED']);

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
  storage: { type: string; key: string; href?: string; name?: string };
  message?: string;
}

/** The stored data kind: what its pages and dependency checks need of a record. */
export const STORED_DATA: RecordKind<StoredData> = {
  name: 'stored_data',
  file: 'stored-data.json',
  idField: '_id',
  required: {
    _id: 'string',
    name: 'string',
    type: 'string',
    status: 'string',
    created: 'string',
    updated: 'string',
    use: 'array',
    type_infos: 'object',
    storage: 'object',
  },
  check: (r) => (typeof r.status === 'string' && !STATUSES.has(r.status) ? [`unknown status '${r.status}'`] : []),
};

export interface StoredDataFilter {
  type?: string;
  status?: string;
  name?: string;
}

export type NewStoredData = Omit<StoredData, '_id' | 'created' | 'updated' | 'use' | 'status' | 'type_infos' | 'storage'> &
  Partial<StoredData>;

/** Live: neither deleted nor failed (what `used_by` counts). */
const live = (s: StoredData) => s.status !== 'DELETED' && s.status !== 'FAILED';

/**
 * Stored data records with their dependencies (DESIGN §2, §7), over any {@link RecordStore}. A record
 * that another one `use`s, or that a running job reads or writes, cannot be deleted (409).
 */
export class Datastore {
  private readonly records: Collection<StoredData>;
  private readonly locks: RecordLocks;
  /** Configurations publish stored data: they use it as pyramids use their ancestors (issue 10). */
  private readonly configurations: Collection<Configuration>;
  /**
   * Offerings serve their own snapshot of a configuration until synchronized: a pyramid a configuration
   * no longer names may still be served, and must stay until the offering moves on.
   */
  private readonly offerings: Collection<Offering>;

  constructor(
    private readonly store: RecordStore,
    locks: RecordLocks = store.locks,
  ) {
    this.records = store.collection(STORED_DATA);
    this.configurations = store.collection(CONFIGURATIONS);
    this.offerings = store.collection(OFFERINGS);
    this.locks = locks;
  }

  /**
   * The datastore as one execution sees it: the names it reserves are the execution's, so that a bullmq
   * worker preparing a job takes over what the server reserved for it at submission (RecordLocks.forRun).
   */
  forRun(runId: string): Datastore {
    return new Datastore(this.store, this.store.locks.forRun(runId));
  }

  async create(fields: NewStoredData): Promise<StoredData> {
    const now = new Date().toISOString();
    return this.records.create({
      _id: randomUUID(),
      status: 'GENERATING',
      use: [],
      type_infos: {},
      storage: { type: 'FILE', key: '' },
      ...fields,
      created: now,
      updated: now,
    });
  }

  /**
   * Creates the record of a product a job is about to write, locked for writing before it can be
   * seen: a DELETE the moment it appears gets a 409, and cannot remove what the job then writes.
   */
  async createForWrite(fields: NewStoredData): Promise<{ record: StoredData; release: Release }> {
    const id = fields._id ?? randomUUID();
    const release = await this.lockForWrite(id);
    try {
      return { record: await this.create({ ...fields, _id: id }), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  get(id: string): Promise<StoredData | undefined> {
    return this.records.get(id);
  }

  /** The record or a 404 naming it. */
  async require(id: string, label = 'stored data'): Promise<StoredData> {
    const r = await this.get(id);
    if (!r || r.status === 'DELETED') throw new ApiError('not-found', `${label} '${id}' does not exist`);
    return r;
  }

  findByName(name: string, type?: string): Promise<StoredData | undefined> {
    return this.records.find((s) => s.name === name && s.status !== 'DELETED' && (!type || s.type === type));
  }

  /**
   * Reserves `name` for a product a job will write, from its submission until the returned release
   * is called (its record then exists, or the run never wrote it). Undefined when a live record has
   * the name or another job reserved it: two submissions never both get it.
   */
  async reserveName(name: string): Promise<Release | undefined> {
    const release = await this.locks.reserve(STORED_DATA.name, name);
    if (!release) return undefined;
    const existing = await this.findByName(name);
    if (existing) {
      // GENERATING with no writer: the run that wrote it died (a killed worker, its locks' lease gone) and
      // committed nothing (the descriptor is the commit point). Its job, retaken, or another takes the name.
      // A run stalled past its lease (not dead, only stopped) finds it DELETED when it resumes and commits
      // nothing (see commit()). Dropped with a compare-and-set: a commit that landed since keeps the name.
      const dropped =
        existing.status === 'GENERATING' &&
        !(await this.locks.holders(existing._id)).writer &&
        (await this.records.updateIf(
          existing._id,
          { status: 'GENERATING' },
          {
            status: 'DELETED',
            updated: new Date().toISOString(),
            message: 'the job writing it stopped before it ended (its worker died or stalled past its lease)',
          },
        ));
      if (!dropped) {
        release();
        return undefined;
      }
    }
    return release;
  }

  async list(filter: StoredDataFilter = {}): Promise<StoredData[]> {
    const { items } = await this.records.list({
      where: (s) =>
        (!filter.type || s.type === filter.type) &&
        (!filter.status || s.status === filter.status) &&
        (!filter.name || s.name.includes(filter.name)),
    });
    return items;
  }

  /**
   * Turns READY the record of a product that job `jobId` wrote — a compare-and-set: only while it is still
   * GENERATING and that job's. A run that lost its job (its worker stalled past its queue lock) finds its
   * record DELETED by the run that took the job and the name over: undefined then, and nothing is written.
   */
  commit(id: string, jobId: string, patch: Partial<StoredData>): Promise<StoredData | undefined> {
    return this.settle(id, jobId, { ...patch, status: 'READY' });
  }

  /**
   * The end of a product's run (READY, FAILED, DELETED), by the same compare-and-set as {@link commit}: only
   * while the record is GENERATING for job `jobId`; undefined otherwise, and nothing written.
   */
  settle(id: string, jobId: string, patch: Partial<StoredData>): Promise<StoredData | undefined> {
    return this.records.updateIf(id, { status: 'GENERATING', jobId }, { ...patch, updated: new Date().toISOString() });
  }

  /** True while the record is still GENERATING for job `jobId` (see {@link commit}): its files are still that run's to write. */
  async writing(id: string, jobId: string): Promise<boolean> {
    const r = await this.get(id);
    return r?.status === 'GENERATING' && r.jobId === jobId;
  }

  /** Merges `patch`; throws when the record does not exist. */
  async update(id: string, patch: Partial<StoredData>): Promise<StoredData> {
    const r = await this.records.update(id, { ...patch, updated: new Date().toISOString() });
    if (!r) throw new Error(`no stored data ${id}`);
    return r;
  }

  /**
   * `use`: what it references; `used_by`: live records that reference it — stored data (type omitted,
   * as before), configurations that publish it (`type: "configuration"`) and offerings that serve it now
   * (`type: "offering"`, named by their layer; it differs from its configuration's until synchronized).
   */
  async dependencies(
    id: string,
  ): Promise<{ use: Array<{ _id: string; name: string }>; used_by: Array<{ _id: string; name: string; type?: string }> }> {
    const r = await this.require(id);
    const named = (x: StoredData) => ({ _id: x._id, name: x.name });
    const used = await this.records.list({ where: (s) => r.use.includes(s._id) });
    const users = await this.records.list({ where: (s) => live(s) && s.use.includes(id) });
    return {
      use: r.use
        .map((u) => used.items.find((s) => s._id === u))
        .filter((s): s is StoredData => !!s)
        .map(named),
      used_by: [
        ...users.items.map(named),
        ...(await this.configurations.list({ where: (c) => c.use.includes(id) })).items.map((c) => ({
          _id: c._id,
          name: c.name,
          type: 'configuration',
        })),
        ...(await this.offerings.list({ where: (o) => o.served.used_data.some((u) => u.stored_data === id) })).items.map((o) => ({
          _id: o._id,
          name: o.layer_name,
          type: 'offering',
        })),
      ],
    };
  }

  /** Why a record cannot be deleted now, or undefined. */
  async deletionBlocker(id: string): Promise<string | undefined> {
    const users = (await this.dependencies(id)).used_by;
    if (users.length) {
      return `stored data '${id}' is used by ${users.map((u) => `${u.type ? `${u.type} ` : ''}'${u.name}' (${u._id})`).join(', ')}`;
    }
    const lock = await this.locks.holders(id);
    if (lock.writer) return `stored data '${id}' is being written by a job`;
    if (lock.readers > 0) return `stored data '${id}' is read by ${lock.readers} submitted job(s) until they end`;
    return undefined;
  }

  /** Records left GENERATING (a crash stopped the job that wrote them): what start-up recovery looks at. */
  async generating(): Promise<StoredData[]> {
    return (await this.records.list({ where: (s) => s.status === 'GENERATING' })).items;
  }

  /** Marks records as read by a job (from its submission) until the returned release function is called. */
  lockForRead(ids: string[]): Promise<Release> {
    return this.locks.read(ids);
  }

  /** An exclusive write lock; a 409 naming the holder when a job reads or writes the record. */
  async lockForWrite(id: string): Promise<Release> {
    const release = await this.locks.write(id);
    if (release) return release;
    throw new ApiError('conflict', (await this.deletionBlocker(id).catch(() => undefined)) ?? `stored data '${id}' is in use by a job`);
  }
}
