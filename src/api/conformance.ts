import { OGC_TILES_CONFORMANCE } from '../services/ogc-tiles.js';

/**
 * The one conformance list: every OGC API – Processes Part 1 class (ogcapi-processes.md §2) and the
 * OGC API – Tiles classes of the tile services (issue 10), each declared and implemented.
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

export const CONFORMANCE_CLASSES: readonly string[] = [...PROCESSES_CLASSES, ...OGC_TILES_CONFORMANCE];

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
