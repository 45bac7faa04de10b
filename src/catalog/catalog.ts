/**
 * A raster catalog as stored data (issue 12, cog.md §1.4): a record of type {@link CATALOG_TYPE} whose
 * COGs live under one Storage folder, `catalogs/<name>/`, so that deleting it is removing that folder.
 */
import type { StoredData } from '../records/stored-data.js';
import type { Storage } from '../storage/storage.js';

/** Stored data type of a raster catalog (EverGIS's resource type "RasterCatalog"). */
export const CATALOG_TYPE = 'RASTER-CATALOG';

/** Storage folder of the catalog named `name` (its COGs and files as delivered). */
export function catalogFolder(name: string): string {
  return `catalogs/${name}`;
}

/** Removes every file of a catalog record (what a failed run or a DELETE leaves behind). */
export async function deleteCatalogFiles(storage: Storage, record: Pick<StoredData, 'name'>): Promise<void> {
  await storage.deletePrefix(`${catalogFolder(record.name)}/`);
}
