/**
 * OpenAPI operations of the publication routes (issue 10): configurations, offerings, and the tile
 * services they feed. Kept beside operations.ts so that each file stays readable; the route table
 * (routes.ts) reads both.
 */
import { MEDIA } from './conformance.js';
import { errorResponse } from './operations.js';
import { CONFIGURATION_BODY_SCHEMA } from '../publication/configuration-body.js';

type Obj = Record<string, unknown>;

const NOT_ALLOWED = (): Obj => errorResponse(405, 'another method than those documented for this path (see the Allow header)');
const SERVER_ERROR = (): Obj => errorResponse(500, 'an unexpected error on the server');
const JSON_OR_HTML = (description: string): Obj => ({
  description,
  content: { [MEDIA.json]: { schema: { type: 'object' } }, [MEDIA.html]: { schema: { type: 'string' } } },
});
const JSON_BODY = (description: string, schema: Obj): Obj => ({ required: true, description, content: { [MEDIA.json]: { schema } } });

const CONFIGURATION_TAG = ['Publication'];
const SERVICES_TAG = ['Tile services'];

/** Query parameters of the publication lists (own parameter objects: not shared with processes). */
export const PUBLICATION_QUERY = {
  name: { name: 'name', in: 'query', required: false, description: 'Only records with this name.', schema: { type: 'string' } },
  layerName: {
    name: 'layer_name',
    in: 'query',
    required: false,
    description: 'Only records of this layer name.',
    schema: { type: 'string' },
  },
  type: { name: 'type', in: 'query', required: false, description: 'Only records of this type (WMTS-TMS).', schema: { type: 'string' } },
  configurationStatus: {
    name: 'status',
    in: 'query',
    required: false,
    description: 'Only configurations in this state.',
    schema: { type: 'string', enum: ['UNPUBLISHED', 'PUBLISHED'] },
  },
} as const;

/** A tile service answers images, XML or JSON, and its own exception documents. */
const SERVICE_ANSWER = (description: string): Obj => ({
  description,
  content: {
    'image/png': { schema: { type: 'string', format: 'binary' } },
    'image/jpeg': { schema: { type: 'string', format: 'binary' } },
    'application/xml': { schema: { type: 'string' } },
    [MEDIA.json]: { schema: { type: 'object' } },
  },
});

/**
 * A service operation. WMTS and TMS answer errors with their own XML exception documents (OGC 07-057r7
 * §8, OWS ExceptionReport); OGC API – Tiles with problem documents like the rest of the API.
 */
function service(operationId: string, summary: string, description: string, errors: 'ows' | 'wms' | 'problem' = 'problem'): Obj {
  const failure = (status: number, why: string): Obj =>
    errors === 'problem'
      ? errorResponse(status, why)
      : errors === 'ows'
        ? { description: `${why} (an OWS ExceptionReport)`, content: { 'application/xml': { schema: { type: 'string' } } } }
        : { description: `${why} (a WMS ServiceExceptionReport)`, content: { 'text/xml': { schema: { type: 'string' } } } };
  return {
    tags: SERVICES_TAG,
    operationId,
    summary,
    description,
    responses: {
      200: SERVICE_ANSWER('The document or the tile.'),
      304: { description: 'The client holds this version (If-None-Match).' },
      400: failure(400, 'a parameter is missing or invalid'),
      404: failure(404, 'unknown layer, or a tile outside the matrix'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  };
}

export const PUBLICATION_OPERATIONS = {
  getConfigurations: {
    tags: CONFIGURATION_TAG,
    operationId: 'getConfigurations',
    summary: 'List configurations',
    description: 'Configurations say what a published layer is made of (pyramids and the levels each serves).',
    responses: {
      200: JSON_OR_HTML('The configurations (paged).'),
      400: errorResponse(400, 'a filter is invalid'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  createConfiguration: {
    tags: CONFIGURATION_TAG,
    operationId: 'createConfiguration',
    summary: 'Create a configuration',
    description:
      'A WMTS-TMS configuration of READY pyramids (same tile matrix set and format, disjoint level ranges). ' +
      'Its layer_name is unique and never changes.',
    requestBody: JSON_BODY('The configuration.', CONFIGURATION_BODY_SCHEMA as unknown as Obj),
    responses: {
      201: { description: 'Created; Location names it.', content: { [MEDIA.json]: { schema: { type: 'object' } } } },
      400: errorResponse(400, 'a field is invalid or a stored data cannot be published (the field is named)'),
      409: errorResponse(409, 'the layer_name is taken'),
      415: errorResponse(415, 'the body is not JSON'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getConfiguration: {
    tags: CONFIGURATION_TAG,
    operationId: 'getConfiguration',
    summary: 'A configuration',
    responses: {
      200: JSON_OR_HTML('The configuration.'),
      404: errorResponse(404, 'no such configuration'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  replaceConfiguration: {
    tags: CONFIGURATION_TAG,
    operationId: 'replaceConfiguration',
    summary: 'Replace a configuration',
    description: 'Its layer_name cannot change. A published layer keeps serving the previous version until its offering is synchronized.',
    requestBody: JSON_BODY('The configuration.', CONFIGURATION_BODY_SCHEMA as unknown as Obj),
    responses: {
      200: { description: 'Replaced.', content: { [MEDIA.json]: { schema: { type: 'object' } } } },
      400: errorResponse(400, 'a field is invalid, or layer_name differs'),
      404: errorResponse(404, 'no such configuration'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  deleteConfiguration: {
    tags: CONFIGURATION_TAG,
    operationId: 'deleteConfiguration',
    summary: 'Delete a configuration',
    responses: {
      204: { description: 'Deleted.' },
      404: errorResponse(404, 'no such configuration'),
      409: errorResponse(409, 'an offering publishes it'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  createOffering: {
    tags: CONFIGURATION_TAG,
    operationId: 'createOffering',
    summary: 'Publish a configuration',
    description: 'Its layer is served at once by WMTS, TMS, XYZ and OGC API – Tiles; the offering lists their URLs.',
    requestBody: { required: false, content: { [MEDIA.json]: { schema: { type: 'object', properties: { open: { type: 'boolean' } } } } } },
    responses: {
      201: { description: 'Published; Location names the offering.', content: { [MEDIA.json]: { schema: { type: 'object' } } } },
      400: errorResponse(400, 'a stored data of the configuration can no longer be published'),
      404: errorResponse(404, 'no such configuration'),
      409: errorResponse(409, 'already published'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getOfferings: {
    tags: CONFIGURATION_TAG,
    operationId: 'getOfferings',
    summary: 'List offerings',
    responses: {
      200: JSON_OR_HTML('The offerings (paged).'),
      400: errorResponse(400, 'a filter is invalid'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getOffering: {
    tags: CONFIGURATION_TAG,
    operationId: 'getOffering',
    summary: 'An offering',
    description: 'As HTML, the layer on a map (OpenLayers reading our WMTS).',
    responses: {
      200: JSON_OR_HTML('The offering and its URLs.'),
      404: errorResponse(404, 'no such offering'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  synchronizeOffering: {
    tags: CONFIGURATION_TAG,
    operationId: 'synchronizeOffering',
    summary: 'Synchronize an offering',
    description: 'The services serve what its configuration says now, at the same URLs, without a failed request.',
    responses: {
      200: { description: 'Synchronized.', content: { [MEDIA.json]: { schema: { type: 'object' } } } },
      400: errorResponse(400, 'the configuration can no longer be served (a stored data is gone)'),
      404: errorResponse(404, 'no such offering'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  deleteOffering: {
    tags: CONFIGURATION_TAG,
    operationId: 'deleteOffering',
    summary: 'Unpublish',
    description: 'The services answer "unknown layer" at once.',
    responses: {
      204: { description: 'Unpublished.' },
      404: errorResponse(404, 'no such offering'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
};

export const SERVICE_OPERATIONS = {
  wms: service(
    'wms',
    'WMS 1.3.0',
    'GetCapabilities, GetMap (PNG/JPEG, up to 4096 px a side) and GetFeatureInfo with SERVICE=WMS&REQUEST=…',
    'wms',
  ),
  wmts: service('wmts', 'WMTS 1.0.0 (KVP)', 'GetCapabilities, GetTile and GetFeatureInfo with SERVICE=WMTS&REQUEST=…', 'ows'),
  wmtsCapabilities: service('wmtsRestCapabilities', 'WMTS 1.0.0 capabilities (RESTful)', 'The capabilities document.', 'ows'),
  wmtsTile: service('wmtsRestTile', 'WMTS tile (RESTful)', 'A tile by the ResourceURL template of the capabilities.', 'ows'),
  wmtsFeatureInfo: service('wmtsRestFeatureInfo', 'WMTS GetFeatureInfo (RESTful)', 'Pixel values at J/I of a tile.', 'ows'),
  tmsService: service('tmsService', 'TMS 1.0.0 service', 'The TileMapService document listing the layers.', 'ows'),
  tmsTileMap: service('tmsTileMap', 'TMS 1.0.0 tile map', 'The TileMap document of a layer.', 'ows'),
  tmsTile: service('tmsTile', 'TMS tile', 'A tile; rows counted from the bottom (TMS).', 'ows'),
  xyzTile: service('xyzTile', 'XYZ tile', 'A tile; rows counted from the top (Leaflet, OpenLayers, QGIS).', 'ows'),
  ogcMapTilesets: service('getMapTilesets', 'OGC API – Tiles: map tilesets of a collection', 'Its tilesets.'),
  ogcMapTileset: service('getMapTileset', 'OGC API – Tiles: a map tileset', 'The tileset with its tile matrix limits.'),
  ogcMapTile: service('getMapTile', 'OGC API – Tiles: a map tile', 'A tile; format by f= or Accept.'),
  ogcTileMatrixSets: service('getTileMatrixSets', 'OGC API – Tiles: tile matrix sets', 'The tile matrix sets in use.'),
  ogcTileMatrixSet: service('getTileMatrixSet', 'OGC API – Tiles: a tile matrix set', 'A 2D TileMatrixSet JSON document.'),
};
