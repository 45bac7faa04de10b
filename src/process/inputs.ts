import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, causeText, invalidInput } from '../errors.js';
import type { Config } from '../config.js';
import { outboundRefusal } from '../security/hosts.js';
import { guardedFetch, OutboundRefused } from '../security/outbound-fetch.js';
import { isBinarySchema, type InputValue, type ParsedExecute } from './execute-request.js';
import type { ProcessDescription } from './types.js';
import { describeAjvError, validatorFor } from './ajv.js';

/**
 * A binary input as processes receive it: a local file (a `file:` href used in place, or base64 /
 * http content written to the execution's temp folder), so large rasters are never held in memory.
 */
export class InputFile {
  constructor(
    readonly path: string,
    readonly mediaType: string | undefined,
    readonly size: number,
    /** Where it came from, for messages: the href, or "inline". */
    readonly origin: string,
  ) {}

  read(): Promise<Buffer> {
    return fs.readFile(this.path);
  }
}

export interface ResolveOptions {
  security: Config['security'];
  hrefMaxBytes: number;
  tmpDir: string;
  signal?: AbortSignal;
  /** Told of every http(s) href downloaded (a server keeps them for the worker that runs the job). */
  downloaded?: (label: string, content: HrefContent) => void;
  /**
   * The content of an http(s) href already fetched for this execution (by the server that validated it),
   * copied into `tmpDir`; undefined to download it. Issue 14: an href is fetched once, not by both.
   */
  prefetched?: (label: string, href: string, tmpDir: string) => Promise<HrefContent | undefined>;
}

/** An http(s) href's content: the local file it was downloaded to, its size and media type. */
export interface HrefContent {
  href: string;
  file: string;
  size: number;
  mediaType?: string;
}

/** The name an input's content gets in an execution's temp folder: its label made safe, and a random suffix. */
export function tempInputPath(tmpDir: string, label: string): string {
  return path.join(tmpDir, `${safeLabel(label)}-${randomBytes(4).toString('hex')}`);
}

/** An input label (`images[0]`) as a file or object name. */
export function safeLabel(label: string): string {
  return label.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Cheap checks of every href before any work, so hostile hrefs get a 400 (DESIGN §8). */
export async function checkHrefs(parsed: ParsedExecute, opts: Pick<ResolveOptions, 'security'>): Promise<void> {
  for (const [id, v] of Object.entries(parsed.inputs)) {
    const values = Array.isArray(v) ? v : [v];
    for (const [i, value] of values.entries()) {
      if (value.kind !== 'href') continue;
      const label = Array.isArray(v) ? `${id}[${i}]` : id;
      const url = new URL(value.href);
      if (url.protocol === 'file:') await confinedPath(label, url, opts.security.input_roots);
      else if (url.protocol === 'http:' || url.protocol === 'https:') {
        const refusal = await outboundRefusal(value.href, opts.security);
        if (refusal) throw invalidInput(label, `href refused: ${refusal}`);
      } else throw invalidInput(label, `href scheme ${url.protocol} is not supported (file:, http:, https:)`);
    }
  }
}

/**
 * The real path of a `file:` href if it is a file under one of the input roots (symlinks resolved).
 * Every refusal says the same thing, so that the answer never tells whether a path outside the roots
 * exists (a missing file, a folder, a file elsewhere or a link leading out are one case: issue 8).
 */
async function confinedPath(label: string, url: URL, roots: readonly string[]): Promise<string> {
  const refused = () =>
    invalidInput(
      label,
      `no readable file at ${url.href.slice(0, 300)} under the input roots (${roots.join(', ') || 'none configured'}): ` +
        'file: hrefs name files there',
    );
  let real: string;
  try {
    real = await fs.realpath(fileURLToPath(url));
  } catch {
    throw refused();
  }
  for (const root of roots) {
    let realRoot: string;
    try {
      realRoot = await fs.realpath(root);
    } catch {
      continue;
    }
    if (real === realRoot || real.startsWith(realRoot + path.sep)) {
      const st = await fs.stat(real).catch(() => undefined);
      if (!st?.isFile()) throw refused();
      return real;
    }
  }
  throw refused();
}

/** Resolves every input to what `execute` receives (values, InputFile for binary content). */
export async function resolveInputs(
  description: ProcessDescription,
  parsed: ParsedExecute,
  opts: ResolveOptions,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [id, v] of Object.entries(parsed.inputs)) {
    const schema = description.inputs[id].schema;
    if (Array.isArray(v)) {
      out[id] = [];
      for (const [i, value] of v.entries()) (out[id] as unknown[]).push(await resolveOne(`${id}[${i}]`, schema, value, opts));
    } else out[id] = await resolveOne(id, schema, v, opts);
  }
  return out;
}

async function resolveOne(label: string, schema: Record<string, unknown>, value: InputValue, opts: ResolveOptions): Promise<unknown> {
  const binary = isBinarySchema(schema);
  if (value.kind === 'value') {
    if (!binary) return value.value;
    const bytes = Buffer.from(value.value as string, 'base64');
    const file = tempInputPath(opts.tmpDir, label);
    await fs.mkdir(opts.tmpDir, { recursive: true });
    await fs.writeFile(file, bytes);
    return new InputFile(file, value.mediaType ?? (schema.contentMediaType as string | undefined), bytes.length, 'inline');
  }
  const url = new URL(value.href);
  let file: string;
  let size: number;
  let mediaType = value.mediaType;
  if (url.protocol === 'file:') {
    file = await confinedPath(label, url, opts.security.input_roots);
    size = (await fs.stat(file)).size;
    if (!binary && size > opts.hrefMaxBytes) throw invalidInput(label, `href content exceeds ${opts.hrefMaxBytes} bytes`);
  } else {
    const ready = await opts.prefetched?.(label, value.href, opts.tmpDir);
    if (ready) ({ file, size, mediaType } = { ...ready, mediaType: ready.mediaType ?? mediaType });
    else {
      const refusal = await outboundRefusal(value.href, opts.security);
      if (refusal) throw invalidInput(label, `href refused: ${refusal}`);
      ({ file, size, mediaType } = await download(label, url, opts, mediaType));
      opts.downloaded?.(label, { href: value.href, file, size, ...(mediaType !== undefined ? { mediaType } : {}) });
    }
  }
  if (binary) return new InputFile(file, mediaType ?? (schema.contentMediaType as string | undefined), size, value.href);
  const text = await fs.readFile(file, 'utf8');
  let parsed: unknown = text;
  if (schema.type !== 'string' || (mediaType && /json/.test(mediaType))) {
    try {
      parsed = JSON.parse(text);
    } catch {
      if (schema.type !== 'string') throw invalidInput(label, 'href content is not JSON');
    }
  }
  const validate = validatorFor(schema);
  if (!validate(parsed)) throw invalidInput(label, `href content ${describeAjvError(validate.errors)}`);
  return parsed;
}

/** A 400 naming the input, the host and why it could not be reached (fetch itself says only "fetch failed"). */
function unreachable(label: string, url: URL, err: unknown): ApiError {
  const why = err instanceof Error && err.cause !== undefined ? causeText(err.cause) : causeText(err);
  return invalidInput(label, `href host ${url.host} cannot be reached: ${why}`);
}

/** Streams an http(s) href to the temp folder with a size limit; redirects are re-checked. */
async function download(
  label: string,
  url: URL,
  opts: ResolveOptions,
  mediaType?: string,
): Promise<{ file: string; size: number; mediaType?: string }> {
  let current = url;
  for (let redirects = 0; redirects < 5; redirects++) {
    // Checked again at connection time, on the address connected to (DNS rebinding).
    const res = await guardedFetch(current, { redirect: 'manual', signal: opts.signal }, opts.security).catch((err: unknown) => {
      if (err instanceof OutboundRefused) throw invalidInput(label, `href refused: ${err.reason}`);
      if (opts.signal?.aborted) throw err;
      throw unreachable(label, current, err);
    });
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      current = new URL(res.headers.get('location')!, current);
      const refusal = await outboundRefusal(current.href, opts.security);
      if (refusal) throw invalidInput(label, `href redirect refused: ${refusal}`);
      continue;
    }
    if (!res.ok || !res.body) throw invalidInput(label, `href answered HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > opts.hrefMaxBytes) throw invalidInput(label, `href content (${declared} bytes) exceeds ${opts.hrefMaxBytes} bytes`);
    await fs.mkdir(opts.tmpDir, { recursive: true });
    const file = tempInputPath(opts.tmpDir, label);
    let size = 0;
    const limit = opts.hrefMaxBytes;
    const counted = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).map((chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) throw invalidInput(label, `href content exceeds ${limit} bytes`);
      return chunk;
    });
    try {
      await pipeline(counted, createWriteStream(file));
    } catch (err) {
      if (err instanceof ApiError || opts.signal?.aborted) throw err;
      // A write error is the server's (its temp folder); anything else broke the connection mid-content.
      if ((err as { syscall?: string }).syscall === 'write' || (err as { code?: string }).code === 'ENOSPC') throw err;
      throw unreachable(label, current, err);
    }
    return { file, size, mediaType: mediaType ?? res.headers.get('content-type') ?? undefined };
  }
  throw new ApiError('invalid-input', `input '${label}': too many redirects`, { input: label });
}
