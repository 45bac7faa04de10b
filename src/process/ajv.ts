import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * The ajv instance for process input schemas. OGC descriptions use OpenAPI-flavoured JSON Schema:
 * formats such as `ogc-bbox`, `binary` or `byte` are annotations there, not string checks.
 * `useDefaults`: a member left out of an object input takes its schema's default (a bounding box
 * without `crs` is in CRS84, as bbox.yaml says), so processes see what their description promises;
 * top-level defaults are applied by parseExecuteRequest.
 */
export const inputAjv = new Ajv({ strict: false, allErrors: false, validateFormats: true, useDefaults: true });
(addFormats as unknown as (a: Ajv) => void)(inputAjv);
for (const annotation of ['ogc-bbox', 'binary', 'byte', 'geojson-feature-collection', 'geojson-geometry', 'ogc-stored-data']) {
  inputAjv.addFormat(annotation, true);
}
// OpenAPI 3.0 keywords that may appear in descriptions.
for (const keyword of ['nullable', 'example', 'examples', 'x-ogc-role', 'discriminator', 'xml', 'externalDocs', 'deprecated']) {
  try {
    inputAjv.addKeyword(keyword);
  } catch {
    // already known to ajv (an annotation keyword of draft-07)
  }
}

const cache = new WeakMap<object, ValidateFunction>();

/** Compiled validator of a schema (cached by object identity). */
export function validatorFor(schema: object): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = inputAjv.compile(schema);
    cache.set(schema, v);
  }
  return v;
}

/** One readable line for the first ajv error: where and which rule. */
export function describeAjvError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match its schema';
  const where = e.instancePath ? `at ${e.instancePath} ` : '';
  const params = e.params as Record<string, unknown>;
  const detail = 'allowedValues' in params ? ` (${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})` : '';
  return `${where}${e.message}${detail} (rule ${e.keyword})`;
}
