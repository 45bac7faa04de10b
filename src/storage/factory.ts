import type { Config, StorageConfig } from '../config.js';
import { FileStorage } from './file.js';
import { S3Storage, type S3Settings } from './s3.js';
import type { Storage } from './storage.js';

/** What identifies a storage across threads (worker tasks rebuild their Storage from it). */
export type StorageDescriptor = { type: 'FILE'; root: string } | { type: 'S3'; root: string; settings: S3Settings };

export function describeStorage(storage: Storage): StorageDescriptor {
  if (storage instanceof S3Storage) return { type: 'S3', root: storage.root, settings: storage.settings };
  if (storage.type !== 'FILE') throw new Error(`storage type ${storage.type} cannot be described for workers`);
  return { type: 'FILE', root: storage.root };
}

const cache = new Map<string, Storage>();

/** The Storage of a descriptor (one instance per thread and storage). */
export function storageOf(d: StorageDescriptor): Storage {
  const key = d.type === 'FILE' ? `FILE:${d.root}` : `S3:${d.settings.endpoint}|${d.settings.bucket}|${d.settings.prefix}`;
  let s = cache.get(key);
  if (!s) {
    s = d.type === 'FILE' ? new FileStorage(d.root) : new S3Storage(d.settings);
    cache.set(key, s);
  }
  return s;
}

/**
 * The storage of the configuration (config.yml `storage`). An S3 bucket is checked here, at start-up: a
 * server or a command line run does not start on a storage it cannot use (the error names endpoint and
 * bucket; `create_bucket: true` makes a missing bucket).
 */
export async function createStorage(config: StorageConfig): Promise<Storage> {
  if (config.type === 'file') return new FileStorage(config.path);
  const storage = new S3Storage({
    endpoint: config.endpoint,
    bucket: config.bucket,
    accessKey: config.access_key,
    secretKey: config.secret_key,
    region: config.region,
    prefix: config.prefix,
  });
  await storage.checkBucket(config.create_bucket);
  return storage;
}

/**
 * Every configured storage by name (config.yml `storages`, or `{default: storage}`), the default one first
 * checked. Each S3 bucket is checked at start-up as a single storage is: a server does not start when one
 * of its storages cannot be used (the error also names the storage).
 */
export async function createStorages(config: Pick<Config, 'storages' | 'default_storage'>): Promise<Map<string, Storage>> {
  const storages = new Map<string, Storage>();
  const names = [config.default_storage, ...Object.keys(config.storages).filter((n) => n !== config.default_storage)];
  for (const name of names) {
    try {
      storages.set(name, await createStorage(config.storages[name]));
    } catch (err) {
      if (names.length > 1 && err instanceof Error) err.message = `storage '${name}': ${err.message}`;
      throw err;
    }
  }
  return storages;
}
