/**
 * http(s) inputs fetched once per execution (issue 14). With worker processes, the server resolves every input
 * to validate the request (a 400 names a bad href before anything is queued); the worker then resolves them
 * again to run it. The server keeps what it downloaded in the shared storage under the job, the task names
 * the objects, and the worker copies them instead of asking the href's host a second time (which may answer
 * differently, or count the request).
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { safeLabel, tempInputPath, type HrefContent, type ResolveOptions } from '../process/inputs.js';
import { objectChunks, type Storage } from '../storage/storage.js';

/** One fetched input in the shared storage: the href it came from, where it is, what it is. */
export interface FetchedInput {
  href: string;
  key: string;
  size: number;
  mediaType?: string;
}

/** Where an execution's fetched inputs are kept: inside the job's folder, which a dismiss removes. */
export function fetchedInputsPrefix(id: string): string {
  return `jobs/${id}/inputs/`;
}

/** Stores what the server downloaded for execution `id`; the task carries the answer (undefined: nothing fetched). */
export async function keepFetched(
  storage: Storage,
  id: string,
  downloads: ReadonlyMap<string, HrefContent>,
): Promise<Record<string, FetchedInput> | undefined> {
  if (downloads.size === 0) return undefined;
  const kept: Record<string, FetchedInput> = {};
  for (const [label, d] of downloads) {
    const key = `${fetchedInputsPrefix(id)}${safeLabel(label)}`;
    await storage.writeFile(key, d.file);
    kept[label] = { href: d.href, key, size: d.size, ...(d.mediaType !== undefined ? { mediaType: d.mediaType } : {}) };
  }
  return kept;
}

/**
 * The worker's side: an input the server fetched is copied from the storage into the run's temp folder (in
 * 8 MiB ranges, never whole in memory). An input it did not fetch, or whose object is gone, is downloaded.
 */
export function prefetchedFrom(storage: Storage, fetched: Record<string, FetchedInput> | undefined): ResolveOptions['prefetched'] {
  if (!fetched) return undefined;
  return async (label, href, tmpDir) => {
    const f = fetched[label];
    if (!f || f.href !== href || !(await storage.exists(f.key))) return undefined;
    const file = tempInputPath(tmpDir, label);
    await pipeline(objectChunks(storage, f.key, 8 * 1024 * 1024), createWriteStream(file));
    return { href, file, size: f.size, ...(f.mediaType !== undefined ? { mediaType: f.mediaType } : {}) };
  };
}
