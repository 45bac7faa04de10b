import { InputFile } from '../process/inputs.js';
import { QualifiedValue, type ProcessDescription } from '../process/types.js';
import { isBinarySchema } from '../process/execute-request.js';

/** One output after execution, in the form every response shape is built from. */
export interface OutputData {
  bytes: Buffer;
  mediaType: string;
  /** True when `bytes` is the JSON encoding of a JSON value (object, array, number, boolean). */
  json: boolean;
  /** True for binary content (base64 in JSON documents). */
  binary: boolean;
}

/** Turns what `execute` returned for one output into bytes + media type. */
export async function normalizeOutput(description: ProcessDescription, id: string, value: unknown): Promise<OutputData> {
  const schema = description.outputs[id]?.schema ?? {};
  const declared = typeof schema.contentMediaType === 'string' ? schema.contentMediaType : undefined;
  const binarySchema = isBinarySchema(schema);
  if (value instanceof QualifiedValue) {
    const inner = await normalizeOutput(description, id, value.value);
    return { ...inner, mediaType: value.mediaType };
  }
  if (value instanceof InputFile) {
    return { bytes: await value.read(), mediaType: value.mediaType ?? declared ?? 'application/octet-stream', json: false, binary: true };
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return { bytes: Buffer.from(value as Uint8Array), mediaType: declared ?? 'application/octet-stream', json: false, binary: true };
  }
  if (typeof value === 'string' && (binarySchema || schema.type === 'string' || schema.type === undefined)) {
    return { bytes: Buffer.from(value, 'utf8'), mediaType: declared ?? 'text/plain; charset=utf-8', json: false, binary: false };
  }
  return {
    bytes: Buffer.from(JSON.stringify(value ?? null), 'utf8'),
    mediaType: declared && /json/.test(declared) ? declared : 'application/json',
    json: true,
    binary: false,
  };
}

/** The value of an output inside a results document (results.yaml: inline value or qualified value). */
export function documentValue(o: OutputData): unknown {
  if (o.json) {
    const value = JSON.parse(o.bytes.toString('utf8')) as unknown;
    // results.yaml takes objects only as qualified values (or bbox/link shapes): wrap plain objects.
    const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
    const isBbox = isObject && Array.isArray((value as { bbox?: unknown }).bbox);
    return isObject && !isBbox ? { value, mediaType: o.mediaType } : value;
  }
  if (o.binary) return { value: o.bytes.toString('base64'), mediaType: o.mediaType, encoding: 'base64' };
  if (/^text\/plain/.test(o.mediaType)) return o.bytes.toString('utf8');
  return { value: o.bytes.toString('utf8'), mediaType: o.mediaType };
}
