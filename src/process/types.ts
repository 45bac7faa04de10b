import type { Storage } from '../storage/storage.js';
import type { WorkerPool } from '../workers/pool.js';
import type { Logger } from '../log.js';

/** JSON Schema as used in OGC process descriptions (schema.yaml of OGC API – Processes 1.0). */
export type JsonSchema = Record<string, unknown>;

/** Process input description (inputDescription.yaml). */
export interface InputDescription {
  title?: string;
  description?: string;
  keywords?: string[];
  schema: JsonSchema;
  minOccurs?: number;
  maxOccurs?: number | 'unbounded';
  metadata?: unknown[];
}

/** Process output description (outputDescription.yaml). */
export interface OutputDescription {
  title?: string;
  description?: string;
  keywords?: string[];
  schema: JsonSchema;
}

/** The OGC process description (process.yaml), as served by GET /processes/{id}. */
export interface ProcessDescription {
  id: string;
  version: string;
  title: string;
  description?: string;
  keywords?: string[];
  jobControlOptions: Array<'sync-execute' | 'async-execute' | 'dismiss'>;
  outputTransmission: Array<'value' | 'reference'>;
  inputs: Record<string, InputDescription>;
  outputs: Record<string, OutputDescription>;
  links?: Array<Record<string, string>>;
  /** An execute request that works, shown to users and used by tests (not an OGC member, allowed by additionalProperties). */
  example?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A process output with an explicit media type (binary outputs, or anything not JSON). */
export class QualifiedValue {
  constructor(
    readonly value: Buffer | string | unknown,
    readonly mediaType: string,
  ) {}
}

/** What `execute` returns: output id → value (JSON value, Buffer for binary, or a QualifiedValue). */
export type ProcessOutputs = Record<string, unknown>;

/**
 * Everything a process may use while it runs (DESIGN §4). It only grows by adding fields, so
 * plugins written against an older context keep working.
 */
export interface ProcessContext {
  /** The job id, also for synchronous executions (used for names of partial outputs and logs). */
  jobId: string;
  /** Aborted when the job is dismissed or the server shuts down; hand it to pool tasks. */
  signal: AbortSignal;
  /** Reports real progress, 0..100, with an optional message ("level 15: 120/400 slabs"). */
  progress(percent: number, message?: string): void;
  /** Adds a warning to the job status (shown in its message and kept in the job record). */
  warn(message: string): void;
  storage: Storage;
  /** Stored data records (pyramids, COG catalogs) with their dependencies. */
  datastore: import('../datastore/datastore.js').Datastore;
  pool: WorkerPool;
  log: Logger;
  /** The plugin's options from config.yml. */
  options: Record<string, unknown>;
  /** Output ids requested by the client (all outputs when the request named none). */
  outputs: string[];
  /** Absolute directory for temporary files of this execution; removed afterwards. */
  tmpDir: string;
}

/** A process plugin: its description is its OGC description (DESIGN §4). */
export interface Process {
  description: ProcessDescription;
  /**
   * Runs the process. Inputs are validated against the description and resolved (hrefs fetched,
   * base64 decoded to Buffer, qualified values unwrapped unless the schema is an object) before.
   * Throw an `ApiError` (src/api/errors.ts) for problems the client caused.
   */
  execute(inputs: Record<string, unknown>, ctx: ProcessContext): Promise<ProcessOutputs>;
  /** Optional checks that can reject a request before a job is created (400 naming the input). */
  precheck?(inputs: Record<string, unknown>, ctx: Omit<ProcessContext, 'progress' | 'warn' | 'jobId' | 'tmpDir'>): Promise<void>;
}
