/**
 * OpenAPI operations and query parameters of the OGC API – Features routes over raster catalogs
 * (issue 12; OGC 17-069r4 §7.11–§7.16), read by the route table.
 */
import { MEDIA } from './conformance.js';
import { errorResponse } from './operations.js';

type Obj = Record<string, unknown>;

const TAG = ['Raster catalogs (OGC API – Features)'];
const GEOJSON = 'application/geo+json';
const NOT_ALLOWED = (): Obj => errorResponse(405, 'another method than those documented for this path (see the Allow header)');
const SERVER_ERROR = (): Obj => errorResponse(500, 'an unexpected error on the server');
const NOT_FOUND = (what: string): Obj => errorResponse(404, what);
const answer = (description: string, type: string): Obj => ({
  description,
  content: { [type]: { schema: { type: 'object' } }, [MEDIA.html]: { schema: { type: 'string' } } },
});

/** Query parameters of GET /collections/{collectionId}/items (own parameter objects). */
export const FEATURES_QUERY = {
  bbox: {
    name: 'bbox',
    in: 'query',
    required: false,
    style: 'form',
    explode: false,
    description:
      'Only items whose footprint bbox intersects this one: west,south,east,north in CRS84 (longitude, latitude); west > east crosses the antimeridian.',
    schema: { type: 'array', minItems: 4, maxItems: 6, items: { type: 'number' } },
  },
  bboxCrs: {
    name: 'bbox-crs',
    in: 'query',
    required: false,
    description: 'Only http://www.opengis.net/def/crs/OGC/1.3/CRS84.',
    schema: { type: 'string', format: 'uri' },
  },
  datetime: {
    name: 'datetime',
    in: 'query',
    required: false,
    description:
      "Only items whose date (the catalog's first DateTime/Date attribute, else when added) is this instant or in this interval (`start/end`, `..` or empty for an open end); a date alone is the whole day.",
    schema: { type: 'string' },
  },
  limit: {
    name: 'limit',
    in: 'query',
    required: false,
    description: 'At most this many items (1..10000, default 10).',
    schema: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
  },
  offset: {
    name: 'offset',
    in: 'query',
    required: false,
    description: 'Items skipped (paging: follow the `next` link).',
    schema: { type: 'integer', minimum: 0, default: 0 },
  },
} as const;

export const FEATURES_OPERATIONS = {
  getCollections: {
    tags: TAG,
    operationId: 'getCollections',
    summary: 'Collections: raster catalogs and published tile layers',
    description:
      'Each READY raster catalog (OGC API – Features, STAC Collection) and each published layer (OGC API – Tiles); one collection when a layer has the name of a catalog.',
    responses: {
      200: answer('The collections.', MEDIA.json),
      405: NOT_ALLOWED(),
      406: errorResponse(406, 'f= or Accept asks for another format'),
      500: SERVER_ERROR(),
    },
  },
  getCollection: {
    tags: TAG,
    operationId: 'describeCollection',
    summary: 'A collection',
    description: "A catalog's extent (from its items) and links to its items; a layer's tilesets.",
    responses: {
      200: answer('The collection.', MEDIA.json),
      404: NOT_FOUND('no such collection'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getItems: {
    tags: TAG,
    operationId: 'getFeatures',
    summary: 'Items of a raster catalog',
    description:
      "A GeoJSON FeatureCollection of STAC Items (footprint in CRS84, proj: fields, assets data = the COG and thumbnail), in the order they were added, filtered by bbox, datetime and the catalog's attributes (`?name=value`, converted to the attribute's type); `limit` at a time with `next`/`prev` links, numberMatched/numberReturned. Other query parameters are refused (400).",
    responses: {
      200: answer('The items.', GEOJSON),
      400: errorResponse(400, 'a parameter is invalid or unknown (it is named)'),
      404: NOT_FOUND('no such raster catalog'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getItem: {
    tags: TAG,
    operationId: 'getFeature',
    summary: 'One item',
    description: 'A STAC Item (GeoJSON Feature).',
    responses: { 200: answer('The item.', GEOJSON), 404: NOT_FOUND('no such catalog or item'), 405: NOT_ALLOWED(), 500: SERVER_ERROR() },
  },
  getItemData: {
    tags: TAG,
    operationId: 'getFeatureData',
    summary: "An item's file (the COG)",
    description:
      'The file, with HTTP range requests (RFC 9110 §14: Accept-Ranges, Range → 206 with Content-Range, 416 beyond the end, If-Range), a strong ETag (304 on If-None-Match) and Last-Modified: GDAL reads it with /vsicurl/.',
    parameters: [
      {
        name: 'Range',
        in: 'header',
        required: false,
        description: 'One byte range, `bytes=start-end`, `bytes=start-` or `bytes=-length`.',
        schema: { type: 'string' },
      },
      {
        name: 'If-Range',
        in: 'header',
        required: false,
        description: 'The ETag or Last-Modified date: the range only if the file is still that one.',
        schema: { type: 'string' },
      },
    ],
    responses: {
      200: { description: 'The whole file.', content: { 'image/tiff': { schema: { type: 'string', format: 'binary' } } } },
      206: { description: 'The range asked for.', content: { 'image/tiff': { schema: { type: 'string', format: 'binary' } } } },
      304: { description: 'The client holds this file (If-None-Match).' },
      404: NOT_FOUND('no such catalog or item'),
      405: NOT_ALLOWED(),
      416: errorResponse(416, 'the range starts after the end of the file (Content-Range: bytes */size)'),
      500: SERVER_ERROR(),
    },
  },
  getItemThumbnail: {
    tags: TAG,
    operationId: 'getFeatureThumbnail',
    summary: "An item's preview",
    description: 'A PNG of at most 256 px a side, from the smallest overview of the file.',
    responses: {
      200: { description: 'The preview.', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } },
      404: NOT_FOUND('no such catalog or item, or a file that cannot be decoded'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
};
