/**
 * The Storage contract (DESIGN §4, §7): every byte the product persists goes through it, so that
 * moving from FILE to S3 is a change of implementation only. Keys are relative, '/'-separated
 * paths ("PYR/DATA/15/00/76/88.tif"); they never start with '/' and never contain '..'.
 */
/** An open object: ranged reads without reopening it; `close` once no read is pending. */
export interface RangeHandle {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** What {@link Storage.stat} tells of an object. */
export interface ObjectStat {
  size: number;
  /** Last modification, in milliseconds since the epoch. */
  modified: number;
}

export interface Storage {
  /** `FILE` or `S3`: the ROK4 storage type written in descriptors (rok4.md §3.4). */
  readonly type: 'FILE' | 'S3';
  /**
   * What ROK4 lists call the storage root (rok4.md §6): the absolute directory on FILE, the
   * bucket name on S3. `root + '/' + key` names an object in list headers.
   */
  readonly root: string;
  /** Whole object. Rejects with a `NotFoundError` when it does not exist. */
  read(key: string): Promise<Buffer>;
  /** `length` bytes from `offset`; shorter when the object ends first. Follows references. */
  readRange(key: string, offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: an object kept open for many ranged reads (the slabs of a published pyramid, read tile by
   * tile). Callers fall back to `readRange` when absent. Only for objects that do not change while open.
   */
  openForRanges?(key: string): Promise<RangeHandle>;
  /** Atomic write: readers see the old object or the new one, never a part. */
  write(key: string, data: Uint8Array | string): Promise<void>;
  /**
   * Atomic write of a finished local file (large objects such as COGs, uploads, delivered files) without
   * holding it in memory; the local file is left in place.
   */
  writeFile(key: string, localPath: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Size in bytes of the object (after following a reference), or undefined if absent. */
  size(key: string): Promise<number | undefined>;
  /**
   * Size and last modification of the object (after following a reference), or undefined if absent:
   * readers that cache what they parsed of an object key their caches by both, so that an object
   * replaced under the same key (an upload's file sent again) is read anew.
   */
  stat(key: string): Promise<ObjectStat | undefined>;
  /** Keys under a prefix (recursive), in no particular order. */
  list(prefix: string): AsyncIterable<string>;
  /** Removes an object (or a reference, never its target). Absent objects are not an error. */
  delete(key: string): Promise<void>;
  /** Removes every object under a prefix (a pyramid's tree). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Makes `key` a reference to `targetKey` (rok4.md §7.2): a relative symbolic link on FILE, a
   * `SYMLINK#bucket/key` object on S3. Replaces what was at `key`.
   */
  link(key: string, targetKey: string): Promise<void>;
  /** The key a reference points to, or undefined when `key` is a plain object or absent. */
  linkTarget(key: string): Promise<string | undefined>;
  /** Bytes free for new objects, or undefined when the storage cannot tell (object stores). */
  freeBytes?(): Promise<number | undefined>;
  /** An absolute URL for the object: `file:///abs/path` or `s3://bucket/key`. */
  url(key: string): string;
}

/**
 * The bytes `start`..`end` (inclusive; default: to the object's end) of an object, `chunkBytes` at a time:
 * a large object is streamed, hashed or copied without ever being held whole.
 */
export async function* objectChunks(
  storage: Storage,
  key: string,
  chunkBytes: number,
  range: { start?: number; end?: number } = {},
): AsyncGenerator<Buffer> {
  const end = range.end ?? Number.POSITIVE_INFINITY;
  for (let at = range.start ?? 0; at <= end; at += chunkBytes) {
    const chunk = await storage.readRange(key, at, Math.min(chunkBytes, end + 1 - at));
    if (chunk.length > 0) yield chunk;
    if (chunk.length < Math.min(chunkBytes, end + 1 - at)) return;
  }
}

/** Raised by Storage.read for a missing object. */
export class NotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(readonly key: string) {
    super(`no such object: ${key}`);
  }
}

/** Rejects keys that could escape the storage root. */
export function checkKey(key: string): string {
  if (
    typeof key !== 'string' ||
    key === '' ||
    key.startsWith('/') ||
    key.includes('\0') ||
    key.split('/').some((part) => part === '..' || part === '.')
  ) {
    throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
  }
  return key;
}
