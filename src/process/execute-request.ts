import { ApiError, invalidInput } from '../errors.js';
import { describeAjvError, validatorFor } from './ajv.js';
import type { InputDescription, ProcessDescription } from './types.js';

/** One input value as the client sent it, classified (OGC 18-062r2 §7.11.2.2, inlineOrRefData.yaml). */
export type InputValue =
  | { kind: 'value'; value: unknown; mediaType?: string; encoding?: string }
  | { kind: 'href'; href: string; mediaType?: string };

export interface OutputRequest {
  transmissionMode: 'value' | 'reference';
  format?: { mediaType?: string };
}

export interface Subscriber {
  successUri?: string;
  inProgressUri?: string;
  failedUri?: string;
}

/** An execute request, checked against the process description. */
export interface ParsedExecute {
  /** Input id → values (an array when maxOccurs > 1, else one value). */
  inputs: Record<string, InputValue | InputValue[]>;
  outputs: Record<string, OutputRequest>;
  /**
   * True when the request named its outputs: each of them must then be produced (an error names the
   * one that is not); false when it named none and gets whatever the process produced.
   */
  outputsNamed: boolean;
  /** Ids of the inputs the client left out that were filled from their schema's `default`. */
  defaulted: string[];
  response: 'raw' | 'document';
  subscriber?: Subscriber;
}

const TOP_LEVEL_KEYS = new Set(['inputs', 'outputs', 'response', 'subscriber', 'mode', 'process']);
const MAX_ARRAY_ITEMS = 10000;
/**
 * Deepest nesting accepted in an execute body. JSON.parse takes 10,000 levels, but JSON.stringify
 * and structuredClone (outputs, the job store) then overflow the stack: refuse such bodies with a
 * 400 here instead of failing later with a 500.
 */
export const MAX_DEPTH = 100;

/** Path of the first value nested deeper than `max` levels, or undefined (iterative: no recursion). */
function tooDeep(body: unknown, max: number): string | undefined {
  const stack: Array<{ value: object; depth: number; path: string }> = [];
  if (typeof body === 'object' && body !== null) stack.push({ value: body, depth: 0, path: '' });
  while (stack.length) {
    const { value, depth, path } = stack.pop()!;
    if (depth > max) return path;
    for (const [k, child] of Object.entries(value)) {
      if (typeof child === 'object' && child !== null)
        stack.push({ value: child, depth: depth + 1, path: depth < 4 ? `${path}/${k}` : path });
    }
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the schema (or one of its alternatives) describes binary content. */
export function isBinarySchema(schema: Record<string, unknown>): boolean {
  if (schema.format === 'binary' || schema.format === 'byte' || schema.contentEncoding === 'binary' || schema.contentEncoding === 'base64')
    return true;
  return false;
}

/**
 * True when one value of the input may itself be an array (`type: array`, or a oneOf/anyOf branch of that
 * type): an array given for it is then that one value, not several.
 */
function admitsArray(schema: InputDescription['schema']): boolean {
  if (schema.type === 'array') return true;
  const branches = [schema.oneOf, schema.anyOf].flatMap((b) => (Array.isArray(b) ? (b as InputDescription['schema'][]) : []));
  return branches.some((b) => b && typeof b === 'object' && b.type === 'array');
}

function maxOccursOf(d: InputDescription): number {
  return d.maxOccurs === 'unbounded' ? Infinity : (d.maxOccurs ?? 1);
}

/**
 * Checks an execute body against a process description: body shape, unknown/missing inputs,
 * cardinality, each value against its schema (ajv), output ids and transmission modes,
 * `response` and `subscriber` (ogcapi-processes.md §2 Core). Throws an ApiError naming the input.
 */
export function parseExecuteRequest(description: ProcessDescription, body: unknown): ParsedExecute {
  if (!isObject(body)) throw new ApiError('invalid-body', 'the execute request body must be a JSON object (execute.yaml)');
  const deep = tooDeep(body, MAX_DEPTH);
  if (deep !== undefined)
    throw new ApiError('invalid-body', `the execute request nests deeper than ${MAX_DEPTH} levels (under ${deep}…)`, {
      parameter: deep.split('/').slice(0, 3).join('/'),
    });
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL_KEYS.has(key))
      throw new ApiError('invalid-body', `unknown member '${key}' in the execute request; expected inputs, outputs, response, subscriber`, {
        parameter: key,
      });
  }
  const rawInputs = body.inputs ?? {};
  if (!isObject(rawInputs)) throw new ApiError('invalid-body', "'inputs' must be an object mapping input ids to values");

  const inputs: ParsedExecute['inputs'] = {};
  const defaulted: string[] = [];
  for (const id of Object.keys(rawInputs)) {
    if (!Object.hasOwn(description.inputs, id)) {
      throw invalidInput(id, `unknown input; process '${description.id}' has ${Object.keys(description.inputs).join(', ') || 'no inputs'}`);
    }
  }
  for (const [id, d] of Object.entries(description.inputs)) {
    let raw = rawInputs[id];
    const min = d.minOccurs ?? 1;
    const max = maxOccursOf(d);
    // A left-out input takes its schema's default (JSON Schema `default`, as OGC descriptions
    // declare them), so that every process sees the value its description promises.
    if ((raw === undefined || raw === null) && d.schema.default !== undefined) {
      raw = structuredClone(d.schema.default);
      defaulted.push(id);
    }
    if (raw === undefined || raw === null) {
      if (min > 0) throw invalidInput(id, 'is required (minOccurs ' + min + ')');
      continue;
    }
    const schemaIsArray = admitsArray(d.schema);
    if (Array.isArray(raw) && (max > 1 || !schemaIsArray)) {
      if (max <= 1) throw invalidInput(id, 'takes one value (maxOccurs 1), got an array');
      if (raw.length < min) throw invalidInput(id, `needs at least ${min} values, got ${raw.length}`);
      if (raw.length > max || raw.length > MAX_ARRAY_ITEMS)
        throw invalidInput(id, `takes at most ${Math.min(max, MAX_ARRAY_ITEMS)} values, got ${raw.length}`);
      inputs[id] = raw.map((item, i) => classify(id, d, item, `${id}[${i}]`));
    } else {
      if (min > 1) throw invalidInput(id, `needs at least ${min} values`);
      const value = classify(id, d, raw, id);
      inputs[id] = max > 1 ? [value] : value;
    }
  }

  const outputs: ParsedExecute['outputs'] = {};
  const rawOutputs = body.outputs;
  if (rawOutputs !== undefined && !isObject(rawOutputs))
    throw new ApiError('invalid-body', "'outputs' must be an object mapping output ids to {transmissionMode, format}");
  const requested = rawOutputs && Object.keys(rawOutputs).length > 0 ? rawOutputs : undefined;
  for (const id of requested ? Object.keys(requested) : Object.keys(description.outputs)) {
    if (!Object.hasOwn(description.outputs, id)) {
      throw new ApiError(
        'invalid-parameter',
        `unknown output '${id}'; process '${description.id}' has ${Object.keys(description.outputs).join(', ')}`,
        { output: id },
      );
    }
    const o = requested ? requested[id] : {};
    if (!isObject(o)) throw new ApiError('invalid-parameter', `output '${id}' must be an object`, { output: id });
    const mode = o.transmissionMode ?? 'value';
    if (mode !== 'value' && mode !== 'reference')
      throw new ApiError('invalid-parameter', `output '${id}': transmissionMode must be 'value' or 'reference'`, { output: id });
    if (!description.outputTransmission.includes(mode))
      throw new ApiError(
        'invalid-parameter',
        `output '${id}': transmissionMode '${mode}' is not offered (${description.outputTransmission.join(', ')})`,
        { output: id },
      );
    const format = isObject(o.format) ? { mediaType: typeof o.format.mediaType === 'string' ? o.format.mediaType : undefined } : undefined;
    outputs[id] = { transmissionMode: mode, ...(format ? { format } : {}) };
  }

  const response = body.response === undefined ? 'raw' : body.response; // null is not in execute.yaml's enum
  if (response !== 'raw' && response !== 'document')
    throw new ApiError('invalid-parameter', `'response' must be 'raw' or 'document', got ${JSON.stringify(response)}`, {
      parameter: 'response',
    });

  let subscriber: Subscriber | undefined;
  if (body.subscriber !== undefined) {
    if (!isObject(body.subscriber))
      throw new ApiError('invalid-parameter', "'subscriber' must be an object with successUri, inProgressUri, failedUri", {
        parameter: 'subscriber',
      });
    subscriber = {};
    for (const key of ['successUri', 'inProgressUri', 'failedUri'] as const) {
      const v = body.subscriber[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !/^https?:\/\//i.test(v) || !URL.canParse(v))
        throw new ApiError('invalid-parameter', `subscriber.${key} must be an http(s) URL`, { parameter: `subscriber.${key}` });
      subscriber[key] = v;
    }
  }
  return { inputs, outputs, outputsNamed: requested !== undefined, defaulted, response, ...(subscriber ? { subscriber } : {}) };
}

/** Classifies one value: href link, qualified value, or plain value; validates it against the schema. */
function classify(_id: string, d: InputDescription, raw: unknown, label: string): InputValue {
  const schema = d.schema;
  const binary = isBinarySchema(schema);
  if (isObject(raw) && typeof raw.href === 'string' && !('value' in raw)) {
    if (raw.href.length > 4096) throw invalidInput(label, 'href is longer than 4096 characters');
    if (!URL.canParse(raw.href)) {
      throw invalidInput(
        label,
        `href is not a URL: ${raw.href.slice(0, 200)}; a local file is a file: URL (file:///absolute/path/to/file), ` +
          'other content an http(s):// URL',
      );
    }
    return { kind: 'href', href: raw.href, ...(typeof raw.type === 'string' ? { mediaType: raw.type } : {}) };
  }
  const validate = validatorFor(schema);
  // An object input is taken as it is when it matches its schema (the ETS sends {"value": …} as an
  // object value); otherwise a {value, mediaType|format, encoding} wrapper is unwrapped.
  if (isObject(raw) && !binary && validate(raw)) return { kind: 'value', value: raw };
  if (isObject(raw) && 'value' in raw) {
    const format = isObject(raw.format) ? raw.format : raw;
    const mediaType = typeof format.mediaType === 'string' ? format.mediaType : undefined;
    const encoding = typeof format.encoding === 'string' ? format.encoding : undefined;
    const value = raw.value;
    if (binary) {
      if (typeof value !== 'string') throw invalidInput(label, 'a binary value must be a base64 string');
      checkBase64(label, value);
      return { kind: 'value', value, mediaType, encoding: encoding ?? 'base64' };
    }
    if (!validate(value)) throw invalidInput(label, describeAjvError(validate.errors));
    return { kind: 'value', value, mediaType, encoding };
  }
  if (binary) {
    if (typeof raw !== 'string') throw invalidInput(label, `expects binary content: ${BINARY_FORMS}`);
    checkBase64(label, raw);
    return { kind: 'value', value: raw, encoding: 'base64' };
  }
  if (!validate(raw)) throw invalidInput(label, describeAjvError(validate.errors));
  return { kind: 'value', value: raw };
}

/** The two ways of giving binary content (inlineOrRefData.yaml), named in every message about it. */
const BINARY_FORMS =
  'a link {"href": "file:///absolute/path" or "https://…"}, or the content itself in base64 (a string, or {"value": base64, "mediaType": …})';

function checkBase64(label: string, value: string): void {
  if (/^[A-Za-z0-9+/=\s_-]*$/.test(value)) return;
  // A path or a URL given as a plain string: the client meant a link.
  const isUrl = /^(file|https?):/i.test(value);
  const looksLikeLink = isUrl || value.startsWith('/') || value.startsWith('./') || /\.[A-Za-z0-9]{2,5}$/.test(value);
  const link = isUrl ? value.slice(0, 200) : 'file:///absolute/path';
  const hint = looksLikeLink ? `; to give the file ${JSON.stringify(value.slice(0, 200))}, write {"href": "${link}"}` : '';
  throw invalidInput(label, `is not valid base64; binary content is ${BINARY_FORMS}${hint}`);
}
