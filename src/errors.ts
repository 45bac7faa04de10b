import { randomUUID } from 'node:crypto';

/**
 * The one error table of the API (ogcapi-processes.md §2, §3.4). Every problem the server reports
 * is an `ApiError` of one of these kinds, rendered as RFC 7807 members with the OGC exception type
 * URI in `type`.
 */
const OGC = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';
const HTTP = 'https://www.rfc-editor.org/rfc/rfc9110.html#status.';

export const ERROR_TABLE = {
  'no-such-process': { status: 404, type: `${OGC}no-such-process`, title: 'No such process' },
  'no-such-job': { status: 404, type: `${OGC}no-such-job`, title: 'No such job' },
  'result-not-ready': { status: 404, type: `${OGC}result-not-ready`, title: 'Result not ready' },
  'no-such-output': { status: 404, type: `${OGC}no-such-output`, title: 'No such output' },
  'invalid-parameter': { status: 400, type: `${OGC}invalid-parameter-value`, title: 'Invalid parameter value' },
  'invalid-input': { status: 400, type: `${OGC}invalid-input`, title: 'Invalid input' },
  'invalid-body': { status: 400, type: `${OGC}invalid-request-body`, title: 'Invalid request body' },
  'not-found': { status: 404, type: `${HTTP}404`, title: 'Not found' },
  'method-not-allowed': { status: 405, type: `${HTTP}405`, title: 'Method not allowed' },
  'not-acceptable': { status: 406, type: `${HTTP}406`, title: 'Not acceptable' },
  conflict: { status: 409, type: `${HTTP}409`, title: 'Conflict' },
  'payload-too-large': { status: 413, type: `${HTTP}413`, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, type: `${HTTP}415`, title: 'Unsupported media type' },
  'range-not-satisfiable': { status: 416, type: `${HTTP}416`, title: 'Range not satisfiable' },
  'job-failed': { status: 500, type: `${OGC}job-failed`, title: 'Job failed' },
  'job-dismissed': { status: 410, type: `${OGC}job-dismissed`, title: 'Job dismissed' },
  // A worker stopping (SIGTERM) gives its running jobs back to the queue (issue 14): never a final state.
  'job-handed-back': { status: 503, type: `${HTTP}503`, title: 'Job handed back' },
  // A worker stalled past its queue lock (issue 14): the job runs again elsewhere; this run writes nothing more.
  'job-lost': { status: 503, type: `${HTTP}503`, title: 'Job lost' },
  unavailable: { status: 503, type: `${HTTP}503`, title: 'Service unavailable' },
  'insufficient-storage': { status: 507, type: 'https://www.rfc-editor.org/rfc/rfc4918.html#section-11.5', title: 'Insufficient storage' },
  internal: { status: 500, type: `${HTTP}500`, title: 'Internal server error' },
} as const;

export type ErrorKind = keyof typeof ERROR_TABLE;

/** RFC 7807 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** The input or parameter at fault, when there is one. */
  input?: string;
  [extra: string]: unknown;
}

/**
 * True when `reason` (an AbortSignal's reason, or what a run threw) says the run lost its job to another run
 * (`job-lost`): another worker took the job while this one was stalled, and owns its status, its products and
 * their files from then on. A lost run writes nothing: no status, no record, no cleanup (issue 14).
 */
export function isJobLost(reason: unknown): boolean {
  return reason instanceof ApiError && reason.kind === 'job-lost';
}

/** The `job-lost` error a run that failed with `err` under `signal` ends with (see {@link isJobLost}), or undefined. */
export function lostError(signal: AbortSignal, err: unknown): unknown {
  if (isJobLost(err)) return err;
  return signal.aborted && isJobLost(signal.reason) ? signal.reason : undefined;
}

/** An error the client can act on: kind from the table, a detail naming what is wrong. */
export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_TABLE[this.kind].status;
  }

  toProblem(instance?: string): Problem {
    const row = ERROR_TABLE[this.kind];
    return { type: row.type, title: row.title, status: row.status, detail: this.detail, ...(instance ? { instance } : {}), ...this.extra };
  }
}

/**
 * A problem document made elsewhere — by the worker process that ran a synchronous execution (issue 14) —
 * given to the client as it is (its text was made for clients there).
 */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ProblemError';
  }
}

/**
 * Any thrown value as a problem document. Unknown errors become a 500 that says nothing of their
 * text (it may hold paths, addresses or library internals) but carries an `errorId`: log the error
 * with the same id (see {@link logServerError}) so that an operator finds it from the client's answer.
 * A full disk (ENOSPC, EDQUOT) is a 507 saying so.
 */
export function toProblem(err: unknown, instance?: string, errorId: string = randomUUID()): Problem {
  if (err instanceof ApiError) return err.toProblem(instance);
  if (err instanceof ProblemError) return { ...err.problem, ...(instance ? { instance } : {}) };
  if (isStoreTimeout(err)) {
    return new ApiError('unavailable', 'the job and record store (Redis) does not answer; try again shortly').toProblem(instance);
  }
  if (isNoSpace(err)) {
    return new ApiError('insufficient-storage', 'the server has no storage space left to complete this request; try again later').toProblem(
      instance,
    );
  }
  const row = ERROR_TABLE.internal;
  const detail = `the server met an internal error; quote ${errorId} to its operator`;
  return { type: row.type, title: row.title, status: row.status, detail, ...(instance ? { instance } : {}), errorId };
}

/** True for a store that did not answer in time: a Redis command of a bullmq server timed out (src/runtime.ts). */
export function isStoreTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

/** True for "no space left on device" and "disk quota exceeded" errors of the file system. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Logs a problem of status ≥ 500 as an error with the stack of its cause and the problem's
 * `errorId` (every 5xx the server answers or records is logged once, here).
 */
export function logServerError(
  log: { error(msg: string, fields?: Record<string, unknown>): void },
  msg: string,
  problem: Problem,
  err: unknown,
  fields: Record<string, unknown> = {},
): void {
  if (problem.status < 500) return;
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const cause =
    err instanceof Error && err.cause !== undefined
      ? { cause: err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause) }
      : {};
  log.error(msg, { ...fields, status: problem.status, ...(problem.errorId ? { errorId: problem.errorId } : {}), error: stack, ...cause });
}

/** Shorthand for a 400 naming an input. */
export function invalidInput(input: string, detail: string): ApiError {
  return new ApiError('invalid-input', `input '${input}': ${detail}`, { input });
}

/** The text of an error's cause ("connect ECONNREFUSED 127.0.0.1:9"), nested causes included. */
export function causeText(cause: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = cause, depth = 0; c !== undefined && depth < 4; depth++) {
    if (c instanceof Error) {
      const code = (c as { code?: unknown }).code;
      parts.push(`${c.message}${typeof code === 'string' && !c.message.includes(code) ? ` (${code})` : ''}`);
      c = c.cause;
    } else {
      parts.push(String(c));
      break;
    }
  }
  return parts.join(': ');
}
