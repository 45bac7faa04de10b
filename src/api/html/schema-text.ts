import type { JsonSchema } from '../../process/types.js';

/**
 * A one-line reading of a JSON schema for the input/output tables: type, format, media type, bounds.
 * Alternatives (oneOf/anyOf) are joined with " | "; nested levels are summarised, not expanded.
 */
export function schemaType(schema: JsonSchema | undefined): string {
  if (!schema || typeof schema !== 'object') return 'any';
  const alternatives = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  const parts: string[] = [];
  const type = Array.isArray(schema.type) ? (schema.type as string[]).join(' | ') : (schema.type as string | undefined);
  if (type === 'array') {
    const items = schema.items as JsonSchema | undefined;
    parts.push(`array of ${items ? schemaType(items) : 'any'}`);
  } else if (type) {
    parts.push(type);
  } else if (Array.isArray(alternatives) && alternatives.every((a) => a && (a.type || a.oneOf || a.anyOf || a.format))) {
    parts.push(alternatives.map((a) => schemaType(a)).join(' | '));
  } else if (schema.$ref) {
    parts.push(String(schema.$ref).split('/').pop() ?? 'object');
  } else {
    parts.push('any');
  }
  if (schema.format) parts.push(`format ${schema.format}`);
  if (schema.contentMediaType) parts.push(String(schema.contentMediaType));
  const bounds: string[] = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) bounds.push(`< ${schema.exclusiveMaximum}`);
  if (schema.minLength !== undefined) bounds.push(`length ≥ ${schema.minLength}`);
  if (schema.maxLength !== undefined) bounds.push(`length ≤ ${schema.maxLength}`);
  if (schema.minItems !== undefined) bounds.push(`≥ ${schema.minItems} items`);
  if (schema.maxItems !== undefined) bounds.push(`≤ ${schema.maxItems} items`);
  if (schema.pattern !== undefined) bounds.push(`pattern ${schema.pattern}`);
  if (bounds.length) parts.push(`(${bounds.join(', ')})`);
  return parts.join(', ');
}

/** `enum` values of a schema (also a single `const`), or undefined. */
export function schemaEnum(schema: JsonSchema | undefined): unknown[] | undefined {
  if (!schema) return undefined;
  if (Array.isArray(schema.enum)) return schema.enum as unknown[];
  if (schema.const !== undefined) return [schema.const];
  const items = schema.items as JsonSchema | undefined;
  if (schema.type === 'array' && items && Array.isArray(items.enum)) return items.enum as unknown[];
  return undefined;
}
