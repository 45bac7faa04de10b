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
  'conflict': { status: 409, type: `${HTTP}409`, title: 'Conflict' },
  'payload-too-large': { status: 413, type: `${HTTP}413`, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, type: `${HTTP}415`, title: 'Unsupported media type' },
  'job-failed': { status: 500, type: `${OGC}job-failed`, title: 'Job failed' },
  'job-dismissed': { status: 410, type: `${OGC}job-dismissed`, title: 'Job dismissed' },
  'unavailable': { status: 503, type: `${HTTP}503`, title: 'Service unavailable' },
  'insufficient-storage': { status: 507, type: 'https://www.rfc-editor.org/rfc/rfc4918.html#section-11.5', title: 'Insufficient storage' },
  'internal': { status: 500, type: `${HTTP}500`, title: 'Internal server error' },
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

/** Any thrown value as a problem document; unknown errors become 500 without leaking internals. */
export function toProblem(err: unknown, instance?: string): Problem {
  if (err instanceof ApiError) return err.toProblem(instance);
  const row = ERROR_TABLE.internal;
  const message = err instanceof Error ? err.message : String(err);
  return { type: row.type, title: row.title, status: row.status, detail: message || 'internal error', ...(instance ? { instance } : {}) };
}

/** Shorthand for a 400 naming an input. */
export function invalidInput(input: string, detail: string): ApiError {
  return new ApiError('invalid-input', `input '${input}': ${detail}`, { input });
}
