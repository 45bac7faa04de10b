import type { Problem } from '../errors.js';

export type JobStatus = 'accepted' | 'running' | 'successful' | 'failed' | 'dismissed';

export const FINISHED: readonly JobStatus[] = ['successful', 'failed', 'dismissed'];

/** Where one output of a finished job is kept. */
export interface ResultEntry {
  /** Storage key of the output bytes. */
  key: string;
  mediaType: string;
  /** How it was asked: value or reference (`transmissionMode`). */
  transmissionMode: 'value' | 'reference';
  /** JSON outputs: true when the stored bytes are the JSON encoding of the value. */
  json: boolean;
  size: number;
}

/** The persisted job (DESIGN §5). Dates are ISO 8601 strings; absent dates are omitted (never null). */
export interface JobRecord {
  jobID: string;
  processID: string;
  type: 'process';
  status: JobStatus;
  message?: string;
  progress?: number;
  created: string;
  started?: string;
  finished?: string;
  updated: string;
  /** What decides the shape of the results: requested outputs, `response`, subscriber. */
  request: {
    outputs: Record<string, { transmissionMode: 'value' | 'reference'; format?: { mediaType?: string } }>;
    response: 'raw' | 'document';
    subscriber?: { successUri?: string; inProgressUri?: string; failedUri?: string };
  };
  results?: Record<string, ResultEntry>;
  /** A failed job's problem document (its results answer). */
  error?: Problem;
  warnings?: string[];
  /** The worker process running (or that ran) the job, with the `bullmq` manager (issue 14): `host:pid`. */
  worker?: string;
  /** Extra members of the status document reported by the process (ProcessContext.report). */
  statusMembers?: Record<string, unknown>;
}
