import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { sharedDir } from './env.js';

/**
 * Validation of response bodies in tests, against
 * - the official OGC API – Processes 1.0 schema fragments (../shared/ogcapi-processes-schemas,
 *   YAML files referring to each other by relative `$ref`), and
 * - our own generated OpenAPI document (its `#/components/schemas` refs resolved), and
 * - the OAS 3.0 schema itself (../shared/openapi-3.0-schema) for the document.
 *
 * All three are draft-04 / OpenAPI 3.0 flavoured; ajv validates draft-07, so they are converted
 * (`id` → `$id`, boolean `exclusiveMinimum`/`exclusiveMaximum` → numeric bounds). Quirks of the
 * published 1.0 fragments handled here (README of ogcapi-processes-schemas, ogcapi-processes.md §2):
 * - subscriber.yaml requires `successUrl`, which it does not define: `successUri` is required
 *   instead (the member the standard's text and later versions use);
 * - inlineOrRefData.yaml and inputValueNoObject.yaml use `oneOf` over overlapping alternatives
 *   (a number is both `number` and `integer`, a base64 string both `string` and `byte`), so most
 *   valid values fail: validated as `anyOf` (ogcapi-processes issue #350); likewise the input
 *   values of execute.yaml (an array is an inlineOrRefData and an array of them);
 * - format `url` (format.yaml) is not a JSON Schema format: checked as an absolute URL;
 * - list-valued `default`s (transmissionMode.yaml, execute.yaml) are kept: ajv does not apply defaults here.
 */

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);
const SCHEMA_VALUES = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
]);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf']);

/**
 * A draft-04 / OpenAPI 3.0 schema as draft-07, walking only schema positions (so a property
 * *named* `id` or `exclusiveMinimum`, as in the OAS schema's own Schema definition, is left alone).
 * `refRewrite` maps each `$ref` (used for our document's internal refs).
 */
export function toDraft07(schema: unknown, refRewrite?: (ref: string) => string): unknown {
  if (!isObject(schema)) return schema;
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$schema') continue;
    if (k === 'id' && typeof v === 'string') out.$id = v;
    else if (k === '$ref' && typeof v === 'string') out.$ref = refRewrite ? refRewrite(v) : v;
    else if (SCHEMA_MAPS.has(k) && isObject(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, toDraft07(s, refRewrite)]));
    else if (SCHEMA_VALUES.has(k)) out[k] = Array.isArray(v) ? v.map((s) => toDraft07(s, refRewrite)) : toDraft07(v, refRewrite);
    else if (SCHEMA_LISTS.has(k) && Array.isArray(v)) out[k] = v.map((s) => toDraft07(s, refRewrite));
    else if (k === 'dependencies' && isObject(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, Array.isArray(s) ? s : toDraft07(s, refRewrite)]));
    else if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'boolean')
      continue; // handled below
    else out[k] = v;
  }
  // draft-04: `exclusiveMinimum: true` qualifies `minimum`; draft-07: the bound itself.
  if (schema.exclusiveMinimum === true && typeof schema.minimum === 'number') {
    out.exclusiveMinimum = schema.minimum;
    delete out.minimum;
  }
  if (schema.exclusiveMaximum === true && typeof schema.maximum === 'number') {
    out.exclusiveMaximum = schema.maximum;
    delete out.maximum;
  }
  return out;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addFormat('url', (s: string) => URL.canParse(s));
  // Annotations of OGC process schemas and OpenAPI, not string checks.
  for (const annotation of ['ogc-bbox', 'geojson-feature-collection', 'geojson-geometry', 'ogc-stored-data'])
    ajv.addFormat(annotation, true);
  return ajv;
}

/** Readable errors: where, what, which rule. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? ''} (${e.keyword} at ${e.schemaPath}${'allowedValues' in e.params ? `: ${JSON.stringify(e.params.allowedValues)}` : ''})`,
  );
}

// -------------------------------------------------------------------------------------------
// Official OGC schemas

/** Folder of the official 1.0 OpenAPI fragments, or undefined without ../shared. */
export function ogcSchemaDir(): string | undefined {
  const shared = sharedDir();
  return shared && path.join(shared, 'ogcapi-processes-schemas', 'ogcapi', 'processes', 'part1', '1.0', 'openapi');
}

/** Fixes applied to one fragment before it is added (see the module comment). */
function patchQuirks(file: string, schema: Obj): Obj {
  if (file === 'subscriber.yaml' && Array.isArray(schema.required)) {
    schema.required = (schema.required as string[]).map((r) => (r === 'successUrl' ? 'successUri' : r));
  }
  if ((file === 'inlineOrRefData.yaml' || file === 'inputValueNoObject.yaml') && Array.isArray(schema.oneOf)) {
    schema.anyOf = schema.oneOf;
    delete schema.oneOf;
  }
  // Same overlap one level up: an array value is both an inlineOrRefData and an array of them.
  const inputs = (schema.properties as Obj | undefined)?.inputs as Obj | undefined;
  const each = inputs?.additionalProperties as Obj | undefined;
  if (file === 'execute.yaml' && Array.isArray(each?.oneOf)) {
    each.anyOf = each.oneOf;
    delete each.oneOf;
  }
  return schema;
}

let ogc: { ajv: Ajv; base: string; validators: Map<string, ValidateFunction> } | undefined;

function ogcAjv(): NonNullable<typeof ogc> {
  if (ogc) return ogc;
  const dir = ogcSchemaDir();
  if (!dir) throw new Error('../shared/ogcapi-processes-schemas is not available (use skipUnlessShared)');
  const ajv = newAjv();
  // Every fragment gets its file URL as $id, so relative refs ("link.yaml", "../schemas/x.yaml")
  // resolve as they do on schemas.opengis.net.
  for (const folder of ['schemas']) {
    for (const file of readdirSync(path.join(dir, folder)).filter((f) => f.endsWith('.yaml'))) {
      const full = path.join(dir, folder, file);
      const parsed = patchQuirks(file, YAML.parse(readFileSync(full, 'utf8')) as Obj);
      ajv.addSchema({ ...(toDraft07(parsed) as Obj), $id: pathToFileURL(full).href });
    }
  }
  ogc = { ajv, base: pathToFileURL(path.join(dir, 'schemas')).href, validators: new Map() };
  return ogc;
}

/**
 * Validates a body against an official schema fragment by name ('landingPage', 'confClasses',
 * 'processList', 'process', 'statusInfo', 'jobList', 'exception', 'results', 'execute', …, the
 * file name without `.yaml`). Returns the errors (empty when valid). Needs ../shared.
 */
export function validateOgc(name: string, body: unknown): string[] {
  const o = ogcAjv();
  let v = o.validators.get(name);
  if (!v) {
    const found = o.ajv.getSchema(`${o.base}/${name}.yaml`);
    if (!found) throw new Error(`no official schema named '${name}'`);
    o.validators.set(name, (v = found));
  }
  return v(body) ? [] : describeErrors(v.errors);
}

// -------------------------------------------------------------------------------------------
// The OAS 3.0 schema

let oas30: ValidateFunction | undefined;

/** Validates a document against the OpenAPI 3.0 schema of ../shared/openapi-3.0-schema. */
export function validateOas30(doc: unknown): string[] {
  if (!oas30) {
    const shared = sharedDir();
    if (!shared) throw new Error('../shared/openapi-3.0-schema is not available (use skipUnlessShared)');
    const schema = YAML.parse(readFileSync(path.join(shared, 'openapi-3.0-schema', 'schema.yaml'), 'utf8')) as Obj;
    oas30 = newAjv().compile(toDraft07(schema) as Obj);
  }
  return oas30(doc) ? [] : describeErrors(oas30.errors);
}

// -------------------------------------------------------------------------------------------
// Our own document

interface OpenapiLike {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  components?: { schemas?: Record<string, unknown> };
}

const DOC_ID = 'oas://dallage/document';
const docAjvs = new WeakMap<object, { ajv: Ajv; compiled: Map<string, ValidateFunction> }>();

function docAjv(doc: OpenapiLike): { ajv: Ajv; compiled: Map<string, ValidateFunction> } {
  let entry = docAjvs.get(doc);
  if (!entry) {
    const ajv = newAjv();
    const definitions = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).map(([n, s]) => [n, toDraft07(s, rewriteRef)]));
    ajv.addSchema({ $id: DOC_ID, definitions });
    docAjvs.set(doc, (entry = { ajv, compiled: new Map() }));
  }
  return entry;
}

function rewriteRef(ref: string): string {
  const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
  if (!m) throw new Error(`unsupported $ref in the OpenAPI document: ${ref}`);
  return `${DOC_ID}#/definitions/${m[1]}`;
}

/** The path item a concrete request path matches: concrete paths first, then templates (OAS 3.0 §4.7.8). */
export function matchPath(doc: OpenapiLike, requestPath: string): string | undefined {
  if (doc.paths[requestPath]) return requestPath;
  const templates = Object.keys(doc.paths).filter((p) => p.includes('{'));
  return templates.find((t) => new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(requestPath));
}

/**
 * Validates a response body against OUR document's schema for that operation, status and media
 * type (`application/json; charset=…` matches `application/json`; `*\/*` and `type/*` entries
 * match too). Returns the errors; a missing path, operation, status or media type is an error.
 */
export function validateWithOpenapi(
  doc: unknown,
  requestPath: string,
  method: string,
  status: number,
  contentType: string,
  body: unknown,
): string[] {
  const d = doc as OpenapiLike;
  const p = matchPath(d, requestPath.split('?')[0]);
  if (!p) return [`no path of the document matches ${requestPath}`];
  const op = d.paths[p][method.toLowerCase()];
  if (!op) return [`${p} has no ${method} operation`];
  const response = op.responses?.[String(status)] ?? op.responses?.default;
  if (!response) return [`${method} ${p} does not document status ${status}`];
  const type = contentType.split(';')[0].trim().toLowerCase();
  const content = response.content ?? {};
  const key =
    type in content ? type : (Object.keys(content).find((k) => k === `${type.split('/')[0]}/*`) ?? ('*/*' in content ? '*/*' : undefined));
  if (!key) return [`${method} ${p} ${status} documents no ${type} body (has ${Object.keys(content).join(', ') || 'none'})`];
  const schema = content[key].schema;
  if (schema === undefined) return [`${method} ${p} ${status} ${key} has no schema`];
  const entry = docAjv(d);
  const cacheKey = `${p} ${method} ${status} ${key}`;
  let v = entry.compiled.get(cacheKey);
  if (!v) entry.compiled.set(cacheKey, (v = entry.ajv.compile(toDraft07(schema, rewriteRef) as Obj)));
  return v(body) ? [] : describeErrors(v.errors).map((e) => `${method} ${p} ${status}: ${e}`);
}
