/**
 * The items of raster catalogs (issue 12 "a real embedded spatial store"): SQLite through better-sqlite3,
 * one table of items with an R*Tree index of their CRS84 bboxes (SQLite's rtree module), one table of
 * the job folders being written.
 *
 * Why SQLite: every add is one transaction (two jobs adding to a catalog at once cannot lose each
 * other's items, which the read-modify-write of `type_infos.items` did), the bbox index lives on disk
 * and is queried with the attribute, datetime and paging conditions in one statement, and
 * `:memory:` gives the same engine to the in-memory record store.
 *
 * Crash safety (issue 12): a job writes its files under a folder of its own, registered here *before*
 * its first byte ({@link CatalogItemStore.beginWrite}); its items and the end of that registration are
 * committed together. A folder still registered at start-up is what a killed job left: removed then.
 *
 * Several machines (issue 14, bullmq): each machine keeps its own SQLite file (shared by its server and
 * workers), and an {@link ItemLog} — a Redis stream — is the catalogs' history that every machine
 * replays: a commit or a deletion is appended to it (that append is the commit point), then applied
 * locally; {@link CatalogItemStore.sync} applies what other machines appended, so that a server answers
 * with the items a worker on another machine added. Applying is idempotent (items are unique by catalog
 * and id) and the position reached is kept in the file, so a restarted machine replays only the rest.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../errors.js';
import type { CatalogItem } from './catalog-item.js';

/** A scalar an attribute filter compares with (already converted to the attribute's type). */
export type AttributeValue = string | number | boolean;

export interface ItemQuery {
  /** [west, south, east, north] in CRS84; west > east crosses the antimeridian. */
  bbox?: [number, number, number, number];
  /** Inclusive bounds on the item datetime (ISO 8601 UTC); either may be absent (open). */
  datetime?: { start?: string; end?: string };
  /** attribute name → value it must equal. */
  attributes?: Record<string, AttributeValue>;
  limit: number;
  offset: number;
}

export interface ItemPage {
  items: CatalogItem[];
  /** Items matching the query, all pages together. */
  numberMatched: number;
}

/** A job's folder registered as being written (what start-up removes when the job never finished). */
export interface PendingWrite {
  catalogId: string;
  folder: string;
  jobId: string;
  started: string;
}

/** One change of the catalogs' history, as the {@link ItemLog} holds it. */
export type ItemLogEntry = { op: 'add'; catalog: string; folder: string; items: CatalogItem[] } | { op: 'delete'; catalog: string };

/**
 * The catalogs' history shared by machines (a Redis stream): entries in one order for everyone, each
 * with an id that orders them (`<ms>-<seq>`).
 */
export interface ItemLog {
  /** Appends an entry; resolves with its id once it is stored. */
  append(entry: ItemLogEntry): Promise<string>;
  /** Up to `count` entries after the id `after` ('0-0': from the first), in order. */
  readAfter(after: string, count: number): Promise<Array<[string, ItemLogEntry]>>;
}

/** Entries applied per SQLite transaction while catching up. */
const LOG_BATCH = 200;

/** Compares two stream ids `<ms>-<seq>`. */
function compareLogIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    catalog TEXT NOT NULL,
    id TEXT NOT NULL,
    datetime TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (catalog, id)
  );
  CREATE INDEX IF NOT EXISTS items_datetime ON items (catalog, datetime);
  CREATE VIRTUAL TABLE IF NOT EXISTS items_bbox USING rtree (seq, minx, maxx, miny, maxy);
  CREATE TABLE IF NOT EXISTS pending_writes (
    folder TEXT PRIMARY KEY,
    catalog TEXT NOT NULL,
    job TEXT NOT NULL,
    started TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS log_position (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
  );
`;

/** A JSON path to an attribute of the item document, quoted so that any attribute name is one key. */
function attributePath(name: string): string {
  return `$.attributes."${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

export class CatalogItemStore {
  private readonly db: Database.Database;
  /** The catch-up in progress in this process, if any (one at a time). */
  private catching?: Promise<void>;
  /** When this process last caught up with the log (ms since the epoch). */
  private caughtUp = 0;
  /** Changes this process applied (its commits, the log entries it caught up with, deletions). */
  private applied = 0;

  /**
   * @param file the SQLite file (its folder is created), or `:memory:`.
   * @param log the history shared with other machines (bullmq); none: this file is the whole truth.
   */
  constructor(
    readonly file: string,
    private readonly log?: ItemLog,
  ) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    if (file !== ':memory:') {
      // WAL: readers (the Features API) do not wait for a job's commit; FULL: a commit is on disk when it returns.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
    }
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  /**
   * Registers `folder` as being written by a job, before any file goes there. Answers true when the folder
   * was registered already and never committed: an earlier run of the same job (its folder is named after
   * the job) stopped on this machine and the job was taken again (issue 14). The caller then removes what
   * that run left in the folder; the registration is this run's.
   */
  beginWrite(w: Omit<PendingWrite, 'started'>): boolean {
    return this.run(() => {
      const again = this.db.prepare('SELECT 1 FROM pending_writes WHERE folder = ?').get(w.folder) !== undefined;
      this.db
        .prepare(
          'INSERT INTO pending_writes (folder, catalog, job, started) VALUES (?, ?, ?, ?) ' +
            'ON CONFLICT (folder) DO UPDATE SET catalog = excluded.catalog, job = excluded.job, started = excluded.started',
        )
        .run(w.folder, w.catalogId, w.jobId, new Date().toISOString());
      return again;
    });
  }

  /**
   * Adds a job's items and ends the registration of its folder, in one transaction: either all of the
   * job's items are in the catalog and its folder is theirs, or none is and the folder is still pending.
   * With a log, the append is that transaction (every machine applies it; this one at once).
   * Returns the catalog's item count and bytes after the add.
   */
  async commit(catalogId: string, folder: string, items: readonly CatalogItem[]): Promise<{ count: number; bytes: number }> {
    const entry: ItemLogEntry = { op: 'add', catalog: catalogId, folder, items: [...items] };
    if (this.log) await this.log.append(entry);
    // Applied here at once (with a log, catching up applies it again as a no-op): once appended, the items
    // are the catalog's whatever happens next, so nothing below may fail the commit.
    const tx = this.db.transaction(() => this.apply(entry));
    this.run(() => tx.immediate());
    await this.sync().catch(() => {});
    return this.totals(catalogId);
  }

  /**
   * Applies what other machines appended to the log since this file last did (nothing without a log).
   * `maxAgeMs`: skipped when this process caught up less than that long ago (tile rendering, which may
   * lag a little; the Features API asks for the latest).
   */
  async sync(options: { maxAgeMs?: number } = {}): Promise<void> {
    if (!this.log) return;
    if (options.maxAgeMs !== undefined && Date.now() - this.caughtUp < options.maxAgeMs) return;
    // Callers arriving during a catch-up wait for the next one: it starts after their call.
    const previous = this.catching ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.catchUp());
    this.catching = next;
    try {
      await next;
    } finally {
      if (this.catching === next) this.catching = undefined;
    }
  }

  private async catchUp(): Promise<void> {
    const started = Date.now();
    for (;;) {
      const entries = await this.log!.readAfter(this.position(), LOG_BATCH);
      if (entries.length === 0) break;
      // The other processes of this machine share the file: the position is read again in the transaction,
      // and entries at or before it (applied meanwhile by one of them) are skipped.
      const tx = this.db.transaction(() => {
        let position = this.position();
        for (const [id, entry] of entries) {
          if (compareLogIds(id, position) <= 0) continue;
          this.apply(entry);
          position = id;
        }
        this.db.prepare('INSERT INTO log_position (one, id) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET id = excluded.id').run(position);
      });
      this.run(() => tx.immediate());
      if (entries.length < LOG_BATCH) break;
    }
    this.caughtUp = started;
  }

  /** The id of the last log entry applied to this file ('0-0': none). */
  private position(): string {
    const row = this.db.prepare('SELECT id FROM log_position WHERE one = 1').get() as { id: string } | undefined;
    return row?.id ?? '0-0';
  }

  /**
   * A text that changes whenever the items may have changed (what is drawn from them is then stale): the
   * changes this process applied, and SQLite's `data_version`, which moves when another connection to the
   * file commits (a worker process of this machine committing or catching up).
   */
  revision(): string {
    return `${this.applied}.${this.db.pragma('data_version', { simple: true })}`;
  }

  /** One change, inside the caller's transaction; an item already present is left as it is (replays). */
  private apply(entry: ItemLogEntry): void {
    this.applied++;
    if (entry.op === 'delete') {
      this.db.prepare('DELETE FROM items_bbox WHERE seq IN (SELECT seq FROM items WHERE catalog = ?)').run(entry.catalog);
      this.db.prepare('DELETE FROM items WHERE catalog = ?').run(entry.catalog);
      return;
    }
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO items (catalog, id, datetime, bytes, minx, miny, maxx, maxy, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const index = this.db.prepare('INSERT INTO items_bbox (seq, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)');
    for (const it of entry.items) {
      const [minx, miny, maxx, maxy] = it.bbox;
      const { changes, lastInsertRowid } = insert.run(
        entry.catalog,
        it.id,
        it.datetime,
        it.bytes,
        minx,
        miny,
        maxx,
        maxy,
        JSON.stringify(it),
      );
      if (changes) index.run(lastInsertRowid, minx, maxx, miny, maxy);
    }
    // The folder's registration ends with its items, on the machine that registered it.
    this.db.prepare('DELETE FROM pending_writes WHERE folder = ?').run(entry.folder);
  }

  /** Ends the registration of a folder whose files were removed (a failed or dismissed job). */
  endWrite(folder: string): void {
    this.run(() => this.db.prepare('DELETE FROM pending_writes WHERE folder = ?').run(folder));
  }

  /** Folders registered and never committed nor ended. */
  pendingWrites(): PendingWrite[] {
    return this.db
      .prepare('SELECT folder, catalog AS catalogId, job AS jobId, started FROM pending_writes ORDER BY started')
      .all() as PendingWrite[];
  }

  totals(catalogId: string): { count: number; bytes: number } {
    const row = this.db
      .prepare('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM items WHERE catalog = ?')
      .get(catalogId) as {
      count: number;
      bytes: number;
    };
    return { count: row.count, bytes: row.bytes };
  }

  get(catalogId: string, id: string): CatalogItem | undefined {
    const row = this.db.prepare('SELECT doc FROM items WHERE catalog = ? AND id = ?').get(catalogId, id) as { doc: string } | undefined;
    return row && (JSON.parse(row.doc) as CatalogItem);
  }

  /**
   * Items of a catalog matching every condition, in the order they were added. The bbox goes through
   * the R-tree (float32 boxes rounded outwards), then the exact bounds.
   */
  query(catalogId: string, q: ItemQuery): ItemPage {
    const where = ['i.catalog = ?'];
    const params: unknown[] = [catalogId];
    let from = 'items i';
    if (q.bbox) {
      from += ' JOIN items_bbox r ON r.seq = i.seq';
      const [w, s, e, n] = q.bbox;
      // OGC 17-069r4 §7.15.3: a bbox whose west is east of its east crosses the antimeridian.
      const xs: Array<[number, number]> =
        w <= e
          ? [[w, e]]
          : [
              [w, 180],
              [-180, e],
            ];
      const xConditions = xs.map(() => '(r.maxx >= ? AND r.minx <= ? AND i.maxx >= ? AND i.minx <= ?)');
      where.push(`(${xConditions.join(' OR ')})`, 'r.maxy >= ? AND r.miny <= ? AND i.maxy >= ? AND i.miny <= ?');
      for (const [a, b] of xs) params.push(a, b, a, b);
      params.push(s, n, s, n);
    }
    if (q.datetime?.start) {
      where.push('i.datetime >= ?');
      params.push(q.datetime.start);
    }
    if (q.datetime?.end) {
      where.push('i.datetime <= ?');
      params.push(q.datetime.end);
    }
    for (const [name, value] of Object.entries(q.attributes ?? {})) {
      where.push('json_extract(i.doc, ?) = ?');
      // SQLite has no boolean: JSON true/false come out of json_extract as 1/0.
      params.push(attributePath(name), typeof value === 'boolean' ? Number(value) : value);
    }
    const sql = `FROM ${from} WHERE ${where.join(' AND ')}`;
    const { n } = this.db.prepare(`SELECT count(*) AS n ${sql}`).get(...params) as { n: number };
    const rows = this.db.prepare(`SELECT i.doc ${sql} ORDER BY i.seq LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as Array<{
      doc: string;
    }>;
    return { items: rows.map((r) => JSON.parse(r.doc) as CatalogItem), numberMatched: n };
  }

  /** The CRS84 extent and time span of a catalog's items (collection `extent`), undefined when empty. */
  extent(catalogId: string): { bbox: [number, number, number, number]; interval: [string, string] } | undefined {
    const row = this.db
      .prepare(
        'SELECT min(minx) AS w, min(miny) AS s, max(maxx) AS e, max(maxy) AS n, min(datetime) AS t0, max(datetime) AS t1, count(*) AS c FROM items WHERE catalog = ?',
      )
      .get(catalogId) as { w: number; s: number; e: number; n: number; t0: string; t1: string; c: number };
    if (row.c === 0) return undefined;
    return { bbox: [row.w, row.s, row.e, row.n], interval: [row.t0, row.t1] };
  }

  /** Removes every item of a catalog (its record was deleted or failed), on every machine with a log. */
  async deleteCatalog(catalogId: string): Promise<void> {
    const entry: ItemLogEntry = { op: 'delete', catalog: catalogId };
    if (this.log) await this.log.append(entry);
    const tx = this.db.transaction(() => this.apply(entry));
    this.run(() => tx.immediate());
    await this.sync().catch(() => {});
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A full disk is a 507 saying nothing changed (SQLite rolled the transaction back), as for records. */
  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_FULL')
        throw new ApiError('insufficient-storage', 'the server has no disk space left to record the catalog items; nothing was changed');
      throw err;
    }
  }
}
