import { invalidInput } from '../../src/errors.js';

/** One attribute of a catalog (the EverGIS `attributesConfiguration.attributes[]` entry, cog.md §1.2, §1.4). */
export interface AttributeConfig {
  attributeName: string;
  columnName?: string;
  alias?: string;
  subType?: string;
  isEditable?: boolean;
  isDisplayed?: boolean;
  [extra: string]: unknown;
}

/** The catalog's attribute model, given when the catalog is created (`target.attributesConfiguration`). */
export interface AttributesConfiguration {
  idAttribute?: string;
  titleAttribute?: string;
  geometryAttribute?: string;
  tableName?: string;
  attributes: AttributeConfig[];
  [extra: string]: unknown;
}

/** Attribute sub-types and what JSON value each accepts (EverGIS column types, names compared case-insensitively). */
const CHECKS: Record<string, { what: string; ok: (v: unknown) => boolean }> = {
  string: { what: 'a string', ok: (v) => typeof v === 'string' },
  int32: { what: 'an integer', ok: (v) => Number.isInteger(v) && Math.abs(v as number) <= 2 ** 31 },
  int64: { what: 'an integer', ok: (v) => Number.isSafeInteger(v) },
  integer: { what: 'an integer', ok: (v) => Number.isSafeInteger(v) },
  double: { what: 'a number', ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  float: { what: 'a number', ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  number: { what: 'a number', ok: (v) => typeof v === 'number' && Number.isFinite(v) },
  boolean: { what: 'a boolean', ok: (v) => typeof v === 'boolean' },
  datetime: { what: 'an ISO 8601 date-time string', ok: (v) => typeof v === 'string' && isIsoDate(v) },
  date: { what: 'an ISO 8601 date string', ok: (v) => typeof v === 'string' && isIsoDate(v) },
};

function isIsoDate(v: string): boolean {
  return /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v));
}

/** Sub-types the process accepts in `attributesConfiguration.attributes[].subType` (absent = string). */
export const SUB_TYPES = ['String', 'Int32', 'Int64', 'Integer', 'Double', 'Float', 'Number', 'Boolean', 'DateTime', 'Date'];

/** A 400 naming `target` when the configuration itself is wrong (duplicate or unknown sub-type). */
export function checkConfiguration(config: AttributesConfiguration): void {
  const seen = new Set<string>();
  for (const [i, a] of config.attributes.entries()) {
    if (seen.has(a.attributeName))
      throw invalidInput('target', `attributesConfiguration.attributes[${i}]: attribute '${a.attributeName}' is declared twice`);
    seen.add(a.attributeName);
    if (a.subType !== undefined && !CHECKS[a.subType.toLowerCase()])
      throw invalidInput(
        'target',
        `attributesConfiguration.attributes[${i}]: subType '${a.subType}' of '${a.attributeName}' is not one of ${SUB_TYPES.join(', ')}`,
      );
  }
}

/** A 400 naming the attribute when it is not in the catalog or its value has the wrong type (issue 12). */
export function checkAttributes(values: Record<string, unknown>, config: AttributesConfiguration, catalog: string): void {
  for (const [name, value] of Object.entries(values)) {
    const attr = config.attributes.find((a) => a.attributeName === name);
    if (!attr) {
      const known = config.attributes.map((a) => a.attributeName).join(', ') || 'none';
      throw invalidInput('attributes', `attribute '${name}' is not an attribute of the catalog '${catalog}' (its attributes: ${known})`);
    }
    if (value === null) continue;
    const check = CHECKS[(attr.subType ?? 'string').toLowerCase()];
    if (!check.ok(value))
      throw invalidInput(
        'attributes',
        `attribute '${name}' must be ${check.what} (subType ${attr.subType ?? 'String'}), got ${JSON.stringify(value)}`,
      );
  }
}
