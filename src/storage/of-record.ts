import { invalidInput } from '../errors.js';
import type { Storage } from './storage.js';

/** What knows the configured storages by name (a process context, the runtime). */
export interface NamedStorages {
  storages: ReadonlyMap<string, Storage>;
  defaultStorage: string;
}

/** The name of the storage a stored data lives on: its record's `storage.name`, else the default one (records made before named storages). */
export function storageNameOf(record: { storage: { name?: string } }, named: Pick<NamedStorages, 'defaultStorage'>): string {
  return record.storage.name ?? named.defaultStorage;
}

/**
 * The storage a stored data lives on. A record naming a storage no longer configured cannot be read: the
 * error says which (a config change removed it).
 */
export function storageOfRecord(record: { name?: string; storage: { name?: string } }, named: NamedStorages): Storage {
  const name = storageNameOf(record, named);
  const storage = named.storages.get(name);
  if (!storage) throw new Error(`stored data '${record.name ?? ''}' is on storage '${name}', which is not configured`);
  return storage;
}

/**
 * Refuses (400 naming `storage`) a product written on another storage than the pyramids it references:
 * ROK4 references (SYMLINK objects, symbolic links) point inside one storage (rok4.md §3.4, §7.2).
 */
export function requireSameStorage(
  ancestors: { name: string; storage: { name?: string } }[],
  ctx: Pick<NamedStorages, 'defaultStorage'> & { storageName: string },
): void {
  for (const a of ancestors) {
    const on = storageNameOf(a, ctx);
    if (on !== ctx.storageName)
      throw invalidInput(
        'storage',
        `'${a.name}' is on storage '${on}' and a pyramid can only reference pyramids of its own storage: give storage '${on}'`,
      );
  }
}
