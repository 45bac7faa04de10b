/**
 * Component schemas of the generated OpenAPI 3.0 document (conformance class oas30): the response
 * and request bodies of OGC API – Processes – Part 1 1.0, written as OpenAPI 3.0 Schema Objects
 * that accept what the official fragments (`schemas/*.yaml` of 18-062r2) accept, plus the shapes
 * of our own resources (stored data). Tests check our responses against both.
 *
 * Deliberate differences from the official fragments, each an ambiguity or a bug there:
 * - `inlineOrRefData` and `inputValueNoObject` use `anyOf`: their `oneOf` alternatives overlap
 *   (a number is both `number` and `integer`; ogcapi-processes issue #350);
 * - `subscriber` requires nothing: the official one requires `successUrl`, a member it does not
 *   define (it defines `successUri`);
 * - `bbox.crs` is any URI: the ETS itself sends `urn:ogc:def:crs:EPSG:6.6:4326` (ogcapi-processes.md §3.3).
 */

type Schema = Record<string, unknown>;

/** `$ref` to a component schema. */
export function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

const arrayOf = (items: Schema): Schema => ({ type: 'array', items });

const descriptionMembers: Record<string, Schema> = {
  title: { type: 'string' },
  description: { type: 'string' },
  keywords: arrayOf({ type: 'string' }),
  metadata: arrayOf(ref('metadata')),
};

/** The shared component schemas, keyed by the names the official fragments have (file names). */
export const COMPONENT_SCHEMAS: Record<string, Schema> = {
  link: {
    type: 'object',
    required: ['href'],
    properties: {
      href: { type: 'string' },
      rel: { type: 'string', example: 'service-desc' },
      type: { type: 'string', example: 'application/json' },
      hreflang: { type: 'string', example: 'en' },
      title: { type: 'string' },
    },
  },
  landingPage: {
    type: 'object',
    required: ['links'],
    properties: { title: { type: 'string' }, description: { type: 'string' }, links: arrayOf(ref('link')) },
  },
  confClasses: {
    type: 'object',
    required: ['conformsTo'],
    properties: {
      conformsTo: arrayOf({ type: 'string', example: 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core' }),
      links: arrayOf(ref('link')),
    },
  },
  metadata: {
    type: 'object',
    properties: { title: { type: 'string' }, role: { type: 'string' }, href: { type: 'string' } },
  },
  jobControlOptions: { type: 'string', enum: ['sync-execute', 'async-execute', 'dismiss'] },
  transmissionMode: { type: 'string', enum: ['value', 'reference'], default: 'value' },
  processSummary: {
    type: 'object',
    required: ['id', 'version'],
    properties: {
      ...descriptionMembers,
      id: { type: 'string' },
      version: { type: 'string' },
      jobControlOptions: arrayOf(ref('jobControlOptions')),
      outputTransmission: arrayOf(ref('transmissionMode')),
      links: arrayOf(ref('link')),
    },
  },
  inputDescription: {
    type: 'object',
    required: ['schema'],
    properties: {
      ...descriptionMembers,
      minOccurs: { type: 'integer', default: 1 },
      maxOccurs: {
        oneOf: [
          { type: 'integer', default: 1 },
          { type: 'string', enum: ['unbounded'] },
        ],
      },
      schema: { type: 'object', description: 'The JSON Schema of the input value (schema.yaml: OpenAPI 3.0 flavoured JSON Schema).' },
    },
  },
  outputDescription: {
    type: 'object',
    required: ['schema'],
    properties: {
      ...descriptionMembers,
      schema: { type: 'object', description: 'The JSON Schema of the output value (schema.yaml).' },
    },
  },
  process: {
    allOf: [
      ref('processSummary'),
      {
        type: 'object',
        properties: {
          inputs: { type: 'object', additionalProperties: ref('inputDescription') },
          outputs: { type: 'object', additionalProperties: ref('outputDescription') },
          example: { type: 'object', description: 'An execute request that works (dallage extension).' },
        },
      },
    ],
  },
  processList: {
    type: 'object',
    required: ['processes', 'links'],
    properties: { processes: arrayOf(ref('processSummary')), links: arrayOf(ref('link')) },
  },
  statusCode: { type: 'string', enum: ['accepted', 'running', 'successful', 'failed', 'dismissed'] },
  statusInfo: {
    type: 'object',
    required: ['jobID', 'status', 'type'],
    properties: {
      processID: { type: 'string' },
      type: { type: 'string', enum: ['process'] },
      jobID: { type: 'string' },
      status: ref('statusCode'),
      message: { type: 'string' },
      // Never null (pygeoapi's deviation #8): absent until known.
      created: { type: 'string', format: 'date-time' },
      started: { type: 'string', format: 'date-time' },
      finished: { type: 'string', format: 'date-time' },
      updated: { type: 'string', format: 'date-time' },
      progress: { type: 'integer', minimum: 0, maximum: 100 },
      warnings: { ...arrayOf({ type: 'string' }), description: 'Warnings raised by the process (dallage extension).' },
      worker: {
        type: 'string',
        description: 'The worker process running or that ran the job, host:pid (bullmq manager; dallage extension).',
      },
      links: arrayOf(ref('link')),
    },
  },
  workerList: {
    type: 'object',
    required: ['manager', 'queue', 'workers', 'links'],
    properties: {
      title: { type: 'string' },
      manager: { type: 'string', enum: ['lowdb', 'memory', 'bullmq'] },
      queue: {
        type: 'object',
        required: ['waiting', 'active'],
        properties: { waiting: { type: 'integer', minimum: 0 }, active: { type: 'integer', minimum: 0 } },
      },
      workers: arrayOf({
        type: 'object',
        required: ['name', 'concurrency', 'threads', 'running', 'at'],
        properties: {
          name: { type: 'string', description: 'host:pid, as in the worker member of job statuses' },
          concurrency: { type: 'integer' },
          threads: { type: 'integer' },
          running: arrayOf({ type: 'string' }),
          at: { type: 'string', format: 'date-time', description: 'its last heartbeat' },
        },
      }),
      links: arrayOf(ref('link')),
    },
  },
  jobList: {
    type: 'object',
    required: ['jobs', 'links'],
    properties: { jobs: arrayOf(ref('statusInfo')), links: arrayOf(ref('link')) },
  },
  exception: {
    type: 'object',
    description: 'RFC 7807 problem details; `type` holds the OGC exception URI where one applies.',
    required: ['type'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      instance: { type: 'string' },
    },
    additionalProperties: true,
  },
  bbox: {
    type: 'object',
    required: ['bbox'],
    properties: {
      bbox: {
        type: 'array',
        oneOf: [
          { minItems: 4, maxItems: 4 },
          { minItems: 6, maxItems: 6 },
        ],
        items: { type: 'number' },
      },
      crs: { type: 'string', format: 'uri', default: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
    },
  },
  format: {
    type: 'object',
    properties: {
      mediaType: { type: 'string' },
      encoding: { type: 'string' },
      schema: { oneOf: [{ type: 'string', format: 'url' }, { type: 'object' }] },
    },
  },
  binaryInputValue: { type: 'string', format: 'byte' },
  inputValueNoObject: {
    anyOf: [
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
      { type: 'array', items: {} },
      ref('binaryInputValue'),
      ref('bbox'),
    ],
  },
  qualifiedInputValue: {
    allOf: [
      ref('format'),
      { type: 'object', required: ['value'], properties: { value: { description: 'Any JSON value (inputValue.yaml).' } } },
    ],
  },
  inlineOrRefData: { anyOf: [ref('inputValueNoObject'), ref('qualifiedInputValue'), ref('link')] },
  output: {
    type: 'object',
    properties: { format: ref('format'), transmissionMode: ref('transmissionMode') },
  },
  subscriber: {
    type: 'object',
    description:
      'Callback URIs (conformance class callback). The results document is POSTed to successUri, the status to inProgressUri and failedUri.',
    properties: {
      successUri: { type: 'string', format: 'uri' },
      inProgressUri: { type: 'string', format: 'uri' },
      failedUri: { type: 'string', format: 'uri' },
    },
  },
  execute: {
    type: 'object',
    properties: {
      inputs: { type: 'object', additionalProperties: { anyOf: [ref('inlineOrRefData'), arrayOf(ref('inlineOrRefData'))] } },
      outputs: { type: 'object', additionalProperties: ref('output') },
      response: { type: 'string', enum: ['raw', 'document'], default: 'raw' },
      subscriber: ref('subscriber'),
    },
  },
  results: {
    type: 'object',
    description: 'Output id → value, qualified value or link (results.yaml).',
    additionalProperties: ref('inlineOrRefData'),
  },
  storedData: {
    type: 'object',
    description: 'A product kept by the server (pyramid, COG catalog) and what it depends on.',
    required: ['_id', 'name', 'type', 'status'],
    properties: {
      _id: { type: 'string' },
      name: { type: 'string' },
      type: { type: 'string' },
      status: { type: 'string', enum: ['GENERATING', 'READY', 'FAILED', 'DELETED'] },
      created: { type: 'string', format: 'date-time' },
      updated: { type: 'string', format: 'date-time' },
      use: arrayOf({ type: 'string' }),
      jobId: { type: 'string' },
      size: { type: 'integer', minimum: 0 },
      type_infos: { type: 'object' },
      storage: { type: 'object', properties: { type: { type: 'string' }, key: { type: 'string' }, href: { type: 'string' } } },
      message: { type: 'string' },
      links: arrayOf(ref('link')),
    },
  },
  storedDataList: {
    type: 'object',
    required: ['stored_data', 'links'],
    properties: { stored_data: arrayOf(ref('storedData')), links: arrayOf(ref('link')) },
  },
  storedDataDependencies: {
    type: 'object',
    required: ['use', 'used_by'],
    properties: {
      use: arrayOf({ type: 'object', required: ['_id', 'name'], properties: { _id: { type: 'string' }, name: { type: 'string' } } }),
      used_by: arrayOf({ type: 'object', required: ['_id', 'name'], properties: { _id: { type: 'string' }, name: { type: 'string' } } }),
    },
  },
};

/** Keywords an OpenAPI 3.0 Schema Object allows (OAS 3.0.3 §4.7.24); others become `x-` extensions. */
const OAS_KEYWORDS = new Set([
  'title',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'required',
  'enum',
  'type',
  'allOf',
  'oneOf',
  'anyOf',
  'not',
  'items',
  'properties',
  'additionalProperties',
  'description',
  'format',
  'default',
  'nullable',
  'discriminator',
  'readOnly',
  'writeOnly',
  'xml',
  'externalDocs',
  'example',
  'deprecated',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A process's JSON Schema (draft-07 or 2019-09 style, as plugins write them) as an OpenAPI 3.0
 * Schema Object: `const` → one-value `enum`, type arrays → `anyOf` (+ `nullable`), numeric
 * `exclusiveMinimum`/`exclusiveMaximum` → bound + boolean, `examples` → `example`, and keywords
 * OAS 3.0 does not know (`contentMediaType`, `$schema`…) kept as `x-` extensions so that the
 * document stays valid (the OAS 3.0 schema forbids other members).
 */
export function toOasSchema(schema: unknown): Schema {
  if (schema === true || schema === undefined) return {};
  if (schema === false) return { not: {} };
  if (!isObject(schema)) return {};
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    switch (k) {
      case 'properties':
        if (isObject(v)) out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, toOasSchema(s)]));
        break;
      case 'items':
        out.items = Array.isArray(v) ? { anyOf: v.map(toOasSchema) } : toOasSchema(v);
        break;
      case 'additionalProperties':
        out.additionalProperties = typeof v === 'boolean' ? v : toOasSchema(v);
        break;
      case 'not':
        out.not = toOasSchema(v);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        if (Array.isArray(v)) out[k] = v.map(toOasSchema);
        break;
      case 'required':
      case 'enum':
        // OAS 3.0 wants at least one item in both.
        if (Array.isArray(v) && v.length > 0) out[k] = v;
        break;
      case '$ref':
        // Refs local to the plugin's schema (#/definitions/…) mean nothing inside our document.
        if (typeof v === 'string' && /^https?:\/\//.test(v)) out.$ref = v;
        else out['x-ref'] = v;
        break;
      case 'const':
        out.enum = [v];
        break;
      case 'examples':
        if (Array.isArray(v) && v.length && !('example' in schema)) out.example = v[0];
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        if (typeof v === 'number') {
          out[k === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = v;
          out[k] = true;
        } else if (typeof v === 'boolean') out[k] = v;
        break;
      }
      case 'type':
        if (Array.isArray(v)) {
          const types = v.filter((t) => t !== 'null');
          if (types.length !== v.length) out.nullable = true;
          if (types.length === 1) out.type = types[0];
          else if (types.length > 1) out.anyOf = [...((out.anyOf as Schema[] | undefined) ?? []), ...types.map((t) => ({ type: t }))];
        } else if (v !== 'null') out.type = v;
        break;
      default:
        if (k.startsWith('x-')) out[k] = v;
        else if (OAS_KEYWORDS.has(k)) out[k] = v;
        else if (k !== '$schema' && k !== '$id' && k !== '$comment') out[`x-${k}`] = v;
    }
  }
  // `nullable` needs a `type` in OAS 3.0; a constraint-free nullable schema accepts null anyway.
  if (out.nullable && out.type === undefined) delete out.nullable;
  return out;
}
