/**
 * The attribute filter of a catalog layer's tile requests (issue 12: `?filter=dateofimage>2023-01-01`):
 * `<attribute><op><value>`, op one of `=`, `!=`, `<`, `<=`, `>`, `>=`. The value is converted to the
 * attribute's subType (`attributesConfiguration`, cog.md §1.2): numbers compare as numbers, Date and
 * DateTime as instants, Boolean only with = and !=, String lexically. An item without the attribute never
 * matches. A bad filter is a {@link TileFilterError}, which each service answers as its own 400 naming
 * `filter`.
 */
import type { CatalogItem } from '../catalog/catalog-item.js';
import type { StoredData } from '../records/stored-data.js';

export class TileFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TileFilterError';
  }
}

export interface TileFilter {
  /** The filter as given (part of the rendered tiles' cache key). */
  text: string;
  test(item: CatalogItem): boolean;
}

type Kind = 'string' | 'number' | 'boolean' | 'instant';

const KINDS: Record<string, Kind> = {
  string: 'string',
  int32: 'number',
  int64: 'number',
  integer: 'number',
  double: 'number',
  float: 'number',
  number: 'number',
  boolean: 'boolean',
  datetime: 'instant',
  date: 'instant',
};

/** Longest operators first, so that `<=` is not read as `<` followed by `=value`. */
const FILTER = /^([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$/s;

/** The filter of a request, or undefined when there is none. */
export function parseTileFilter(catalog: Pick<StoredData, 'name' | 'type_infos'>, raw: unknown): TileFilter | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new TileFilterError('filter is given more than once');
  const m = FILTER.exec(raw.trim());
  if (!m) throw new TileFilterError(`filter '${raw}' is not <attribute><op><value> with op one of = != < <= > >=`);
  const [, name, op, valueText] = m;
  const config = catalog.type_infos.attributesConfiguration as
    | { attributes?: Array<{ attributeName: string; subType?: string }> }
    | undefined;
  const attr = config?.attributes?.find((a) => a.attributeName === name.trim());
  if (!attr) {
    const known = (config?.attributes ?? []).map((a) => a.attributeName).join(', ') || 'none';
    throw new TileFilterError(`filter: catalog '${catalog.name}' has no attribute '${name.trim()}' (attributes: ${known})`);
  }
  const kind = KINDS[(attr.subType ?? 'string').toLowerCase()] ?? 'string';
  const value = convert(kind, valueText.trim(), attr.attributeName, attr.subType ?? 'String');
  if (kind === 'boolean' && op !== '=' && op !== '!=')
    throw new TileFilterError(`filter: Boolean attribute '${name}' compares with = or != only`);
  const key = attr.attributeName;
  return {
    text: `${key}${op}${valueText.trim()}`,
    test(item) {
      const v = item.attributes[key];
      if (v === undefined || v === null) return false;
      const have = kind === 'instant' ? Date.parse(String(v)) : v;
      if (kind === 'instant' && Number.isNaN(have)) return false;
      return compare(have as string | number | boolean, op, value);
    },
  };
}

function convert(kind: Kind, text: string, name: string, subType: string): string | number | boolean {
  const bad = (): never => {
    throw new TileFilterError(`filter: '${text}' is not a value of attribute '${name}' (subType ${subType})`);
  };
  switch (kind) {
    case 'number': {
      const n = text === '' ? Number.NaN : Number(text);
      return Number.isFinite(n) ? n : bad();
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : bad();
    case 'instant': {
      const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
      return Number.isNaN(t) ? bad() : t;
    }
    default:
      return text;
  }
}

function compare(a: string | number | boolean, op: string, b: string | number | boolean): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

/**
 * The `filter` query parameter of a tile request (any case, as KVP names are) for a catalog layer;
 * undefined for a pyramid layer, which has no items to filter.
 */
export function requestFilter(
  layer: { catalog?: { filter(text: string | undefined): TileFilter | undefined } },
  query: Record<string, string | string[] | undefined>,
): TileFilter | undefined {
  if (!layer.catalog) return undefined;
  const values = Object.entries(query)
    .filter(([k]) => k.toLowerCase() === 'filter')
    .flatMap(([, v]) => (Array.isArray(v) ? v : v === undefined ? [] : [v]));
  if (values.length > 1) throw new TileFilterError('filter is given more than once');
  return layer.catalog.filter(values[0]);
}
