import { Ajv } from 'ajv';
import { ApiError } from '../errors.js';
import { COMPONENT_PARAMETERS } from './operations.js';

type Obj = Record<string, unknown>;

/** An OpenAPI 3.0 parameter object (`in: query` here). */
export interface ParameterObject {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema: Obj;
  [member: string]: unknown;
}

/** A route's query parameter: the name of a shared one (components/parameters) or its own parameter object. */
export type QueryParameter = keyof typeof COMPONENT_PARAMETERS | ParameterObject;

export function resolveParameter(p: QueryParameter): ParameterObject {
  if (typeof p !== 'string') return p;
  const shared = COMPONENT_PARAMETERS[p] as ParameterObject | undefined;
  if (!shared) throw new Error(`no shared parameter '${p}' in components/parameters`);
  return shared;
}

/**
 * What a query parameter may look like on the wire: one string, or — for the list parameters
 * (`type: array`, form style) — a string given once or repeated. The query parser also builds
 * objects (`?f[a]=x`) and arrays (`?f=a&f=b`, `?f[]=a`); those are 400s for a one-value parameter.
 * Values themselves (ranges, enums, dates) are checked by the handlers, whose messages name them.
 */
const ONE = { type: 'string', maxLength: 4096 };
const ONE_OR_MORE = { anyOf: [ONE, { type: 'array', items: ONE, maxItems: 1000 }] };

function wireSchema(p: ParameterObject): Obj {
  return p.schema.type === 'array' ? ONE_OR_MORE : ONE;
}

const ajv = new Ajv({ allErrors: false, strict: false });

/** A validator for the query of one route: throws a 400 naming the first bad parameter. */
export function queryValidator(parameters: readonly ParameterObject[]): (query: Obj) => void {
  // Undeclared parameters are ignored by the handlers (an alias such as processId, a cache buster),
  // but never reach them as objects.
  const schema = {
    type: 'object',
    properties: Object.fromEntries(parameters.map((p) => [p.name, wireSchema(p)])),
    additionalProperties: ONE_OR_MORE,
  };
  const validate = ajv.compile(schema);
  const byName = new Map(parameters.map((p) => [p.name, p]));
  return (query) => {
    if (validate(query)) return;
    const name = (validate.errors?.[0]?.instancePath ?? '').split('/')[1] ?? '';
    const p = byName.get(name);
    const expected = !p || p.schema.type === 'array' ? 'a comma-separated list (or the parameter repeated)' : 'a single value';
    throw new ApiError(
      'invalid-parameter',
      `query parameter '${name}' must be ${expected}, not an object, a bracketed list or a text over 4096 characters`,
      { parameter: name },
    );
  };
}
