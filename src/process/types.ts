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
export interface ProcessContext<Plan = unknown> {
  /** The job id, also for synchronous executions (used for names of partial outputs and logs). */
  jobId: string;
  /** Aborted when the job is dismissed or the server shuts down; hand it to pool tasks. */
  signal: AbortSignal;
  /** Reports real progress, 0..100, with an optional message ("level 15: 120/400 slabs"). */
  progress(percent: number, message?: string): void;
  /** Adds a warning to the job status (shown in its message and kept in the job record). */
  warn(message: string): void;
  /**
   * Sets extra members of the job status document (statusInfo.yaml allows them), replacing the values
   * of the names given: a process's own progress shape (the tiling task's `stepResults`, counts).
   * Members of statusInfo.yaml itself ({@link STATUS_MEMBERS}) are refused.
   */
  report(members: StatusMembers): void;
  /** Where this run writes its products: the storage its `storage` input names, else the default one (issue 13). */
  storage: Storage;
  /** The configured name of {@link storage} (recorded in the stored data it makes). */
  storageName: string;
  /** Every configured storage by name: a stored data is read from the one its record names (src/storage/of-record.ts). */
  storages: ReadonlyMap<string, Storage>;
  /** The name of the default storage (where records without a storage name live). */
  defaultStorage: string;
  /** Stored data records (pyramids, COG catalogs) with their dependencies. */
  datastore: import('../records/stored-data.js').Datastore;
  /** The items of raster catalogs (issue 12): added by the tiling process, served as OGC API – Features. */
  catalogItems: import('../catalog/item-store.js').CatalogItemStore;
  /** Deliveries (issue 11): records, files, read locks, the state of their checks. */
  uploads: import('../uploads/uploads.js').Uploads;
  pool: WorkerPool;
  /**
   * Parts run by other worker processes (issue 14): present on a `bullmq` worker, where a big execution
   * may be cut (raster-to-pyramid: subtrees, then a finisher). Absent with the embedded managers.
   */
  parts?: import('../manager/parts.js').PartRunner;
  log: Logger;
  /** The plugin's options from config.yml. */
  options: Record<string, unknown>;
  /** Output ids requested by the client (all outputs when the request named none). */
  outputs: string[];
  /**
   * Ids of the inputs the client left out that hold their schema `default` in `inputs`: for a
   * process that must tell a value given from a default (an update refusing what it inherits).
   */
  defaulted: readonly string[];
  /** Absolute directory for temporary files of this execution; removed afterwards. */
  tmpDir: string;
  /** Typed server settings (limits, TMS folders). */
  settings: ProcessSettings;
  /** What `prepare` returned (undefined for processes without `prepare`). */
  plan: Plan;
}

/**
 * Server settings a process may rely on (typed, from config.yml's `server.limits` and `tms_folders`),
 * so that plugins no longer find them slipped into `options`.
 */
export interface ProcessSettings {
  /** Pixels one raster request may hold (`server.limits.max_pixels`). */
  maxPixels: number;
  /** Folders of extra ROK4 tile matrix set files (`tms_folders`). */
  tmsFolders: string[];
  /** Estimated bytes one job may write (`server.limits.max_output_bytes`). */
  maxOutputBytes: number;
  /** Bytes that must stay free on the storage after a job's estimated output (`server.limits.min_free_bytes`). */
  minFreeBytes: number;
}

/** Extra members of a job status, JSON values by name (not members of statusInfo.yaml). */
export type StatusMembers = Record<string, unknown>;

/** Members of statusInfo.yaml (and ours) that a process cannot report as extra members. */
export const STATUS_MEMBERS: ReadonlySet<string> = new Set([
  'jobID',
  'processID',
  'type',
  'status',
  'message',
  'created',
  'started',
  'finished',
  'updated',
  'progress',
  'links',
  'warnings',
]);

/** What `prepare` sees: the context of a run, less what only exists once the job runs. */
export type PrepareContext = Omit<ProcessContext, 'progress' | 'warn' | 'report' | 'plan'>;

/**
 * How an execution ended, as told to `release`. `handed-over`: not an end — a server of the bullmq manager
 * prepared the request (to answer a 400 at once) and gave it to a worker, which prepares it again.
 */
export type ExecutionOutcome = 'successful' | 'failed' | 'dismissed' | 'handed-over';

/**
 * A process plugin: its description is its OGC description (DESIGN §4).
 *
 * Life of one execution, driven by the manager only:
 * 1. `prepare(inputs, ctx)` once, at submission, before any job exists: every check that needs no
 *    work (a 400/409 naming the input) and the reservations of what the run will write and read
 *    (output name, input stored data). Its result is the typed plan.
 * 2. `execute(inputs, ctx)` with `ctx.plan` — it does not repeat the checks, only re-validates what can
 *    change while a job is queued.
 * 3. `release(plan, outcome)` exactly once after 1 succeeded, whatever happened next (execute ended,
 *    a queued job was dismissed, the submission failed after prepare, the server stopped): undo the
 *    reservations; a failed or dismissed run's partial output is removed here or by execute.
 */
export interface Process<Plan = unknown> {
  description: ProcessDescription;
  /**
   * Runs the process. Inputs are validated against the description (top-level defaults applied) and resolved
   * (hrefs fetched, base64 decoded to Buffer, qualified values unwrapped unless the schema is an
   * object) before. Throw an `ApiError` (src/errors.ts) for problems the client caused.
   */
  execute(inputs: Record<string, unknown>, ctx: ProcessContext<Plan>): Promise<ProcessOutputs>;
  /** Checks and reservations made once before a job is created; see the life cycle above. */
  prepare?(inputs: Record<string, unknown>, ctx: PrepareContext): Promise<Plan>;
  /** Releases what `prepare` reserved; called exactly once per successful `prepare`. */
  release?(plan: Plan, outcome: ExecutionOutcome): Promise<void>;
}
