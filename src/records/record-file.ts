import { promises as fs } from 'node:fs';
import { Low, type Adapter } from 'lowdb';
import type { Logger } from '../log.js';
import { writeFileDurably } from './durable-file.js';

/** What a change function sees: the records as they will be once the changes before it are written. */
export interface Draft<T> {
  get(id: string): T | undefined;
  set(id: string, record: T): void;
  delete(id: string): void;
}

export interface RecordFileOptions<T> {
  file: string;
  /** Member of the top-level object that holds the array (`{ "jobs": [...] }`). */
  root: string;
  idField: string;
  /** Why a loaded entry cannot be served (missing or mistyped fields); empty when it can. */
  check(entry: Record<string, unknown>): string[];
  /** Spaces of JSON indentation (0: one line, for big files). */
  indent?: number;
  /** Told at each commit of a record that appeared or disappeared (for the owner's indexes). */
  onAdded?(record: T): void;
  onRemoved?(record: T): void;
}

/** What {@link RecordFile.load} found. */
export interface LoadReport {
  loaded: number;
  /** Entries not loaded (kept in a `.invalid-<time>` copy of the file). */
  skipped: number;
  /** Where an unreadable file was moved, and how many records it seemed to hold. */
  quarantined?: { to: string; lost: number };
}

interface Op<T> {
  fn: (draft: Draft<T>) => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** lowdb's extension point: this adapter writes through {@link writeFileDurably} (reads go through load()). */
class DurableJsonAdapter<D> implements Adapter<D> {
  constructor(
    private readonly file: string,
    private readonly indent: number,
  ) {}
  async read(): Promise<D | null> {
    return null;
  }
  async write(data: D): Promise<void> {
    await writeFileDurably(this.file, JSON.stringify(data, null, this.indent || undefined));
  }
}

/** `2026-12-04T15:46:26.123Z` → `20261204T154626123Z`: sorts, and is safe in a file name everywhere. */
export function fileStamp(date = new Date()): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

/**
 * One JSON file of records (`{ <root>: [...] }`), held in memory, persisted with lowdb through a
 * durable adapter. Changes are group-committed: every change queued while a write is under way joins
 * the next write, which rewrites the file once. Memory changes only after the write succeeded: a
 * failed write (a full disk) rejects every change of its group and leaves the records as they were.
 */
export class RecordFile<T extends object> {
  private readonly committed = new Map<string, T>();
  private readonly db: Low<Record<string, T[]>>;
  private queue: Array<Op<T>> = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RecordFileOptions<T>) {
    this.db = new Low(new DurableJsonAdapter<Record<string, T[]>>(opts.file, opts.indent ?? 0), { [opts.root]: [] });
  }

  get file(): string {
    return this.opts.file;
  }

  /** Records written so far, in file order (do not mutate). */
  values(): IterableIterator<T> {
    return this.committed.values();
  }

  get(id: string): T | undefined {
    return this.committed.get(id);
  }

  get size(): number {
    return this.committed.size;
  }

  /**
   * Reads the file. A file that is not JSON of the expected shape is quarantined (renamed to
   * `<file>.corrupt-<time>`) and the store starts without it; entries that fail `check` are not
   * loaded, and the file is copied to `<file>.invalid-<time>` first so that nothing is lost when the
   * next write drops them. Both are logged with the file's name and the count.
   */
  async load(log: Logger): Promise<LoadReport> {
    const { file, root, idField } = this.opts;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: 0, skipped: 0 };
      throw err;
    }
    let entries: unknown[] | undefined;
    let reason = '';
    try {
      const parsed: unknown = JSON.parse(text);
      const list = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>)[root] : undefined;
      if (Array.isArray(list)) entries = list;
      else reason = `not an object with a '${root}' array`;
    } catch (err) {
      reason = (err as Error).message;
    }
    if (!entries) {
      const to = `${file}.corrupt-${fileStamp()}`;
      await fs.rename(file, to);
      // How many records it held cannot be read from a broken file; their id members can be counted.
      const lost = text.split(`"${idField}"`).length - 1;
      log.error('store file unreadable: moved aside, the server starts without its records', { file, movedTo: to, lost, reason });
      return { loaded: 0, skipped: 0, quarantined: { to, lost } };
    }
    const problems: Array<{ index: number; id?: unknown; reason: string }> = [];
    for (const [index, entry] of entries.entries()) {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
        problems.push({ index, reason: 'not an object' });
        continue;
      }
      const record = entry as Record<string, unknown>;
      const missing = this.opts.check(record);
      const id = record[idField];
      if (missing.length) problems.push({ index, id, reason: missing.join('; ') });
      else if (this.committed.has(id as string)) problems.push({ index, id, reason: `duplicate ${idField}` });
      else this.committed.set(id as string, entry as T);
    }
    for (const record of this.committed.values()) this.opts.onAdded?.(record);
    if (problems.length) {
      const copy = `${file}.invalid-${fileStamp()}`;
      await fs.copyFile(file, copy);
      log.error('store file has records that cannot be served: they are not loaded', {
        file,
        skipped: problems.length,
        copy,
        problems: problems.slice(0, 20),
      });
    }
    return { loaded: this.committed.size, skipped: problems.length };
  }

  /**
   * Queues a change; resolves with what `fn` returned once the change is on disk, rejects with the
   * write's error (nothing changed) or with what `fn` threw (`fn` must check before it sets anything).
   */
  change<R>(fn: (draft: Draft<T>) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate: changes made in the same turn (a burst of submissions) share one write.
      this.chain = this.chain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => this.flush());
    });
  }

  /** Merges `patch` into record `id` (see {@link patched}); undefined when there is no such record. */
  update(id: string, patch: Partial<T>): Promise<T | undefined> {
    return this.updateIf(id, patch, () => true);
  }

  /** {@link update} only when `accept` says yes to the record as it is when the change runs. */
  updateIf(id: string, patch: Partial<T>, accept: (current: T) => boolean): Promise<T | undefined> {
    return this.change((draft) => {
      const current = draft.get(id);
      if (!current || !accept(current)) return undefined;
      const next = patched(current, patch);
      draft.set(id, next);
      return structuredClone(next);
    });
  }

  /** Removes record `id`; false when there is no such record. */
  remove(id: string): Promise<boolean> {
    return this.change((draft) => {
      if (!draft.get(id)) return false;
      draft.delete(id);
      return true;
    });
  }

  /** Resolves once every change queued before the call is settled. */
  async idle(): Promise<void> {
    while (this.scheduled || this.queue.length) await this.chain;
    await this.chain;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const ops = this.queue;
    this.queue = [];
    const overlay = new Map<string, T | null>();
    const draft: Draft<T> = {
      get: (id) => (overlay.has(id) ? (overlay.get(id) ?? undefined) : this.committed.get(id)),
      set: (id, record) => void overlay.set(id, record),
      delete: (id) => void overlay.set(id, null),
    };
    const done: Array<{ op: Op<T>; result: unknown }> = [];
    for (const op of ops) {
      try {
        done.push({ op, result: op.fn(draft) });
      } catch (err) {
        op.reject(err);
      }
    }
    if (overlay.size) {
      const out: T[] = [];
      for (const [id, record] of this.committed) {
        const next = overlay.has(id) ? overlay.get(id) : record;
        if (next) out.push(next);
      }
      for (const [id, record] of overlay) if (record && !this.committed.has(id)) out.push(record);
      this.db.data = { [this.opts.root]: out };
      try {
        await this.db.write();
      } catch (err) {
        for (const { op } of done) op.reject(err);
        return;
      } finally {
        this.db.data = { [this.opts.root]: [] };
      }
      this.apply(overlay);
    }
    for (const { op, result } of done) op.resolve(result);
  }

  private apply(overlay: Map<string, T | null>): void {
    for (const [id, next] of overlay) {
      const current = this.committed.get(id);
      if (!next) {
        if (!current) continue;
        this.committed.delete(id);
        this.opts.onRemoved?.(current);
      } else if (current) {
        // Replaced in place: the owner's indexes keep pointing at the live object.
        for (const key of Object.keys(current)) delete (current as Record<string, unknown>)[key];
        Object.assign(current, next);
      } else {
        this.committed.set(id, next);
        this.opts.onAdded?.(next);
      }
    }
  }
}

/**
 * True when every defined member of `expected` holds the same value in `record` (compared as the stores
 * keep them: JSON). The test of the compare-and-set updates (JobStore.updateIf, Collection.updateIf).
 */
export function holdsValues<T extends object>(record: T, expected: Partial<T>): boolean {
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) continue;
    if (JSON.stringify((record as Record<string, unknown>)[key]) !== JSON.stringify(value)) return false;
  }
  return true;
}

/** `{...record, ...patch}` where an undefined member of the patch removes the field. */
export function patched<T extends object>(record: T, patch: Partial<T>): T {
  const next = { ...structuredClone(record), ...structuredClone(patch) } as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) if (value === undefined) delete next[key];
  return next as T;
}
