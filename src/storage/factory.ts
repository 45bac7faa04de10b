import { FileStorage } from './file.js';
import type { Storage } from './storage.js';

/** What identifies a storage across threads (worker tasks rebuild their Storage from it). */
export interface StorageDescriptor {
  type: 'FILE';
  root: string;
}

export function describeStorage(storage: Storage): StorageDescriptor {
  if (storage.type !== 'FILE') throw new Error(`storage type ${storage.type} cannot be described for workers yet`);
  return { type: 'FILE', root: storage.root };
}

const cache = new Map<string, Storage>();

/** The Storage of a descriptor (one instance per thread and root). */
export function storageOf(d: StorageDescriptor): Storage {
  const key = `${d.type}:${d.root}`;
  let s = cache.get(key);
  if (!s) {
    s = new FileStorage(d.root);
    cache.set(key, s);
  }
  return s;
}
