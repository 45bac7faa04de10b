import { Ajv, type ValidateFunction } from 'ajv';
import { ApiError, invalidInput } from '../errors.js';
import type { UsedData } from '../records/publication.js';

/** The body of POST and PUT /configurations (issue 10; the platform's shape). */
export interface ConfigurationBody {
  type: 'WMTS-TMS';
  name: string;
  layer_name: string;
  metadata?: unknown[];
  attribution?: Record<string, unknown>;
  type_infos: { title: string; abstract?: string; keywords?: string[]; used_data: UsedData[] };
  getfeatureinfo?: { stored_data?: boolean };
}

/** A level id of a tile matrix set ("10", "0", "17"). */
const LEVEL = { type: 'string', minLength: 1, maxLength: 64 };

export const CONFIGURATION_BODY_SCHEMA = {
  type: 'object',
  required: ['type', 'name', 'layer_name', 'type_infos'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: ['WMTS-TMS'] },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    // The layer's name in every service URL and capabilities document: URL- and XML-safe.
    layer_name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' },
    metadata: { type: 'array', maxItems: 100 },
    attribution: { type: 'object' },
    type_infos: {
      type: 'object',
      required: ['title', 'used_data'],
      additionalProperties: false,
      properties: {
        title: { type: 'string', minLength: 1, maxLength: 500 },
        abstract: { type: 'string', maxLength: 5000 },
        keywords: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 200 } },
        used_data: {
          type: 'array',
          minItems: 1,
          maxItems: 32,
          items: {
            type: 'object',
            required: ['stored_data'],
            additionalProperties: false,
            properties: {
              stored_data: { type: 'string', minLength: 1, maxLength: 100 },
              bottom_level: LEVEL,
              top_level: LEVEL,
              // A catalog's layer only (publisher.ts): a pyramid has its own TMS and format.
              tile_matrix_set: { type: 'string', minLength: 1, maxLength: 100 },
              format: { type: 'string', enum: ['png', 'jpeg'] },
            },
          },
        },
      },
    },
    getfeatureinfo: { type: 'object', additionalProperties: false, properties: { stored_data: { type: 'boolean' } } },
  },
} as const;

/** Compiled on the first body (~30 ms that a command line run, which publishes nothing, does not pay). */
let compiled: ValidateFunction | undefined;
const bodyValidator = (): ValidateFunction =>
  (compiled ??= new Ajv({ allErrors: false, strict: false }).compile(CONFIGURATION_BODY_SCHEMA));

/** The body checked against its schema: a 400 naming the field at fault (`type_infos.used_data[0].stored_data`). */
export function checkConfigurationBody(raw: unknown): ConfigurationBody {
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ApiError('invalid-body', 'the configuration must be a JSON object with type, name, layer_name and type_infos');
  }
  const validate = bodyValidator();
  if (validate(raw)) return raw as unknown as ConfigurationBody;
  const e = validate.errors![0];
  const params = e.params as Record<string, unknown>;
  // instancePath "/type_infos/used_data/0" → "type_infos.used_data[0]"; the missing or unknown member named.
  let field = e.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
  const member = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  if (member) field = field ? `${field}.${member}` : member;
  const allowed = Array.isArray(params.allowedValues) ? ` (${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
  const what = params.additionalProperty ? 'is not a member of a configuration' : `${e.message}${allowed}`;
  throw invalidInput(field || '(body)', what);
}
