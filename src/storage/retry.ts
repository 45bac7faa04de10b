/**
 * Retries of object-storage requests (issue 13): a transient failure — the server busy (503 SlowDown,
 * 500 InternalError), a connection reset or refused while it restarts — is tried again after an
 * exponential backoff with jitter; anything else (AccessDenied, NoSuchBucket…) fails at once.
 */

/** S3 error codes that say "try again" (AWS S3 error responses; 5xx answers). */
const TRANSIENT_S3_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'BadGateway',
  'GatewayTimeout',
  'Throttling',
  'RequestLimitExceeded',
]);

/** Socket-level failures of a request (server stopped, restarted, connection dropped). */
const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export interface RetryPolicy {
  /** Tries after the first one. */
  retries: number;
  /** Backoff of the first retry, ms; doubled each time, plus up to as much jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 100, maxDelayMs: 5000 };

/** Names of the HTTP statuses the minio client answers without a body ("Retryable HTTP status: 503"). */
const STATUS_CODES: Record<number, string> = {
  408: 'RequestTimeout',
  429: 'SlowDown',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/**
 * The S3 error code of a failed request: the code of the S3 error answer, or the socket error's code, or
 * for a 5xx status the minio client reports without its body (it stops at the status), the code S3
 * gives that status.
 */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  const status = typeof e?.message === 'string' ? /Retryable HTTP status: (\d+)/.exec(e.message) : null;
  if (status) return STATUS_CODES[Number(status[1])] ?? `HTTP${status[1]}`;
  return '';
}

/** True when an error of a request is worth retrying. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  if (!e) return false;
  const code = errorCode(err);
  if (TRANSIENT_S3_CODES.has(code) || TRANSIENT_NET_CODES.has(code)) return true;
  // A 5xx answer without an error body: the client names no code.
  if (e.name === 'S3Error' && code === '') return true;
  return typeof e.message === 'string' && /socket hang up|aborted/i.test(e.message) && code === '';
}

/** Runs `attempt` until it succeeds, fails with a permanent error, or the retries are spent. */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (err) {
      if (tried >= policy.retries || !isTransient(err)) throw err;
      const backoff = Math.min(policy.baseDelayMs * 2 ** tried, policy.maxDelayMs);
      await new Promise((resolve) => setTimeout(resolve, backoff + Math.random() * backoff));
    }
  }
}
