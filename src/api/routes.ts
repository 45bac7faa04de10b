import type { Runtime } from '../runtime.js';
import { conformance, landingPage } from './landing.js';
import { describeProcess, executeProcess, listProcesses } from './processes.js';
import { dismissJob, getJob, jobResult, jobResults, listJobs, syncOutput } from './jobs.js';
import {
  deleteStoredData,
  getStoredData,
  listStoredData,
  storedDataDependencies,
  storedDataDescriptor,
  storedDataList,
} from './stored-data.js';
import { openapiDocument } from './openapi.js';
import { apiConsoleAsset, apiConsolePage } from './api-console.js';
import { mapViewerAsset } from './map-viewer.js';
import {
  createConfiguration,
  createOffering,
  deleteConfiguration,
  deleteOffering,
  getConfiguration,
  getOffering,
  listConfigurations,
  listOfferings,
  replaceConfiguration,
  synchronizeOffering,
} from './publication.js';
import { PUBLICATION_OPERATIONS as PUB, PUBLICATION_QUERY as PQ, SERVICE_OPERATIONS as SVC } from './publication-operations.js';
import { serviceRoute } from './services.js';
import { UPLOAD_OPERATIONS as UP, UPLOAD_QUERY as UQ } from './upload-operations.js';
import {
  createUpload,
  deleteUpload,
  deleteUploadFile,
  getUpload,
  listUploads,
  postUploadFile,
  putUploadFile,
  uploadTree,
  closeUpload,
  openUpload,
  uploadChecks,
  uploadCheck,
} from './uploads.js';
import { getCollection, getItem, getItemData, getItemThumbnail, listCollections, listItems } from './features.js';
import { FEATURES_OPERATIONS as FEAT, FEATURES_QUERY as FQ } from './features-operations.js';
import { ogcMapTile, ogcMapTileset, ogcMapTilesets, ogcTileMatrixSet, ogcTileMatrixSets } from '../services/ogc-tiles.js';
import { tmsService, tmsTile, tmsTileMap, xyzTile } from '../services/tms.js';
import { wmsKvp } from '../services/wms.js';
import { wmtsKvp, wmtsRestCapabilities, wmtsRestFeatureInfo, wmtsRestTile } from '../services/wmts.js';
import { favicon } from './favicon.js';
import { listWorkers } from './workers.js';
import { OPERATIONS, executeOperation } from './operations.js';
import { queryValidator, resolveParameter, type QueryParameter } from './query-parameters.js';
import type { ApiRequest, ApiResponse } from './request.js';

/** A handler: a pure function of the request (DESIGN §10); the signal aborts when the client goes away. */
export type Handler = (req: ApiRequest, rt: Runtime, signal: AbortSignal) => Promise<ApiResponse>;

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One row of the route table: what the app mounts and what the OpenAPI document describes. */
export interface Route {
  method: Method;
  /** OpenAPI path template (`/jobs/{jobId}`); the app derives its router path from it. */
  path: string;
  handler: Handler;
  /** The OpenAPI operation, without path and query parameters: those come from `path` and `query`. */
  operation: Record<string, unknown>;
  /** Query parameters: validated before the handler runs (400 otherwise) and documented. */
  query?: readonly QueryParameter[];
  /**
   * The 200 answer depends only on the config, base URL, query and Accept: built once, then served
   * from its bytes with a strong ETag (304 on If-None-Match), before Express.
   */
  static?: boolean;
  /** The body is an execute request: JSON only (415), bounded by server.limits.body_size (413). */
  jsonBody?: boolean;
  /**
   * A hot GET path (tiles, maps): matched and answered before Express, without its middleware (issue 10,
   * bench:tiles — Express's routing was a sixth of a tile's cost). Same handler, validation and answer.
   */
  direct?: boolean;
}

const PAGING = ['limit', 'offset', 'f'] as const;
const JOB_FILTERS = ['type', 'processIdQueryParam', 'status', 'datetime', 'minDuration', 'maxDuration'] as const;
const STORED_DATA_FILTERS = ['storedDataType', 'storedDataStatus', 'storedDataName'] as const;

/**
 * The one route table. Adding a route: one row here, one handler in its module, its operation in
 * operations.ts. Order matters only for paths that could match the same URL (none today).
 */
export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/', handler: landingPage, operation: OPERATIONS.getLandingPage, query: ['f'], static: true },
  { method: 'GET', path: '/conformance', handler: conformance, operation: OPERATIONS.getConformance, query: ['f'], static: true },
  { method: 'GET', path: '/workers', handler: listWorkers, operation: OPERATIONS.getWorkers, query: ['f'] },
  { method: 'GET', path: '/api', handler: (req, rt) => openapiDocument(req, rt, ROUTES), operation: OPERATIONS.getApi, static: true },
  { method: 'GET', path: '/api.html', handler: apiConsolePage, operation: OPERATIONS.getApiDocumentation, static: true },
  { method: 'GET', path: '/api-console/{file}', handler: apiConsoleAsset, operation: OPERATIONS.getApiConsoleFile, static: true },
  { method: 'GET', path: '/viewer/{file}', handler: mapViewerAsset, operation: OPERATIONS.getMapViewerFile, static: true },
  { method: 'GET', path: '/favicon.ico', handler: favicon, operation: OPERATIONS.getFavicon, static: true },
  { method: 'GET', path: '/processes', handler: listProcesses, operation: OPERATIONS.getProcesses, query: PAGING, static: true },
  {
    method: 'GET',
    path: '/processes/{processId}',
    handler: describeProcess,
    operation: OPERATIONS.getProcessDescription,
    query: ['f'],
    static: true,
  },
  {
    method: 'POST',
    path: '/processes/{processId}/execution',
    handler: executeProcess,
    operation: executeOperation(undefined),
    jsonBody: true,
  },
  { method: 'GET', path: '/jobs', handler: listJobs, operation: OPERATIONS.getJobs, query: [...JOB_FILTERS, ...PAGING] },
  { method: 'GET', path: '/jobs/{jobId}', handler: getJob, operation: OPERATIONS.getStatus, query: ['f'] },
  { method: 'DELETE', path: '/jobs/{jobId}', handler: dismissJob, operation: OPERATIONS.dismiss, query: ['f'] },
  { method: 'GET', path: '/jobs/{jobId}/results', handler: jobResults, operation: OPERATIONS.getResult, query: ['f'] },
  { method: 'GET', path: '/jobs/{jobId}/results/{outputId}', handler: jobResult, operation: OPERATIONS.getResultOutput },
  { method: 'GET', path: '/outputs/{executionId}/{outputId}', handler: syncOutput, operation: OPERATIONS.getSyncOutput },
  {
    method: 'GET',
    path: '/stored_data',
    handler: listStoredData,
    operation: OPERATIONS.getStoredData,
    query: [...STORED_DATA_FILTERS, 'f'],
  },
  { method: 'GET', path: '/stored_data/{id}', handler: getStoredData, operation: OPERATIONS.getStoredDataItem, query: ['f'] },
  { method: 'DELETE', path: '/stored_data/{id}', handler: deleteStoredData, operation: OPERATIONS.deleteStoredData },
  {
    method: 'GET',
    path: '/stored_data/{id}/dependencies',
    handler: storedDataDependencies,
    operation: OPERATIONS.getStoredDataDependencies,
    query: ['f'],
  },
  { method: 'GET', path: '/stored_data/{id}/descriptor', handler: storedDataDescriptor, operation: OPERATIONS.getStoredDataDescriptor },
  { method: 'GET', path: '/stored_data/{id}/list', handler: storedDataList, operation: OPERATIONS.getStoredDataList },

  // Deliveries (issue 11): declared, filled while OPEN, read by processes once CLOSED.
  {
    method: 'GET',
    path: '/uploads',
    handler: listUploads,
    operation: UP.getUploads,
    query: [UQ.name, UQ.status, UQ.type, 'limit', 'offset'],
  },
  { method: 'POST', path: '/uploads', handler: createUpload, operation: UP.createUpload, jsonBody: true },
  { method: 'GET', path: '/uploads/{id}', handler: getUpload, operation: UP.getUpload },
  { method: 'DELETE', path: '/uploads/{id}', handler: deleteUpload, operation: UP.deleteUpload },
  { method: 'GET', path: '/uploads/{id}/tree', handler: uploadTree, operation: UP.getUploadTree },
  { method: 'PUT', path: '/uploads/{id}/data', handler: putUploadFile, operation: UP.putUploadFile, query: [UQ.path, UQ.md5] },
  { method: 'POST', path: '/uploads/{id}/data', handler: postUploadFile, operation: UP.postUploadFile, query: [UQ.path, UQ.md5] },
  { method: 'DELETE', path: '/uploads/{id}/data', handler: deleteUploadFile, operation: UP.deleteUploadFile, query: [UQ.path] },
  { method: 'POST', path: '/uploads/{id}/close', handler: closeUpload, operation: UP.closeUpload },
  { method: 'POST', path: '/uploads/{id}/open', handler: openUpload, operation: UP.openUpload },
  { method: 'GET', path: '/uploads/{id}/checks', handler: uploadChecks, operation: UP.getUploadChecks },
  { method: 'GET', path: '/uploads/{id}/checks/{execution}', handler: uploadCheck, operation: UP.getUploadCheck },

  // Publication (issue 10): configurations → offerings → the services below serve the layer.
  {
    method: 'GET',
    path: '/configurations',
    handler: listConfigurations,
    operation: PUB.getConfigurations,
    query: [PQ.name, PQ.layerName, PQ.type, PQ.configurationStatus, ...PAGING],
  },
  { method: 'POST', path: '/configurations', handler: createConfiguration, operation: PUB.createConfiguration, jsonBody: true },
  { method: 'GET', path: '/configurations/{configurationId}', handler: getConfiguration, operation: PUB.getConfiguration, query: ['f'] },
  {
    method: 'PUT',
    path: '/configurations/{configurationId}',
    handler: replaceConfiguration,
    operation: PUB.replaceConfiguration,
    jsonBody: true,
  },
  { method: 'DELETE', path: '/configurations/{configurationId}', handler: deleteConfiguration, operation: PUB.deleteConfiguration },
  {
    method: 'POST',
    path: '/configurations/{configurationId}/offerings',
    handler: createOffering,
    operation: PUB.createOffering,
    jsonBody: true,
  },
  { method: 'GET', path: '/offerings', handler: listOfferings, operation: PUB.getOfferings, query: [PQ.layerName, PQ.type, ...PAGING] },
  { method: 'GET', path: '/offerings/{offeringId}', handler: getOffering, operation: PUB.getOffering, query: ['f'] },
  { method: 'PUT', path: '/offerings/{offeringId}', handler: synchronizeOffering, operation: PUB.synchronizeOffering },
  { method: 'DELETE', path: '/offerings/{offeringId}', handler: deleteOffering, operation: PUB.deleteOffering },

  // Tile services over the published layers. Their KVP parameters are case-insensitive (OGC 06-121r9
  // §11.5.2): the services read them; the table only refuses parameters given as objects.
  { method: 'GET', path: '/wms', handler: serviceRoute(wmsKvp), operation: SVC.wms, direct: true },
  { method: 'GET', path: '/wmts', handler: serviceRoute(wmtsKvp), operation: SVC.wmts, direct: true },
  { method: 'GET', path: '/wmts/1.0.0/WMTSCapabilities.xml', handler: serviceRoute(wmtsRestCapabilities), operation: SVC.wmtsCapabilities },
  {
    method: 'GET',
    path: '/wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}.{ext}',
    handler: serviceRoute(wmtsRestTile),
    operation: SVC.wmtsTile,
    direct: true,
  },
  {
    method: 'GET',
    path: '/wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}/{j}/{i}.{ext}',
    handler: serviceRoute(wmtsRestFeatureInfo),
    operation: SVC.wmtsFeatureInfo,
  },
  { method: 'GET', path: '/tms/1.0.0', handler: serviceRoute(tmsService), operation: SVC.tmsService },
  { method: 'GET', path: '/tms/1.0.0/{layer}', handler: serviceRoute(tmsTileMap), operation: SVC.tmsTileMap },
  { method: 'GET', path: '/tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}', handler: serviceRoute(tmsTile), operation: SVC.tmsTile, direct: true },
  { method: 'GET', path: '/xyz/{layer}/{z}/{x}/{y}.{ext}', handler: serviceRoute(xyzTile), operation: SVC.xyzTile, direct: true },
  // Collections: the published layers above (OGC API – Tiles) and the raster catalogs (OGC API – Features, issue 12).
  { method: 'GET', path: '/collections', handler: listCollections, operation: FEAT.getCollections, query: ['f'] },
  { method: 'GET', path: '/collections/{collectionId}', handler: getCollection, operation: FEAT.getCollection, query: ['f'] },
  {
    method: 'GET',
    path: '/collections/{collectionId}/items',
    handler: listItems,
    operation: FEAT.getItems,
    query: [FQ.bbox, FQ.bboxCrs, FQ.datetime, FQ.limit, FQ.offset, 'f'],
  },
  { method: 'GET', path: '/collections/{collectionId}/items/{featureId}', handler: getItem, operation: FEAT.getItem, query: ['f'] },
  { method: 'GET', path: '/collections/{collectionId}/items/{featureId}/data', handler: getItemData, operation: FEAT.getItemData },
  {
    method: 'GET',
    path: '/collections/{collectionId}/items/{featureId}/thumbnail',
    handler: getItemThumbnail,
    operation: FEAT.getItemThumbnail,
  },
  { method: 'GET', path: '/collections/{collectionId}/map/tiles', handler: serviceRoute(ogcMapTilesets), operation: SVC.ogcMapTilesets },
  {
    method: 'GET',
    path: '/collections/{collectionId}/map/tiles/{tileMatrixSetId}',
    handler: serviceRoute(ogcMapTileset),
    operation: SVC.ogcMapTileset,
  },
  {
    method: 'GET',
    path: '/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}',
    handler: serviceRoute(ogcMapTile),
    operation: SVC.ogcMapTile,
    direct: true,
  },
  { method: 'GET', path: '/tileMatrixSets', handler: serviceRoute(ogcTileMatrixSets), operation: SVC.ogcTileMatrixSets },
  { method: 'GET', path: '/tileMatrixSets/{tileMatrixSetId}', handler: serviceRoute(ogcTileMatrixSet), operation: SVC.ogcTileMatrixSet },
];

/** Path template → its routes, in table order (what the app mounts: one router path, its methods). */
export function routesByPath(routes: readonly Route[] = ROUTES): Map<string, Route[]> {
  const byPath = new Map<string, Route[]>();
  for (const r of routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  return byPath;
}

const validators = new WeakMap<Route, (query: Record<string, unknown>) => void>();

/**
 * Runs a route's handler after checking its query against the declared parameters (issue 9:
 * `?f[a]=x` is a 400, not a crash in the handler).
 */
export async function runRoute(route: Route, req: ApiRequest, rt: Runtime, signal: AbortSignal): Promise<ApiResponse> {
  let validate = validators.get(route);
  if (!validate) validators.set(route, (validate = queryValidator((route.query ?? []).map(resolveParameter))));
  validate(req.query);
  return route.handler(req, rt, signal);
}
