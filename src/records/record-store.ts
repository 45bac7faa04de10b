import type { FieldType } from './check-fields.js';

/**
 * A kind of record (stored data, configurations, offerings, uploads, catalogs…). Adding a kind is
 * declaring one of these: every {@link RecordStore} keeps any kind in a collection of its own.
 */
export interface RecordKind<T extends object> {
  /** Collection name, also the member holding the array in the lowdb file (`{ "stored_data": [...] }`). */
  readonly name: string;
  /** lowdb file name, in the store's folder. */
  readonly file: string;
  readonly idField: keyof T & string;
  /** Fields a record must have to be served; a stored record without them is reported and not loaded. */
  readonly required: Readonly<Record<string, FieldType>>;
  /** Further checks of a stored record (an unknown status…): the problems, empty when it can be served. */
  check?(record: Record<string, unknown>): string[];
}

export interface RecordQuery<T> {
  where?: (record: T) => boolean;
  offset?: number;
  limit?: number;
}

export interface RecordPage<T> {
  /** In creation order. */
  items: T[];
  /** True when records after this page match too. */
  more: boolean;
}

/**
 * The records of one kind. Every method returns copies; a write resolves once durable, and a failed
 * write (507 when the disk is full) changes nothing. Every implementation passes the shared suite in
 * test/records/record-store.suite.ts.
 */
export interface Collection<T extends object> {
  /** Refuses an id that exists. */
  create(record: T): Promise<T>;
  get(id: string): Promise<T | undefined>;
  list(query?: RecordQuery<T>): Promise<RecordPage<T>>;
  /** The first record (in creation order) that matches. */
  find(where: (record: T) => boolean): Promise<T | undefined>;
  /** Merges `patch` (an undefined member removes the field); undefined when absent. */
  update(id: string, patch: Partial<T>): Promise<T | undefined>;
  /**
   * {@link update} only while each defined member of `expected` holds that value (compared as stored: JSON),
   * checked and written at once, across every process sharing the store (a compare-and-set: a run that lost
   * its product to another run never turns it READY); undefined when absent or not so.
   */
  updateIf(id: string, expected: Partial<T>, patch: Partial<T>): Promise<T | undefined>;
  delete(id: string): Promise<boolean>;
}

/** Releases a lock or a reservation; calling it again does nothing. */
export type Release = () => void;

/**
 * What running jobs hold on records, so that a record is not deleted under a job that reads it, or
 * written by two jobs. In the memory and lowdb stores these live in the process (one server owns its
 * data folder); a shared store (Redis) keeps them beside the records, hence the promises.
 */
export interface RecordLocks {
  /** Read reservations on records (they may exist or not yet). */
  read(ids: string[]): Promise<Release>;
  /** An exclusive write lock: undefined when another job writes the record or any job reads it. */
  write(id: string): Promise<Release | undefined>;
  /** Who holds a record now. */
  holders(id: string): Promise<{ readers: number; writer: boolean }>;
  /** Reserves a name within a scope (a kind) for a record still to be created; undefined when already reserved. */
  reserve(scope: string, name: string): Promise<Release | undefined>;
  /**
   * The same locks, whose reservations belong to one execution: a reservation made for `runId` by another
   * process is taken over rather than refused. So a bullmq job's name stays reserved from its submission (the
   * server's preparation) until it ends, the worker's preparation taking the server's reservation over.
   */
  forRun(runId: string): RecordLocks;
}

/** A family of collections with their locks: memory, lowdb, later Redis. */
export interface RecordStore {
  readonly name: string;
  /** Loads what is persisted for these kinds (reporting what cannot be served). Called once before use. */
  open(kinds: ReadonlyArray<RecordKind<object>>): Promise<void>;
  /** The collection of an opened kind. */
  collection<T extends object>(kind: RecordKind<T>): Collection<T>;
  readonly locks: RecordLocks;
  /** Resolves once every write is on disk. */
  close(): Promise<void>;
}
