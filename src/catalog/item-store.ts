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
`;

/** A JSON path to an attribute of the item document, quoted so that any attribute name is one key. */
function attributePath(name: string): string {
  return `$.attributes."${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

export class CatalogItemStore {
  private readonly db: Database.Database;

  /** @param file the SQLite file (its folder is created), or `:memory:`. */
  constructor(readonly file: string) {
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

  /** Registers `folder` as being written by a job, before any file goes there. */
  beginWrite(w: Omit<PendingWrite, 'started'>): void {
    this.run(() =>
      this.db
        .prepare('INSERT INTO pending_writes (folder, catalog, job, started) VALUES (?, ?, ?, ?)')
        .run(w.folder, w.catalogId, w.jobId, new Date().toISOString()),
    );
  }

  /**
   * Adds a job's items and ends the registration of its folder, in one transaction: either all of the
   * job's items are in the catalog and its folder is theirs, or none is and the folder is still pending.
   * Returns the catalog's item count and bytes after the add.
   */
  commit(catalogId: string, folder: string, items: readonly CatalogItem[]): { count: number; bytes: number } {
    const insert = this.db.prepare(
      'INSERT INTO items (catalog, id, datetime, bytes, minx, miny, maxx, maxy, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const index = this.db.prepare('INSERT INTO items_bbox (seq, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)');
    const tx = this.db.transaction(() => {
      for (const it of items) {
        const [minx, miny, maxx, maxy] = it.bbox;
        const { lastInsertRowid } = insert.run(catalogId, it.id, it.datetime, it.bytes, minx, miny, maxx, maxy, JSON.stringify(it));
        index.run(lastInsertRowid, minx, maxx, miny, maxy);
      }
      this.db.prepare('DELETE FROM pending_writes WHERE folder = ?').run(folder);
      return this.totals(catalogId);
    });
    return this.run(() => tx.immediate());
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

  /** Removes every item of a catalog (its record was deleted or failed). */
  deleteCatalog(catalogId: string): void {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM items_bbox WHERE seq IN (SELECT seq FROM items WHERE catalog = ?)').run(catalogId);
      this.db.prepare('DELETE FROM items WHERE catalog = ?').run(catalogId);
    });
    this.run(() => tx.immediate());
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
