/** The one conformance list (ogcapi-processes.md §2): every Part 1 class is declared and implemented. */
const BASE = 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/';

export const CONFORMANCE_CLASSES: readonly string[] = [
  'core',
  'ogc-process-description',
  'json',
  'html',
  'oas30',
  'job-list',
  'callback',
  'dismiss',
].map((c) => BASE + c);

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
