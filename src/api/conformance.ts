import { OGC_TILES_CONFORMANCE } from '../services/ogc-tiles.js';

/** OGC API – Features Part 1 (OGC 17-069r4 §A) over the raster catalogs (issue 12, src/api/features.ts). */
const FEATURES = 'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/';
const FEATURES_CLASSES: readonly string[] = ['core', 'geojson', 'html', 'oas30'].map((c) => FEATURES + c);

/**
 * The one conformance list: every OGC API – Processes Part 1 class (ogcapi-processes.md §2), the
 * OGC API – Tiles classes of the tile services (issue 10) and the OGC API – Features Part 1 classes of
 * the raster catalogs (issue 12), each declared and implemented.
 */
const BASE = 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/';

const PROCESSES_CLASSES: readonly string[] = [
  'core',
  'ogc-process-description',
  'json',
  'html',
  'oas30',
  'job-list',
  'callback',
  'dismiss',
].map((c) => BASE + c);

export const CONFORMANCE_CLASSES: readonly string[] = [...PROCESSES_CLASSES, ...OGC_TILES_CONFORMANCE, ...FEATURES_CLASSES];

/** OGC link relations used by the API (ogcapi-processes.md §2). */
export const REL = {
  conformance: 'http://www.opengis.net/def/rel/ogc/1.0/conformance',
  processes: 'http://www.opengis.net/def/rel/ogc/1.0/processes',
  jobList: 'http://www.opengis.net/def/rel/ogc/1.0/job-list',
  results: 'http://www.opengis.net/def/rel/ogc/1.0/results',
  executeProcess: 'http://www.opengis.net/def/rel/ogc/1.0/execute',
} as const;

export const MEDIA = {
  json: 'application/json',
  problem: 'application/problem+json',
  html: 'text/html',
  openapi: 'application/vnd.oai.openapi+json;version=3.0',
} as const;
