import type { Runtime } from '../runtime.js';
import type { NamedStorages } from '../storage/of-record.js';

/** The runtime's storages by name (issue 13); a runtime made without them has its default storage alone. */
export function namedOf(rt: Pick<Runtime, 'storage' | 'config'> & { storages?: Runtime['storages'] }): NamedStorages {
  const defaultStorage = rt.config.default_storage ?? 'default';
  return { storages: rt.storages ?? new Map([[defaultStorage, rt.storage]]), defaultStorage };
}
