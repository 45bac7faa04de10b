/**
 * The checks a close runs on an upload (issue 11), in the platform's order. Each is a process of its own
 * (its id is the check's `_id`), so that its executions are jobs: listed in /jobs, with progress and logs.
 * The server registers them even when config.yml does not name them (src/process/registry.ts).
 */
export interface UploadCheck {
  /** The process id, also the check's `_id` in GET /uploads/{id}/checks. */
  _id: string;
  name: string;
}

export const UPLOAD_CHECKS: readonly UploadCheck[] = [
  { _id: 'check-standard', name: 'standard' },
  { _id: 'check-raster', name: 'raster' },
];

/** Files of a RASTER upload that are images: what the raster check reads and processes take. */
export const UPLOAD_IMAGE = /\.(tiff?|jp2|j2k)$/i;
