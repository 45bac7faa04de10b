import { invalidInput } from '../errors.js';
import type { Release } from '../records/record-store.js';
import type { Upload } from '../records/uploads.js';
import type { RasterLocation } from '../raster/geotiff-source.js';
import { UPLOAD_IMAGE } from './checks.js';
import type { Uploads } from './uploads.js';

/** One image of an upload, as a process reads it. */
export interface UploadImage {
  /** Where the file is: a local file (FILE storage) or an object (S3). */
  at: RasterLocation;
  /** `upload[i] <name>:<relative path>`: how errors name it. */
  label: string;
  upload: Upload;
}

/**
 * The images of the uploads a process input names (issue 11, "Using deliveries"), read-locked from now
 * until `release`: while a job reads them they cannot be deleted or reopened. Every upload must be
 * CLOSED (its checks passed) and hold an image: a 400 naming `input` and the upload otherwise.
 */
export async function lockUploadImages(
  uploads: Uploads,
  ids: string[],
  runId: string,
  input = 'upload',
): Promise<{ images: UploadImage[]; uploads: Upload[]; release: Release }> {
  // Locked first: a reopen after the status was read would otherwise slip in between.
  const release = await uploads.lockForRead(ids, runId);
  try {
    const images: UploadImage[] = [];
    const records: Upload[] = [];
    for (const [i, id] of ids.entries()) {
      const u = await uploads.requireClosed(id, `${input}[${i}]`);
      records.push(u);
      const files = [...(await uploads.files.files(id)).keys()].filter((p) => UPLOAD_IMAGE.test(p)).sort();
      if (files.length === 0) throw invalidInput(`${input}[${i}]`, `the upload '${u.name}' (${id}) holds no image`);
      for (const relPath of files)
        images.push({ at: uploads.location(id, relPath), label: `${input}[${i}] ${u.name}:${relPath}`, upload: u });
    }
    return { images, uploads: records, release };
  } catch (err) {
    release();
    throw err;
  }
}
