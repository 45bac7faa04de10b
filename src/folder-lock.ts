/**
 * Exclusive locks on the folders a server (or `dallage execute`) writes: its job store and its storage
 * (issue 9, "two servers on one data folder"). A second process on the same folder would run crash
 * recovery on a live store (failing the first one's running jobs on disk) and write pyramids under the
 * same names; it must stop at once, before it opens or changes anything, naming the holder.
 *
 * How: a file `.dallage.lock` created with O_EXCL (atomic on local file systems) holding the owner's
 * pid, host and process start time. A lock left by a process killed with SIGKILL is recognized as
 * stale at once (same host, and that pid is gone or is another process since it started later), so
 * a restart after a crash needs no wait. We do not use `proper-lockfile`: its staleness is an mtime
 * the owner refreshes on a timer, so a restart after kill -9 waits out the stale period, and an event
 * loop stalled by heavy raster work past it gets the live server's lock declared compromised.
 * A lock from another host (a shared network folder) is never taken over: the message names it.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, linkSync, fsyncSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.dallage.lock';

/** Why a folder could not be locked (another live process holds it, or the folder cannot be written). */
export class FolderLockError extends Error {}

interface Owner {
  pid: number;
  host: string;
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat field 22), when known. */
  start?: string;
  /** What holds it: "server", "execute". */
  role: string;
}

/** Folders this process holds (a lock file naming our own pid is ours only if listed here). */
const held = new Set<string>();

/** Start time of a process, from /proc (Linux); undefined elsewhere or when it does not exist. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the owner written in a lock file can no longer hold it. */
function isStale(owner: Owner, file: string): boolean {
  if (owner.host !== os.hostname()) return false;
  if (owner.pid === process.pid) return !held.has(file); // a previous life of our pid (containers: pid 1)
  if (!alive(owner.pid)) return true;
  // The pid was reused by a process started after the owner (only known where /proc is).
  const now = startTimeOf(owner.pid);
  return owner.start !== undefined && now !== undefined && now !== owner.start;
}

function describe(owner: Owner | undefined, folder: string): string {
  if (!owner) return `the folder ${folder} is locked by another dallage process (${LOCK_FILE}, unreadable)`;
  const where = owner.host === os.hostname() ? '' : ` on host ${owner.host}`;
  return (
    `the folder ${folder} is in use by another dallage ${owner.role} (pid ${owner.pid}${where}); ` +
    `stop it first, or use another folder (if no such process runs, remove ${path.join(folder, LOCK_FILE)})`
  );
}

function readOwner(file: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(file: string, owner: Owner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new FolderLockError(`cannot lock the folder ${path.dirname(file)}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Locks `folder` (created if missing) for this process; throws {@link FolderLockError} naming the holder
 * when another live process has it. Synchronous: nothing else may run between the check and the take.
 */
export function lockFolder(folder: string, role: string): () => void {
  const dir = path.resolve(folder);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  if (held.has(file)) throw new FolderLockError(describe({ pid: process.pid, host: os.hostname(), role }, dir));
  const me: Owner = { pid: process.pid, host: os.hostname(), start: startTimeOf(process.pid), role };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, me)) {
      held.add(file);
      return () => release(file);
    }
    const owner = readOwner(file);
    if (!owner) {
      // Being written by its creator this very moment (or damaged): look again shortly.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      if (attempt < 2) continue;
      throw new FolderLockError(describe(undefined, dir));
    }
    if (!isStale(owner, file)) throw new FolderLockError(describe(owner, dir));
    // Take the stale lock away under a name of our own; if what we moved is not what we judged stale
    // (another process took it over in between), put it back and give up.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // another process moved it first: try to create again
    }
    const moved = readOwner(aside);
    if (moved && (moved.pid !== owner.pid || moved.start !== owner.start)) {
      try {
        linkSync(aside, file);
      } catch {
        /* a third process holds the lock now: ours to refuse below */
      }
      unlinkSync(aside);
      throw new FolderLockError(describe(moved, dir));
    }
    unlinkSync(aside);
  }
  throw new FolderLockError(describe(readOwner(file), dir));
}

function release(file: string): void {
  if (!held.delete(file)) return;
  const owner = readOwner(file);
  if (owner && owner.pid === process.pid) {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
}

/** Locks several folders (the same folder named twice is locked once); releases what it took if one fails. */
export function lockFolders(folders: string[], role: string): () => void {
  const releases: Array<() => void> = [];
  try {
    for (const f of [...new Set(folders.map((d) => path.resolve(d)))]) releases.push(lockFolder(f, role));
  } catch (err) {
    for (const r of releases.reverse()) r();
    throw err;
  }
  return () => {
    for (const r of releases.reverse()) r();
  };
}
