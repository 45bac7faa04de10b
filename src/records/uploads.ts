import type { RecordKind } from './record-store.js';

/**
 * A delivery (issue 11), in the shape of the platform's API: declared, filled while OPEN, checked
 * (CHECKING) and then CLOSED or UNSTABLE. Its files live in the Storage under `uploads/<_id>/`.
 */
export type UploadStatus = 'OPEN' | 'CHECKING' | 'CLOSED' | 'UNSTABLE' | 'DELETED';

export const UPLOAD_STATUSES: readonly UploadStatus[] = ['OPEN', 'CHECKING', 'CLOSED', 'UNSTABLE', 'DELETED'];

/** Where one check of a close stands (the platform's check execution). */
export type CheckState = 'asked' | 'in_progress' | 'passed' | 'failed';

/**
 * One check execution of the last close: a job of the check's process (its `_id` is the job id, empty
 * until the job is created). `logs` say which file and what is wrong.
 */
export interface CheckExecution {
  check: { name: string; _id: string };
  _id: string;
  status: CheckState;
  logs: string[];
  created: string;
  finished?: string;
}

export interface Upload {
  _id: string;
  name: string;
  description: string;
  /** Only `RASTER` today. */
  type: 'RASTER';
  /** The CRS of images that declare none (TIFF + TFW), e.g. `EPSG:2154`. */
  srs: string;
  status: UploadStatus;
  /** Bytes of its files. */
  size: number;
  last_event: { title: string; date: string };
  type_infos: Record<string, unknown>;
  /** The checks of the last close (POST /uploads/{id}/close), absent before the first. */
  checks?: CheckExecution[];
  created: string;
  updated: string;
}

export const UPLOADS: RecordKind<Upload> = {
  name: 'uploads',
  file: 'uploads.json',
  idField: '_id',
  required: {
    _id: 'string',
    name: 'string',
    type: 'string',
    srs: 'string',
    status: 'string',
    size: 'number',
    last_event: 'object',
    type_infos: 'object',
    created: 'string',
    updated: 'string',
  },
  check(record) {
    return UPLOAD_STATUSES.includes(record.status as UploadStatus) ? [] : [`unknown status '${String(record.status)}'`];
  },
};
