import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { BucketItem, Client } from 'minio';
import { ApiError } from '../errors.js';
import { DEFAULT_RETRY, errorCode, withRetries, type RetryPolicy } from './retry.js';
import { checkKey, NotFoundError, type ObjectStat, type Storage } from './storage.js';

/** How to reach an S3 bucket (config.yml `storage: {type: s3, …}`). */
export interface S3Settings {
  /** `http(s)://host[:port]` */
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Object name prefix of every key ('' or ending with '/'). */
  prefix: string;
}

/** Prefix of an object-storage reference (rok4.md §7.2). */
const SYMLINK_PREFIX = 'SYMLINK#';
/**
 * A reference object is smaller than a slab's header (2048 bytes, rok4.md §5.1): anything at least this
 * long is never one, so reads and stats decide without reading the object again.
 */
const REFERENCE_MAX_BYTES = 2048;
/** S3's smallest part of a multipart upload (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Objects larger than this go up in parts of this size (a COG, an uploaded file). */
const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
/** Keys per DeleteObjects request (the S3 maximum). */
const DELETE_BATCH = 1000;

/**
 * A failed S3 operation (a permanent error, or a transient one whose retries are spent): `S3 PUT
 * <bucket>/<object>: <code>` with the S3 error code (AccessDenied, NoSuchBucket…) or the connection's
 * (ECONNREFUSED…) in `code`. An ApiError of kind `unavailable`: the job it stops fails with this detail,
 * which names no address; the client's own error (with the endpoint) is its `cause`, for the log.
 */
export class S3StorageError extends ApiError {
  constructor(
    readonly code: string,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super('unavailable', detail);
    this.name = 'S3StorageError';
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * S3 storage through the `minio` client (issue 13; rok4.md §4.2, §7.2): a key is the object
 * `<prefix><key>` of the bucket; references are `SYMLINK#<bucket>/<object>` objects, which reads
 * return as they are (ROK4 readers follow them, §5.4). Writes are single PUTs — an object appears whole
 * or not at all — or, above the part size, multipart uploads completed only once every part is in.
 * Every request is retried on transient failures (src/storage/retry.ts); a permanent one throws an
 * {@link S3StorageError} naming the S3 error code, the bucket and the object.
 */
export class S3Storage implements Storage {
  readonly type = 'S3' as const;
  /** `<bucket>` or `<bucket>/<prefix without its final '/'>`: what lists and references name objects from (rok4.md §6). */
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string;
  private readonly clientOptions: ConstructorParameters<typeof Client>[0];
  private clientMade?: Promise<Client>;
  private readonly partSize: number;
  private readonly retry: RetryPolicy;

  constructor(
    readonly settings: S3Settings,
    options: { partSize?: number; retry?: RetryPolicy } = {},
  ) {
    const url = new URL(settings.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`S3 endpoint ${settings.endpoint}: not http(s)`);
    const prefix = settings.prefix.replace(/^\/+/, '');
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`S3 prefix ${JSON.stringify(settings.prefix)} must end with '/'`);
    this.endpoint = settings.endpoint.replace(/\/+$/, '');
    this.bucket = settings.bucket;
    this.prefix = prefix;
    this.root = prefix === '' ? settings.bucket : `${settings.bucket}/${prefix.replace(/\/+$/, '')}`;
    this.partSize = Math.max(options.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.clientOptions = {
      endPoint: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      ...(url.port ? { port: Number(url.port) } : {}),
      useSSL: url.protocol === 'https:',
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      region: settings.region,
      // Buckets as a path segment: works with any S3-compatible server, names with dots, and loopback.
      pathStyle: true,
      partSize: this.partSize,
      // Our own retries (whole operations, bodies re-read), not the client's (status codes only).
      retryOptions: { disableRetry: true },
    };
  }

  /**
   * The minio client, made on first use. Importing minio (and its XML stack) costs ~0.5 s of CPU, which
   * the worker threads of a file-storage pyramid and the commands that never reach S3 do not pay.
   */
  private client(): Promise<Client> {
    if (!this.clientMade) {
      const made = import('minio').then(({ Client: MinioClient }) => new MinioClient(this.clientOptions));
      // A failed import or construction is tried again on the next request.
      made.catch(() => {
        if (this.clientMade === made) this.clientMade = undefined;
      });
      this.clientMade = made;
    }
    return this.clientMade;
  }

  /** Object name of a key. */
  objectName(key: string): string {
    return `${this.prefix}${checkKey(key)}`;
  }

  /**
   * Checks the bucket at start-up (issue 13): an error naming the endpoint and the bucket when the
   * server cannot be reached, refuses the credentials, or has no such bucket — which `create` makes.
   */
  async checkBucket(create = false): Promise<void> {
    const where = `S3 storage ${this.endpoint}, bucket '${this.bucket}'`;
    let exists: boolean;
    try {
      exists = await this.request((client) => client.bucketExists(this.bucket));
    } catch (err) {
      throw new Error(`${where}: cannot be reached or refused us (${describe(err)})`);
    }
    if (exists) return;
    if (!create) throw new Error(`${where}: no such bucket (create it, or set storage.create_bucket: true)`);
    try {
      await this.request((client) => client.makeBucket(this.bucket, this.settings.region));
    } catch (err) {
      throw new Error(`${where}: the bucket could not be created (${describe(err)})`);
    }
  }

  async read(key: string): Promise<Buffer> {
    const name = this.objectName(key);
    return this.call('GET', name, async (client) => readAll(await client.getObject(this.bucket, name)));
  }

  /** `length` bytes from `offset` of the object as stored (a reference object is not followed). */
  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const name = this.objectName(key);
    if (length <= 0) return Buffer.alloc(0);
    try {
      return await this.call('GET', name, async (client) => readAll(await client.getPartialObject(this.bucket, name, offset, length)));
    } catch (err) {
      // A range starting past the end: nothing there (as a short file read).
      if ((err as { code?: string }).code === 'InvalidRange') return Buffer.alloc(0);
      throw err;
    }
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const name = this.objectName(key);
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (body.length > this.partSize) {
      await this.multipart(name, body.length, async (offset, length) => body.subarray(offset, offset + length));
      return;
    }
    await this.call('PUT', name, (client) => client.putObject(this.bucket, name, body, body.length));
  }

  /** A local file as one object: one PUT, or a multipart upload above the part size (parts read one at a time). */
  async writeFile(key: string, localPath: string): Promise<void> {
    const name = this.objectName(key);
    const file = await open(localPath, 'r');
    try {
      const { size } = await file.stat();
      const readPart = async (offset: number, length: number) => {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await file.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw new Error(`${localPath} shrank while it was uploaded`);
          filled += bytesRead;
        }
        return buffer;
      };
      if (size > this.partSize) await this.multipart(name, size, readPart);
      else {
        const body = await readPart(0, size);
        await this.call('PUT', name, (client) => client.putObject(this.bucket, name, body, size));
      }
    } finally {
      await file.close();
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(this.objectName(key))) !== undefined;
  }

  /** Size of the object, or of its target when it is a reference. */
  async size(key: string): Promise<number | undefined> {
    return (await this.stat(key))?.size;
  }

  /** Size and last modification of the object, or of its target when it is a reference. */
  async stat(key: string): Promise<ObjectStat | undefined> {
    const head = await this.head(this.objectName(key));
    if (head === undefined || head.size >= REFERENCE_MAX_BYTES) return head;
    const target = await this.linkTarget(key);
    return target === undefined ? head : this.head(this.objectName(target));
  }

  /**
   * Keys under a prefix. As on FILE, a prefix names a folder ('a/b' lists 'a/b' itself and 'a/b/…', never
   * 'a/bc'). Listed page by page, each page retried on its own.
   */
  async *list(prefix: string): AsyncIterable<string> {
    const folder = prefix === '' ? '' : prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (prefix !== '' && !prefix.endsWith('/') && (await this.exists(prefix))) yield prefix;
    const objectPrefix = `${this.prefix}${folder}`;
    let token = '';
    for (;;) {
      const page = await this.call('LIST', objectPrefix, (client) =>
        client.listObjectsV2Query(this.bucket, objectPrefix, token, '', 1000, ''),
      );
      for (const item of page.objects as BucketItem[]) if (item.name) yield item.name.slice(this.prefix.length);
      if (!page.isTruncated || !page.nextContinuationToken) return;
      token = page.nextContinuationToken;
    }
  }

  async delete(key: string): Promise<void> {
    const name = this.objectName(key);
    await this.call('DELETE', name, (client) => client.removeObject(this.bucket, name));
  }

  async deletePrefix(prefix: string): Promise<void> {
    let batch: string[] = [];
    const flush = async () => {
      const names = batch;
      batch = [];
      const results = await this.call('DELETE', `${this.prefix}${prefix}*`, (client) => client.removeObjects(this.bucket, names));
      const failed = results.find((r) => r?.Error);
      if (failed?.Error) {
        const code = failed.Error.Code ?? 'Unknown';
        throw new S3StorageError(
          code,
          `S3 DELETE ${this.bucket}/${failed.Error.Key}: ${code}${failed.Error.Message ? ` (${failed.Error.Message})` : ''}`,
        );
      }
    };
    // Keys gathered first: deleting while listing would move the pages under the listing.
    const names: string[] = [];
    for await (const key of this.list(prefix)) names.push(this.objectName(key));
    for (const name of names) {
      batch.push(name);
      if (batch.length === DELETE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }

  /** A `SYMLINK#<bucket>/<object>` object at `key` (rok4.md §7.2). */
  async link(key: string, targetKey: string): Promise<void> {
    await this.write(key, `${SYMLINK_PREFIX}${this.root}/${checkKey(targetKey)}`);
  }

  async linkTarget(key: string): Promise<string | undefined> {
    let head: Buffer;
    try {
      head = await this.readRange(key, 0, REFERENCE_MAX_BYTES);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (head.length >= REFERENCE_MAX_BYTES || head.toString('latin1', 0, SYMLINK_PREFIX.length) !== SYMLINK_PREFIX) return undefined;
    const target = head.toString('utf8', SYMLINK_PREFIX.length).trim();
    if (!target.startsWith(`${this.root}/`))
      throw new Error(`object ${this.objectName(key)} refers to ${target}, outside storage ${this.root}`);
    return target.slice(this.root.length + 1);
  }

  /** Object stores do not tell their free space. */
  async freeBytes(): Promise<number | undefined> {
    return undefined;
  }

  url(key: string): string {
    return `s3://${this.bucket}/${this.objectName(key)}`;
  }

  /** Size and modification time of an object, undefined when absent. */
  private async head(name: string): Promise<ObjectStat | undefined> {
    try {
      const st = await this.call('HEAD', name, (client) => client.statObject(this.bucket, name));
      return { size: st.size, modified: new Date(st.lastModified).getTime() };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * A multipart upload (objects larger than one part): parts uploaded one by one, each retried; the
   * object exists only once CompleteMultipartUpload succeeds; on failure the upload is aborted, so that
   * its parts do not linger in the bucket.
   */
  private async multipart(name: string, size: number, part: (offset: number, length: number) => Promise<Buffer>): Promise<void> {
    const uploadId = await this.call('PUT', name, (client) => client.initiateNewMultipartUpload(this.bucket, name, {}));
    try {
      const etags: Array<{ part: number; etag: string }> = [];
      for (let offset = 0, number = 1; offset < size; offset += this.partSize, number++) {
        const body = await part(offset, Math.min(this.partSize, size - offset));
        const uploaded = await this.call('PUT', name, (client) =>
          client.uploadPart({ bucketName: this.bucket, objectName: name, uploadID: uploadId, partNumber: number, headers: {} }, body),
        );
        etags.push({ part: number, etag: uploaded.etag });
      }
      await this.call('PUT', name, (client) => client.completeMultipartUpload(this.bucket, name, uploadId, etags));
    } catch (err) {
      await (await this.client()).abortMultipartUpload(this.bucket, name, uploadId).catch(() => {});
      throw err;
    }
  }

  /** One operation on an object: retried while transient; missing objects → NotFoundError; others → S3StorageError. */
  private async call<T>(op: string, name: string, attempt: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await this.request(attempt);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'NoSuchKey' || code === 'NotFound') throw new NotFoundError(name.slice(this.prefix.length));
      if (code === 'InvalidRange') throw err;
      throw new S3StorageError(code || 'Unknown', `S3 ${op} ${this.bucket}/${name}: ${code || 'Unknown'}`, { cause: err });
    }
  }

  /** `attempt` with the client, retried by our policy. */
  private request<T>(attempt: (client: Client) => Promise<T>): Promise<T> {
    return withRetries(async () => attempt(await this.client()), this.retry);
  }
}

/** Code and message of a failed request, as a person reads them. */
function describe(err: unknown): string {
  const e = err as { message?: unknown };
  const code = errorCode(err);
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === '') return message || 'unknown error';
  return message && message !== code ? `${code} (${message})` : code;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
