/**
 * Input descriptions that several processes share, so that one input means the same everywhere (same
 * name rule, same enums, same defaults). User-facing text: self-contained, Markdown allowed.
 */
import type { InputDescription } from './types.js';
import { BUILT_IN_TMS_NAMES } from '../raster/tms.js';
import type { Compression } from '../rok4/formats.js';

/** The OGC bbox schema (bbox.yaml), with any CRS URI accepted: the ETS sends EPSG:6.6:4326 (ogcapi-processes.md §3.3). */
export const BBOX_SCHEMA = {
  type: 'object',
  format: 'ogc-bbox',
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
    crs: { type: 'string', default: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
  },
};

/** Names of products: one path segment, no leading dot, so that a name never reaches another's files. */
export const PRODUCT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';

export const COMPRESSIONS: Compression[] = ['raw', 'jpg', 'jpg90', 'png', 'zip', 'lzw', 'pkb'];
export const INTERPOLATIONS = ['nn', 'linear', 'bicubic', 'lanczos'] as const;

/** The name of a product a process writes. */
export function productNameInput(description: string): InputDescription {
  return { title: 'Pyramid name', description, schema: { type: 'string', pattern: PRODUCT_NAME_PATTERN }, minOccurs: 1, maxOccurs: 1 };
}

export const TMS_INPUT: InputDescription = {
  title: 'Tile matrix set',
  description: `Grid of the pyramid: ${BUILT_IN_TMS_NAMES.map((n) => `\`${n}\``).join(', ')} built in, or the name of a ROK4 tile matrix set file in a folder the server is configured with (\`tms_folders\`). Required for a new pyramid.`,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
  minOccurs: 0,
  maxOccurs: 1,
};

export const COMPRESSION_INPUT: InputDescription = {
  title: 'Compression',
  description:
    'Tile compression: `raw` (none, the ROK4 default), `jpg` (quality 75), `jpg90` (quality 90), `png`, `zip` (deflate), `lzw`, `pkb` (PackBits). JPEG needs RGB images.',
  schema: { type: 'string', enum: COMPRESSIONS, default: 'raw' },
  minOccurs: 0,
  maxOccurs: 1,
};

export const INTERPOLATION_INPUT: InputDescription = {
  title: 'Interpolation',
  description: 'Resampling kernel of the finest level: `nn` (nearest neighbour), `linear`, `bicubic` or `lanczos`.',
  schema: { type: 'string', enum: [...INTERPOLATIONS], default: 'bicubic' },
  minOccurs: 0,
  maxOccurs: 1,
};

/** A level id of the tile matrix set (`bottom`, `top`). */
export function levelInput(title: string, description: string): InputDescription {
  return { title, description, schema: { type: 'string' }, minOccurs: 0, maxOccurs: 1 };
}

/** Tiles per slab, in one direction. */
export function slabSizeInput(title: string): InputDescription {
  return {
    title,
    description: 'Tiles per slab file in this direction (ROK4 slabs hold tiles in one file).',
    schema: { type: 'integer', minimum: 2, maximum: 64, default: 16 },
    minOccurs: 0,
    maxOccurs: 1,
  };
}
