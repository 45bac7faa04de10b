import { createHash } from 'node:crypto';
import { ApiError, invalidInput } from '../errors.js';
import type { Logger } from '../log.js';
import type { Collection, RecordStore, Release } from '../records/record-store.js';
import { UPLOADS, type CheckExecution, type Upload } from '../records/uploads.js';
import { objectChunks, type Storage } from '../storage/storage.js';
import { type RasterLocation, storedRasterLocation } from '../raster/geotiff-source.js';
import { UPLOAD_CHECKS } from './checks.js';
import { uploadPrefix, type UploadFiles } from './upload-files.js';

/**
 * Deliveries as processes and handlers use them (issue 11): the records, their files, the locks a job
 * holds on them, and the state machine of a close (OPEN → CHECKING → CLOSED | UNSTABLE). Changes of one
 * upload's record are serialized here, so that two checks ending at once cannot lose each other's entry.
 */
/** Bytes read at once to hash a file: one ranged GET on S3, bounded memory whatever the file's size. */
const MD5_CHUNK_BYTES = 8 * 1024 * 1024;

export class Uploads {
  private readonly collection: Collection<Upload>;
  /** The last pending change of each upload (changes of one upload run one after the other). */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly records: RecordStore,
    readonly files: UploadFiles,
    private readonly storage: Storage,
    private readonly log: Logger,
  ) {
    this.collection = records.collection(UPLOADS);
  }

  /** The upload, DELETED ones excepted. */
  async get(id: string): Promise<Upload | undefined> {
    const u = await this.collection.get(id);
    return u && u.status !== 'DELETED' ? u : undefined;
  }

  /**
   * The CLOSED upload `id`, for a process input: a 400 naming `input` when it does not exist or is not
   * CLOSED (only checked deliveries are processed).
   */
  async requireClosed(id: string, input: string): Promise<Upload> {
    const u = await this.get(id);
    if (!u) throw invalidInput(input, `no upload with id '${id}'`);
    if (u.status !== 'CLOSED')
      throw invalidInput(
        input,
        `the upload '${u.name}' (${id}) is ${u.status}: only a CLOSED upload (closed and its checks passed) can be processed`,
      );
    return u;
  }

  /**
   * Marks uploads as read by the execution `runId` until release: their deletion and reopening answer 409
   * meanwhile. Held for the run (RecordLocks.forRun): a bullmq worker preparing the job takes over the
   * server's reads, so the upload stays locked from the submission on.
   */
  lockForRead(ids: string[], runId: string): Promise<Release> {
    return this.records.locks.forRun(runId).read(ids);
  }

  /** True while a job reads the upload. */
  async isRead(id: string): Promise<boolean> {
    return (await this.records.locks.holders(id)).readers > 0;
  }

  /** The storage key of a file of an upload. */
  key(id: string, relPath: string): string {
    return `${uploadPrefix(id)}${relPath}`;
  }

  /**
   * Where a file of an upload is for the raster readers: a local file on FILE storage, an object read by
   * ranges on S3 (issue 13: any worker sharing the storage reads it, nothing is downloaded whole).
   */
  location(id: string, relPath: string): RasterLocation {
    return storedRasterLocation(this.storage, this.key(id, relPath));
  }

  /** The whole of a (small) file of an upload: `.md5` and world files. */
  read(id: string, relPath: string): Promise<Buffer> {
    return this.storage.read(this.key(id, relPath));
  }

  /** The MD5 of a file of an upload, read in bounded chunks (FILE or S3 alike). */
  async md5(id: string, relPath: string, signal: AbortSignal): Promise<string> {
    const hash = createHash('md5');
    for await (const chunk of objectChunks(this.storage, this.key(id, relPath), MD5_CHUNK_BYTES)) {
      signal.throwIfAborted();
      hash.update(chunk);
    }
    return hash.digest('hex');
  }

  /** Runs `change` on the current record of `id` after the changes before it; its patch is written. */
  change(id: string, change: (u: Upload) => Partial<Upload> | undefined): Promise<Upload | undefined> {
    const previous = this.pending.get(id) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        // Other processes share the record with a shared store (bullmq: the checks run on workers): the
        // read-modify-write holds the record's change reservation there too.
        const release = await this.reserveChange(id);
        try {
          const u = await this.collection.get(id);
          if (!u) return undefined;
          const patch = change(u);
          if (!patch) return u;
          return await this.collection.update(id, { ...patch, updated: new Date().toISOString() });
        } finally {
          release();
        }
      });
    this.pending.set(id, next);
    void next
      .finally(() => {
        if (this.pending.get(id) === next) this.pending.delete(id);
      })
      .catch(() => {});
    return next;
  }

  /**
   * Starts a close: OPEN → CHECKING with every check asked (their executions are created next, by
   * {@link checkSubmitted}). A 409 when the upload is not OPEN.
   */
  async beginClose(id: string): Promise<Upload> {
    let refusal: string | undefined;
    const now = new Date().toISOString();
    const u = await this.change(id, (cur) => {
      if (cur.status !== 'OPEN') {
        refusal = `the upload '${id}' is ${cur.status}: only an OPEN upload can be closed`;
        return undefined;
      }
      const checks: CheckExecution[] = UPLOAD_CHECKS.map((c) => ({
        check: { name: c.name, _id: c._id },
        _id: '',
        status: 'asked',
        logs: [],
        created: now,
      }));
      return { status: 'CHECKING', checks, last_event: { title: 'closing: checks asked', date: now } };
    });
    if (!u || u.status === 'DELETED') throw new ApiError('not-found', `no upload with id '${id}'`);
    if (refusal) throw new ApiError('conflict', refusal);
    return u;
  }

  /**
   * Reopens a CLOSED or UNSTABLE upload (its files may change again; processes refuse it until the next
   * close). A 409 while a job reads it or while it is checked.
   */
  async reopen(id: string): Promise<Upload> {
    if (await this.isRead(id))
      throw new ApiError('conflict', `the upload '${id}' is read by a running job; reopen it once the job has ended`);
    let refusal: string | undefined;
    const u = await this.change(id, (cur) => {
      if (cur.status !== 'CLOSED' && cur.status !== 'UNSTABLE') {
        refusal = `the upload '${id}' is ${cur.status}: only a CLOSED or UNSTABLE upload can be reopened`;
        return undefined;
      }
      return { status: 'OPEN', last_event: { title: 'reopened', date: new Date().toISOString() } };
    });
    if (!u || u.status === 'DELETED') throw new ApiError('not-found', `no upload with id '${id}'`);
    if (refusal) throw new ApiError('conflict', refusal);
    return u;
  }

  /**
   * A check process was submitted as part of the close: its job id becomes the execution id. False when
   * the upload is not being closed (a check run on its own), so that the run does not touch the record.
   * The same execution asking again (prepared by a server, then by the bullmq worker that runs it) is
   * still the close's.
   */
  async checkSubmitted(id: string, checkId: string, executionId: string): Promise<boolean> {
    let taken = false;
    await this.change(id, (cur) => {
      const entry =
        cur.status === 'CHECKING' ? cur.checks?.find((c) => c.check._id === checkId && (c._id === '' || c._id === executionId)) : undefined;
      if (!entry) return undefined;
      taken = true;
      if (entry._id === executionId) return undefined;
      entry._id = executionId;
      return { checks: cur.checks };
    });
    return taken;
  }

  /** The check's job started. */
  async checkRunning(id: string, executionId: string): Promise<void> {
    await this.change(id, (cur) => {
      const entry = cur.checks?.find((c) => c._id === executionId);
      if (!entry || entry.status !== 'asked') return undefined;
      entry.status = 'in_progress';
      return { checks: cur.checks };
    });
  }

  /**
   * The reservation of `id`'s record changes, waited for: held for one read-modify-write, so a few ms. A
   * reservation left by a killed process is never freed (the known limit of reservations, README scale-out).
   */
  private async reserveChange(id: string): Promise<Release> {
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      const release = await this.records.locks.reserve('upload-change', id);
      if (release) return release;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * A check ended (or could not run: `checkId` names it when it has no execution). Once every check of
   * the close ended, the upload is CLOSED when all passed and UNSTABLE otherwise, its last event naming
   * the failed checks and their first reason. `typeInfos` (what the raster check learnt) are merged.
   */
  async checkEnded(
    id: string,
    which: { executionId: string } | { checkId: string },
    passed: boolean,
    logs: string[],
    typeInfos?: Record<string, unknown>,
  ): Promise<Upload | undefined> {
    const u = await this.change(id, (cur) => {
      if (cur.status !== 'CHECKING') return undefined;
      const entry = cur.checks?.find((c) =>
        'executionId' in which ? c._id === which.executionId : c.check._id === which.checkId && c._id === '',
      );
      if (!entry || entry.status === 'passed' || entry.status === 'failed') return undefined;
      const now = new Date().toISOString();
      entry.status = passed ? 'passed' : 'failed';
      entry.logs = [...entry.logs, ...logs];
      entry.finished = now;
      const patch: Partial<Upload> = { checks: cur.checks, ...(typeInfos ? { type_infos: { ...cur.type_infos, ...typeInfos } } : {}) };
      const checks = cur.checks ?? [];
      if (checks.every((c) => c.status === 'passed')) {
        patch.status = 'CLOSED';
        patch.last_event = { title: 'closed: every check passed', date: now };
      } else if (checks.every((c) => c.status === 'passed' || c.status === 'failed')) {
        const failed = checks.filter((c) => c.status === 'failed');
        const first = failed[0].logs.find((l) => l.startsWith('ERROR')) ?? failed[0].logs.at(-1) ?? '';
        patch.status = 'UNSTABLE';
        patch.last_event = { title: `checks failed (${failed.map((c) => c.check.name).join(', ')}): ${first}`, date: now };
      }
      return patch;
    });
    if (u?.status === 'CLOSED' || u?.status === 'UNSTABLE') this.log.info('upload checked', { upload: id, status: u.status });
    return u;
  }

  /**
   * Start-up (after the jobs' recovery): a close interrupted by a stop leaves the upload UNSTABLE, its
   * unfinished checks failed saying why; the user reopens or closes it again.
   */
  async recover(): Promise<number> {
    const { items } = await this.collection.list({ where: (u) => u.status === 'CHECKING' });
    for (const u of items)
      for (const c of u.checks ?? [])
        if (c.status === 'asked' || c.status === 'in_progress')
          await this.checkEnded(u._id, c._id ? { executionId: c._id } : { checkId: c.check._id }, false, [
            'ERROR the server stopped while this check ran; reopen and close the upload to check it again',
          ]);
    return items.length;
  }
}
