import { ApiError } from '../errors.js';

/** Bounds on an execute body, checked while it arrives (issue 9: a 38 MB body of 2 M keys blocked the loop ~2 s). */
export interface JsonBodyLimits {
  /** Bytes (server.limits.body_size): 413 beyond. */
  maxBytes: number;
  /** Nesting of arrays and objects: no process input needs more than a few levels. */
  maxDepth: number;
  /** Values in arrays and members of objects, all levels together. */
  maxValues: number;
}

export const DEFAULT_JSON_LIMITS = { maxDepth: 64, maxValues: 100_000 } as const;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Counts JSON structure chunk by chunk, before anything is parsed: depth and values (commas and
 * openings outside strings). Bytes of multi-byte UTF-8 sequences are all ≥ 0x80, so a byte scan
 * never mistakes them for structure. Each chunk costs microseconds, so a hostile body is refused
 * early, and JSON.parse only ever sees a body whose size in values is bounded.
 */
export class JsonStructureCounter {
  private inString = false;
  private escaped = false;
  private depth = 0;
  private values = 0;

  constructor(private readonly limits: Pick<JsonBodyLimits, 'maxDepth' | 'maxValues'>) {}

  /** Scans one chunk; throws a 400 as soon as a bound is passed. */
  feed(chunk: Uint8Array): void {
    let { inString, escaped, depth, values } = this;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (++depth > this.limits.maxDepth) {
          throw new ApiError('invalid-body', `the request body nests arrays and objects deeper than ${this.limits.maxDepth} levels`);
        }
        values++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
      else if (c === COMMA) values++;
      if (values > this.limits.maxValues) {
        throw new ApiError(
          'invalid-body',
          `the request body holds more than ${this.limits.maxValues} values (arrays and object members together)`,
        );
      }
    }
    Object.assign(this, { inString, escaped, depth, values });
  }
}

/**
 * Reads a JSON body from a request stream within `limits` and parses it. The size is checked from
 * Content-Length first, then as bytes arrive; the structure is counted per chunk. On refusal the rest
 * of the body is drained, not destroyed, so that the client still receives the problem answer.
 */
export function readJsonBody(stream: NodeJS.ReadableStream, contentLength: string | undefined, limits: JsonBodyLimits): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const counter = new JsonStructureCounter(limits);
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err: unknown) => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.resume();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) return stop(tooLarge(limits));
      try {
        counter.feed(chunk);
      } catch (err) {
        return stop(err);
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks, size).toString('utf8');
      // An empty body reads as {} (so the execute validation names what is missing).
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (err) {
        reject(new ApiError('invalid-body', `the request body is not valid JSON: ${(err as Error).message}`));
      }
    };
    if (contentLength !== undefined && Number(contentLength) > limits.maxBytes) return stop(tooLarge(limits));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.once('error', (err) => reject(new ApiError('invalid-body', `the request body could not be read: ${err.message}`)));
  });
}

function tooLarge(limits: JsonBodyLimits): ApiError {
  return new ApiError('payload-too-large', `the request body exceeds ${limits.maxBytes} bytes (server.limits.body_size)`);
}
