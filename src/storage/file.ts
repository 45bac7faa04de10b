import fsCallback, { promises as fs, constants as fsConstants, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { checkKey, NotFoundError, type ObjectStat, type RangeHandle, type Storage } from './storage.js';

/**
 * Ranged reads of kept-open files block the calling thread when it is a worker thread (maps drawn, pyramids
 * merged): a read handed to libuv's thread pool costs its submitting thread a lock and a wake-up round trip,
 * 3.3 ms of a GetMap's ~16 ms of drawing-thread time in a CPU profile (2026-12-06), against microseconds for a
 * read from the page cache; a worker blocked on a slow disk holds up only its own task. The main thread,
 * which answers every request, never blocks.
 */
const SYNC_RANGE_READS = !isMainThread;

/** FILE storage: a directory tree; references are relative symbolic links as BE4 writes them (rok4.md §7.2). */
export class FileStorage implements Storage {
  readonly type = 'FILE' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Absolute path of a key. */
  path(key: string): string {
    return path.join(this.root, checkKey(key));
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.path(key));
    } catch (err) {
      throw notFound(err, key);
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path(key), fsConstants.O_RDONLY);
    } catch (err) {
      throw notFound(err, key);
    }
    try {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? buffer : buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  /** A file descriptor kept open (callback API: no FileHandle to be closed by the garbage collector). */
  async openForRanges(key: string): Promise<RangeHandle> {
    const fd = await new Promise<number>((resolve, reject) =>
      fsCallback.open(this.path(key), fsConstants.O_RDONLY, (err, fd) => (err ? reject(notFound(err, key)) : resolve(fd))),
    );
    const readAt = (buffer: Buffer, at: number, length: number, position: number) =>
      SYNC_RANGE_READS
        ? Promise.resolve(fsCallback.readSync(fd, buffer, at, length, position))
        : new Promise<number>((resolve, reject) =>
            fsCallback.read(fd, buffer, at, length, position, (err, n) => (err ? reject(err) : resolve(n))),
          );
    return {
      async read(offset, length) {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const n = await readAt(buffer, filled, length - filled, offset + filled);
          if (n === 0) break;
          filled += n;
        }
        return filled === length ? buffer : buffer.subarray(0, filled);
      },
      close: () => new Promise<void>((resolve) => fsCallback.close(fd, () => resolve())),
    };
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const target = this.path(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // Write then rename: a reader never sees a half-written slab or descriptor (DESIGN §7).
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, data);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async writeFile(key: string, localPath: string): Promise<void> {
    const target = this.path(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // Copy beside the target then rename: visible only when complete (DESIGN §7).
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.copyFile(localPath, tmp);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await fs.stat(this.path(key));
      return true;
    } catch {
      return false;
    }
  }

  async size(key: string): Promise<number | undefined> {
    return (await this.stat(key))?.size;
  }

  async stat(key: string): Promise<ObjectStat | undefined> {
    try {
      const st = await fs.stat(this.path(key));
      return { size: st.size, modified: st.mtimeMs };
    } catch {
      return undefined;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const base = prefix === '' ? this.root : this.path(prefix.replace(/\/+$/, ''));
    let stat: Stats;
    try {
      stat = await fs.lstat(base);
    } catch {
      return;
    }
    if (!stat.isDirectory()) {
      yield path.relative(this.root, base).split(path.sep).join('/');
      return;
    }
    const stack = [base];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) stack.push(full);
        else if (!entry.name.endsWith('.tmp')) yield path.relative(this.root, full).split(path.sep).join('/');
      }
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    // Retried when a file appears in a folder being removed (ENOTEMPTY): a bullmq worker that stalled past its
    // job's lock writes on for a few milliseconds once it runs again, until it hears that it lost the job,
    // while the run that took the job over clears the same folder (issue 14).
    await fs.rm(this.path(prefix.replace(/\/+$/, '')), { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
  }

  async link(key: string, targetKey: string): Promise<void> {
    const linkPath = this.path(key);
    const targetPath = this.path(targetKey);
    await fs.mkdir(path.dirname(linkPath), { recursive: true });
    // Relative target, like BE4 (os.path.relpath), so a moved storage root keeps working.
    const relative = path.relative(path.dirname(linkPath), targetPath);
    const tmp = `${linkPath}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.symlink(relative, tmp);
    await fs.rename(tmp, linkPath);
  }

  async linkTarget(key: string): Promise<string | undefined> {
    const linkPath = this.path(key);
    try {
      const target = await fs.readlink(linkPath);
      const absolute = path.resolve(path.dirname(linkPath), target);
      return path.relative(this.root, absolute).split(path.sep).join('/');
    } catch {
      return undefined;
    }
  }

  async freeBytes(): Promise<number | undefined> {
    try {
      await fs.mkdir(this.root, { recursive: true });
      const s = await fs.statfs(this.root);
      return s.bavail * s.bsize;
    } catch {
      return undefined;
    }
  }

  url(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }
}

function notFound(err: unknown, key: string): Error {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT' ? new NotFoundError(key) : (err as Error);
}
