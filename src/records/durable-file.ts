import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../errors.js';

let sequence = 0;

/** Error codes that mean "no room left" (a full disk, or a quota reached). */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Replaces `file` with `text` so that a crash or a power loss leaves either the old or the new
 * content, never a mix, and so that a resolved write survives past the page cache: the text goes to a
 * temp file beside it, which is fsynced, renamed over the file, then the folder is fsynced (the
 * rename itself lives in the folder's entry). A full disk leaves the old file untouched and throws
 * an `insufficient-storage` ApiError (507).
 */
export async function writeFileDurably(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  // Temp names start with the file's own name, so a leftover one is recognisable beside it.
  const tmp = `${file}.${process.pid}-${++sequence}.tmp`;
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw asStorageError(err, file);
  }
  await syncFolder(dir);
}

/** fsync of a folder: makes a rename or a removal in it durable. */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a folder (EINVAL, EISDIR): there the rename is as durable as it gets.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await handle.close();
  }
}

/** A full disk becomes the 507 problem; other errors are left as they are. */
export function asStorageError(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && NO_SPACE.has(code)) {
    // The client learns why (507); which file is the operator's business (the 5xx is logged with it).
    const error = new ApiError('insufficient-storage', 'the server has no disk space left to record this change; nothing was changed');
    error.cause = `${code} writing ${file}`;
    return error;
  }
  return err;
}

/** True for the error {@link writeFileDurably} throws when the disk is full. */
export function isInsufficientStorage(err: unknown): boolean {
  return err instanceof ApiError && err.kind === 'insufficient-storage';
}
