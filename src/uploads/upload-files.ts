import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../errors.js';
import type { Storage } from '../storage/storage.js';

/** Where the files of an upload live in the Storage. */
export function uploadPrefix(uploadId: string): string {
  return `uploads/${uploadId}/`;
}

export interface ReceiveOptions {
  /** Bytes this file may have (the smaller of the per-file limit and what is left of the upload's and quota's). */
  maxBytes: number;
  /** Names the limit `maxBytes` comes from, for the 413. */
  limitName: string;
  /** Expected MD5 (hex) from Content-MD5 / `md5`: a mismatch → 400 and nothing is kept. */
  md5?: string;
  signal?: AbortSignal;
}

/** A tree entry in the platform's shape (GET /uploads/{id}/tree). */
export interface TreeEntry {
  type: 'DIRECTORY' | 'FILE';
  name: string;
  size: number;
  children?: TreeEntry[];
}

/**
 * The files of uploads: each received as a stream into a part file beside the storage, then made
 * visible at once by the Storage's atomic write (DESIGN §7). A client that goes away, a limit or a
 * full disk leaves no file in the upload; two clients sending the same path end with one whole file
 * (the last complete one).
 */
export class UploadFiles {
  constructor(
    private readonly storage: Storage,
    /** Local folder for parts; on FILE storage inside its root so that the final move is a rename. */
    private readonly partsDir: string,
  ) {}

  /** Streams `source` to `uploads/<id>/<relPath>`; resolves with its size and MD5 once visible. */
  async receive(uploadId: string, relPath: string, source: Readable, options: ReceiveOptions): Promise<{ size: number; md5: string }> {
    await fs.mkdir(this.partsDir, { recursive: true });
    const part = path.join(this.partsDir, `${uploadId}-${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('md5');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > options.maxBytes) {
          done(new ApiError('payload-too-large', `the file ${relPath} is larger than ${options.limitName} (${options.maxBytes} bytes)`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(part), { signal: options.signal });
      const md5 = hash.digest('hex');
      if (options.md5 !== undefined && options.md5.toLowerCase() !== md5)
        throw new ApiError('invalid-parameter', `the MD5 of ${relPath} is ${md5}, not ${options.md5} as sent: the file is not kept`, {
          parameter: 'md5',
        });
      await this.move(`${uploadPrefix(uploadId)}${relPath}`, part);
      return { size, md5 };
    } finally {
      await fs.rm(part, { force: true });
    }
  }

  /** The part file of a resumable transfer: one per upload, path and total size. */
  private resumePart(uploadId: string, relPath: string, total: number): string {
    const h = createHash('sha1').update(relPath).digest('hex').slice(0, 20);
    return path.join(this.partsDir, `${uploadId}-${h}-${total}.resume`);
  }

  /** Bytes already received of a resumable transfer (0 when none began). */
  async received(uploadId: string, relPath: string, total: number): Promise<number> {
    try {
      return (await fs.stat(this.resumePart(uploadId, relPath, total))).size;
    } catch {
      return 0;
    }
  }

  /**
   * One chunk of a resumable transfer (`Content-Range: bytes start-end/total`, README "Uploads"): it
   * must start where the received bytes end (409 otherwise, naming them); what arrives is kept even if
   * the client goes away, so that it can continue. When the last byte is in, the whole file is checked
   * (MD5) and made visible like {@link receive}; until then nothing is in the upload's tree.
   * @returns `done` with size and MD5, or the bytes received so far.
   */
  async resume(
    uploadId: string,
    relPath: string,
    source: Readable,
    range: { start: number; end: number; total: number },
    options: ReceiveOptions,
  ): Promise<{ done: true; size: number; md5: string } | { done: false; received: number }> {
    if (range.total > options.maxBytes)
      throw new ApiError(
        'payload-too-large',
        `the file ${relPath} (${range.total} bytes) is larger than ${options.limitName} (${options.maxBytes} bytes)`,
      );
    const part = this.resumePart(uploadId, relPath, range.total);
    if (this.busy.has(part))
      throw new ApiError(
        'conflict',
        `another transfer of ${relPath} is running; ask where it stands with Content-Range: bytes */${range.total}`,
      );
    this.busy.add(part);
    try {
      await fs.mkdir(this.partsDir, { recursive: true });
      const have = await this.received(uploadId, relPath, range.total);
      if (range.start !== have)
        throw new ApiError(
          'conflict',
          `${have} bytes of ${relPath} are received: continue with Content-Range: bytes ${have}-…/${range.total}`,
        );
      let size = have;
      const length = range.end - range.start + 1;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          if (size > range.end + 1) {
            done(new ApiError('invalid-body', `the body is longer than its Content-Range (${length} bytes)`));
            return;
          }
          done(null, chunk);
        },
      });
      await pipeline(source, meter, createWriteStream(part, { flags: 'a' }), { signal: options.signal });
      if (size !== range.end + 1)
        throw new ApiError('invalid-body', `the body is shorter than its Content-Range (${size - have} of ${length} bytes)`);
      if (size < range.total) return { done: false, received: size };
      const hash = createHash('md5');
      await pipeline(createReadStream(part), hash);
      const md5 = hash.digest('hex');
      if (options.md5 !== undefined && options.md5.toLowerCase() !== md5) {
        await fs.rm(part, { force: true });
        throw new ApiError('invalid-parameter', `the MD5 of ${relPath} is ${md5}, not ${options.md5} as sent: the file is not kept`, {
          parameter: 'md5',
        });
      }
      await this.move(`${uploadPrefix(uploadId)}${relPath}`, part);
      return { done: true, size, md5 };
    } finally {
      this.busy.delete(part);
    }
  }

  /** Resumable part files being written now (one writer each). */
  private readonly busy = new Set<string>();

  /** Makes a finished part visible: a rename on FILE storage when it can, the Storage's atomic copy otherwise. */
  private async move(key: string, part: string): Promise<void> {
    if (this.storage.type === 'FILE') {
      const target = path.join(this.storage.root, key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        await fs.rename(part, target);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      }
    }
    await this.storage.writeFile(key, part);
  }

  /** Files of an upload: relative path → size. */
  async files(uploadId: string): Promise<Map<string, number>> {
    const prefix = uploadPrefix(uploadId);
    const out = new Map<string, number>();
    for await (const key of this.storage.list(prefix)) {
      const size = await this.storage.size(key);
      if (size !== undefined) out.set(key.slice(prefix.length), size);
    }
    return out;
  }

  async deleteFile(uploadId: string, relPath: string): Promise<boolean> {
    const key = `${uploadPrefix(uploadId)}${relPath}`;
    if (!(await this.storage.exists(key))) return false;
    await this.storage.delete(key);
    return true;
  }

  async deleteAll(uploadId: string): Promise<void> {
    await this.storage.deletePrefix(uploadPrefix(uploadId));
    // Unfinished resumable transfers of this upload go too.
    for (const name of await fs.readdir(this.partsDir).catch(() => [] as string[]))
      if (name.startsWith(`${uploadId}-`) && name.endsWith('.resume')) await fs.rm(path.join(this.partsDir, name), { force: true });
  }

  /** The platform's tree: folders first by name, then files, sizes summed up the folders. */
  async tree(uploadId: string): Promise<TreeEntry[]> {
    const root: TreeEntry = { type: 'DIRECTORY', name: '', size: 0, children: [] };
    for (const [rel, size] of [...(await this.files(uploadId))].sort(([a], [b]) => a.localeCompare(b))) {
      const parts = rel.split('/');
      let dir = root;
      dir.size += size;
      for (const name of parts.slice(0, -1)) {
        let next = dir.children?.find((c) => c.type === 'DIRECTORY' && c.name === name);
        if (!next) {
          next = { type: 'DIRECTORY', name, size: 0, children: [] };
          dir.children?.push(next);
        }
        next.size += size;
        dir = next;
      }
      dir.children?.push({ type: 'FILE', name: parts[parts.length - 1], size });
    }
    return root.children ?? [];
  }
}
