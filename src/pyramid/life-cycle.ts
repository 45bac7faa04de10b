/**
 * The life of a pyramid product, the same for every process that writes one (DESIGN §7):
 * 1. at submission (`prepare`): {@link reservePyramid} reserves its name and the stored data it reads;
 * 2. when the job runs (`execute`): {@link writePyramid} creates its record GENERATING, write-locked, runs the
 *    work, commits (list, then descriptor: the commit point) and turns the record READY; on a failure or a
 *    dismiss it removes what the run wrote and marks the record FAILED or DELETED; a run that lost its job to
 *    another worker (`job-lost`) leaves everything to the run that took it;
 * 3. when the job ends, however (`release`): the reservation is released.
 */
import { ApiError, invalidInput, lostError } from '../errors.js';
import type { Datastore, StoredData } from '../records/stored-data.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import type { Rok4PyramidWriter } from '../rok4/writer.js';
import type { Storage } from '../storage/storage.js';
import { deletePyramidFiles, descriptorKey, newPyramidLocation, type PyramidLocation } from './location.js';

/** What a submitted job holds until it ends: the output name and the stored data it reads. */
export interface PyramidReservation {
  location: PyramidLocation;
  /** Ids of the stored data the run reads (they cannot be deleted until release). */
  reads: string[];
  /** Releases both; safe to call more than once. */
  release(): void;
}

/**
 * Reserves the name of a new pyramid (a 400 naming `input` when a stored data or a submitted job has it, or
 * when a committed pyramid of that name is in the storage without a record here — written there by the
 * command line, say) and the stored data the run will read (their deletion is refused with 409 until release).
 */
export async function reservePyramid(
  ctx: { datastore: Datastore; storage: Storage },
  name: string,
  reads: string[],
  input = 'name',
): Promise<PyramidReservation> {
  const releaseName = await ctx.datastore.reserveName(name);
  if (!releaseName) throw invalidInput(input, `a stored data named '${name}' already exists (or is being written by another job)`);
  const releaseReads = await ctx.datastore.lockForRead(reads);
  const reservation: PyramidReservation = {
    location: newPyramidLocation(name),
    reads,
    release: () => {
      releaseReads();
      releaseName();
    },
  };
  try {
    await refuseCommitted(ctx.storage, reservation.location, input);
  } catch (err) {
    reservation.release();
    throw err;
  }
  return reservation;
}

/** A 400 when the location holds a committed pyramid (its descriptor): never written over, never removed. */
async function refuseCommitted(storage: Storage, location: PyramidLocation, input: string): Promise<void> {
  if (await storage.exists(descriptorKey(location))) {
    throw invalidInput(
      input,
      `a pyramid named '${location.name}' is already in the storage (${location.folder}) though no stored data here has ` +
        'that name; remove it or choose another name',
    );
  }
}

/** What the work of a run hands back: its writer (not yet committed) and the fields of the READY record. */
export interface PyramidWork {
  writer: Rok4PyramidWriter;
  ready: Pick<StoredData, 'size' | 'use' | 'type_infos'>;
}

/**
 * Writes the reserved pyramid: `work` writes slabs through a writer at `location` and must have waited for
 * every write before it returns or throws (nothing may be written after the cleanup).
 * @param failure what a failure message starts with ("pyramid generation failed").
 */
export async function writePyramid(
  ctx: { storage: Storage; storageName?: string; datastore: Datastore; jobId: string; signal: AbortSignal },
  reservation: PyramidReservation,
  failure: string,
  work: (location: PyramidLocation) => Promise<PyramidWork>,
): Promise<StoredData> {
  const { location } = reservation;
  const key = descriptorKey(location);
  // Checked again: the storage may be shared with another writer (the command line) since the submission.
  await refuseCommitted(ctx.storage, location, 'name');
  const { record, release } = await ctx.datastore.createForWrite({
    name: location.name,
    type: PYRAMID_TYPE,
    jobId: ctx.jobId,
    use: reservation.reads,
    storage: { type: ctx.storage.type, key, href: ctx.storage.url(key), ...(ctx.storageName ? { name: ctx.storageName } : {}) },
  });
  try {
    // What a run of the same name killed before its commit left there belongs to no one: the name is
    // reserved, no live record has it and no descriptor commits it.
    await deletePyramidFiles(ctx.storage, location);
    const { writer, ready } = await work(location);
    ctx.signal.throwIfAborted();
    // A run whose job another worker took meanwhile (this one stalled past its queue lock) finds its record
    // DELETED by that run, which writes the same folder: it must not commit there. Checked before the
    // descriptor, then again at once with the READY (a compare-and-set), for a loss heard late.
    if (!(await ctx.datastore.writing(record._id, ctx.jobId))) throw productTakenOver(record);
    await writer.commit();
    const committed = await ctx.datastore.commit(record._id, ctx.jobId, ready);
    if (!committed) throw productTakenOver(record);
    return committed;
  } catch (err) {
    // Lost: the folder, the name and the job are the other run's now; nothing here is ours to undo.
    const lost = lostError(ctx.signal, err);
    if (lost) throw lost;
    // Failed before it heard of its loss (its files removed under it by the run that took the job, say): the
    // record says whose the folder is. A store that cannot answer leaves the cleanup to this run, as before.
    if (!(await ctx.datastore.writing(record._id, ctx.jobId).catch(() => true))) throw productTakenOver(record);
    await deletePyramidFiles(ctx.storage, location).catch(() => {});
    // Only a dismissal deletes the product; a run stopped otherwise (the server stopping, a synchronous
    // client gone) failed, and its record says why.
    const dismissed = ctx.signal.aborted && ctx.signal.reason instanceof ApiError && ctx.signal.reason.kind === 'job-dismissed';
    // Handed back to the queue by a stopping worker: the job runs again elsewhere and writes it anew.
    const handedBack = ctx.signal.aborted && ctx.signal.reason instanceof ApiError && ctx.signal.reason.kind === 'job-handed-back';
    const why = ctx.signal.aborted ? reasonOf(ctx.signal.reason) : reasonOf(err);
    await ctx.datastore.settle(record._id, ctx.jobId, {
      status: dismissed || handedBack ? 'DELETED' : 'FAILED',
      message: dismissed ? 'the job was dismissed' : handedBack ? 'its worker stopped and gave the job back to the queue' : why,
      size: 0,
    });
    if (err instanceof ApiError) throw err;
    throw new Error(`${failure}: ${reasonOf(err)}`);
  } finally {
    release();
  }
}

/** The error of a run that finds the record of its product no longer its own (see {@link Datastore.commit}). */
export function productTakenOver(record: Pick<StoredData, '_id' | 'name'>): ApiError {
  return new ApiError(
    'job-lost',
    `stored data '${record.name}' (${record._id}) is no longer this run's: another run of the job took it over`,
  );
}

/** The reason of a failure, whatever was thrown (errors from worker threads may lose their prototype). */
export function reasonOf(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string')
    return (err as { message: string }).message;
  return String(err);
}
