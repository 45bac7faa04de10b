import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Temp folders of executions (decoded base64 inputs, fetched hrefs) are named `dallage-exec-<pid>-…`
 * after the server process that made them, so that start-up can tell which ones an interrupted run
 * left: those of a process that no longer exists. Another live server's folders are left alone.
 */
export function execFolderPrefix(pid = process.pid): string {
  return path.join(os.tmpdir(), `dallage-exec-${pid}-`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the execution folders of server processes that are gone; returns how many were removed. */
export async function removeOrphanExecFolders(dir = os.tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = /^dallage-exec-(\d+)-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await fs.rm(path.join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
