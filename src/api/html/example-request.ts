import path from 'node:path';
import type { JsonSchema, ProcessDescription } from '../../process/types.js';

/**
 * The example as this server would accept it: a `file:` href outside the configured input roots
 * (plugins write examples for a conventional `/data/inputs`) is moved into the first root, keeping
 * its file name, so that the curl line a user copies names a folder the server reads.
 */
export function localizeExample(value: unknown, inputRoots: readonly string[] | undefined, depth = 0): unknown {
  if (!inputRoots?.length || depth > 8) return value;
  if (typeof value === 'string') {
    if (!value.startsWith('file://')) return value;
    let file: string;
    try {
      file = decodeURIComponent(new URL(value).pathname);
    } catch {
      return value;
    }
    const inside = inputRoots.some((root) => file === root || file.startsWith(root.endsWith('/') ? root : `${root}/`));
    return inside ? value : `file://${encodeURI(path.posix.join(inputRoots[0], path.posix.basename(file)))}`;
  }
  if (Array.isArray(value)) return value.map((v) => localizeExample(v, inputRoots, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, localizeExample(v, inputRoots, depth + 1)]));
  }
  return value;
}

/**
 * The execute request shown on a process page: the description's own `example` when it has one
 * (it is known to work), otherwise one built from the input schemas (required inputs only, or all
 * of them when none is required, so that the example is never empty).
 */
export function exampleRequest(description: ProcessDescription): Record<string, unknown> {
  if (description.example && typeof description.example === 'object') return description.example;
  const entries = Object.entries(description.inputs ?? {});
  const required = entries.filter(([, d]) => (d.minOccurs ?? 1) >= 1);
  const inputs: Record<string, unknown> = {};
  for (const [id, d] of required.length ? required : entries) inputs[id] = exampleValue(d.schema);
  return { inputs };
}

/** A plausible value for a schema: default, first enum value, or a placeholder of the right type. */
export function exampleValue(schema: JsonSchema | undefined, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 4) return null;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const alternatives = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : (schema.type as string | undefined);
  if (schema.format === 'ogc-bbox') return { bbox: [2.1, 48.7, 2.5, 49.0], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' };
  switch (type) {
    case 'string':
      if (schema.format === 'binary' || schema.contentEncoding) return { href: 'https://example.org/input.bin' };
      if (schema.format === 'uri') return 'https://example.org/';
      if (schema.format === 'date-time') return new Date(0).toISOString();
      return 'text';
    case 'integer':
      return typeof schema.minimum === 'number' ? Math.ceil(schema.minimum) : 1;
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'array': {
      const n = typeof schema.minItems === 'number' ? Math.min(schema.minItems, 8) : 1;
      return Array.from({ length: Math.max(1, n) }, () => exampleValue(schema.items as JsonSchema, depth + 1));
    }
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const req = (schema.required ?? Object.keys(props)) as string[];
      const out: Record<string, unknown> = {};
      for (const k of req) if (props[k]) out[k] = exampleValue(props[k], depth + 1);
      return out;
    }
    default:
      if (Array.isArray(alternatives) && alternatives.length) return exampleValue(alternatives[0], depth + 1);
      return null;
  }
}

/** Quotes a string for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A shell word: as is when it holds only URL-safe characters, quoted otherwise. */
function shellWord(s: string): string {
  return /^[\w:/.%@+,=-]+$/.test(s) ? s : shellQuote(s);
}

/** The ready-to-copy curl line that submits `body` asynchronously. */
export function curlLine(baseUrl: string, processId: string, body: unknown): string {
  return [
    `curl -X POST ${shellWord(`${baseUrl}/processes/${processId}/execution`)}`,
    `-H 'Content-Type: application/json'`,
    `-H 'Prefer: respond-async'`,
    `-d ${shellQuote(JSON.stringify(body))}`,
  ].join(' ');
}
