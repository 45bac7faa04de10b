import type { Logger } from '../log.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import type { Datastore } from '../records/stored-data.js';
import { type NamedStorages, storageOfRecord } from '../storage/of-record.js';
import type { Storage } from '../storage/storage.js';
import { deletePyramidFiles, locationOfRecord, PYRAMIDS_FOLDER } from './location.js';

/**
 * Start-up recovery of products (issue 9 "Crashes"): a record left GENERATING by a crash is marked
 * FAILED, saying so, after the files its run wrote are removed. Only a pyramid's own folder
 * (`pyramids/<name>/`) is removed: a record of the older layout at the storage root shares that root
 * with others, so its files are left (and logged). Runs before the server accepts jobs (no job can
 * be writing). Returns how many records were recovered.
 */
export async function recoverInterruptedProducts(datastore: Datastore, named: Storage | NamedStorages, log: Logger): Promise<number> {
  const interrupted = await datastore.generating();
  for (const record of interrupted) {
    let removed = false;
    if (record.type === PYRAMID_TYPE) {
      try {
        const location = locationOfRecord(record);
        if (location.folder === `${PYRAMIDS_FOLDER}${record.name}/`) {
          // On the storage the record names (issue 13).
          const storage = 'storages' in named ? storageOfRecord(record, named) : named;
          await deletePyramidFiles(storage, location);
          removed = true;
        }
      } catch (err) {
        log.error('partial files of an interrupted product could not be removed', { storedDataId: record._id, error: String(err) });
      }
    }
    await datastore.update(record._id, {
      status: 'FAILED',
      size: 0,
      message: 'the server stopped while this product was being written; it was not finished. Run its job again.',
    });
    log.warn('stored data left GENERATING by the previous run marked FAILED', {
      storedDataId: record._id,
      name: record.name,
      filesRemoved: removed,
    });
  }
  return interrupted.length;
}
