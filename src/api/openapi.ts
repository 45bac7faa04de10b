import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../runtime.js';
import { MEDIA } from './conformance.js';
import { serviceDescription, TITLE } from './landing.js';
import { COMPONENT_HEADERS, COMPONENT_PARAMETERS, PATH_PARAMETERS, executeOperation } from './operations.js';
import type { QueryParameter } from './query-parameters.js';
import { COMPONENT_SCHEMAS } from './openapi-schemas.js';
import type { ApiRequest, ApiResponse } from './request.js';
import type { Route } from './routes.js';

type Obj = Record<string, unknown>;

/** An OpenAPI 3.0 document (loosely typed: it is data for clients). */
export interface OpenapiDocument {
  openapi: string;
  info: Obj;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Obj>>;
  components: { schemas: Record<string, Obj>; parameters: Record<string, Obj>; headers: Record<string, Obj> };
  [member: string]: unknown;
}

const VERSION = readOwnVersion();

/** Our package version, from package.json beside src/ (tsx) or dist/src/ (build). */
function readOwnVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dallage' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return '0.0.0';
}

const pref = (name: string): Obj => ({ $ref: `#/components/parameters/${name}` });

/** The path parameters of a template (`/jobs/{jobId}` → jobId), shared ones by reference. */
function pathParameters(template: string): Obj[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map(([, name]) =>
    PATH_PARAMETERS[name] ? pref(PATH_PARAMETERS[name]) : { name, in: 'path', required: true, schema: { type: 'string' } },
  );
}

/** A route's operation with its path and query parameters (query ones as the route declares them). */
function operationOf(route: Route): Obj {
  const own = (route.operation.parameters as Obj[] | undefined) ?? [];
  const query = (route.query ?? []).map((q: QueryParameter) => (typeof q === 'string' ? pref(q) : q));
  const parameters = [...pathParameters(route.path), ...query, ...own];
  return { ...route.operation, ...(parameters.length ? { parameters } : {}) };
}

/**
 * The OpenAPI 3.0 definition (conformance class oas30): every route of the route table with its
 * methods, parameters and status codes, plus one execution path per process whose request body
 * is built from the process's input schemas. No security scheme: the API has no authentication.
 */
export function buildOpenapi(rt: Pick<Runtime, 'registry'>, routes: readonly Route[], baseUrl: string): OpenapiDocument {
  const paths: OpenapiDocument['paths'] = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operationOf(route);
  // Concrete paths are matched before templated ones (OAS 3.0 §4.7.8), so clients find each
  // process's own request schema here.
  for (const p of rt.registry.all()) {
    paths[`/processes/${p.description.id}/execution`] = { post: executeOperation(p.description) };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: TITLE,
      version: VERSION,
      description: `${serviceDescription(rt.registry)}. Implements OGC API – Processes – Part 1: Core 1.0 (OGC 18-062r2). Every GET operation also answers HEAD. There is no authentication.`,
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    servers: [{ url: baseUrl }],
    // No authentication (conformance class oas30 asks that security be documented).
    security: [],
    tags: [
      { name: 'Capabilities', description: 'Landing page, conformance, API definition' },
      { name: 'Processes', description: 'Process descriptions and execution' },
      { name: 'Jobs', description: 'Job status, results, dismiss, job list' },
      { name: 'Stored data', description: 'Pyramids and COG catalogs kept by the server' },
    ],
    paths,
    components: { schemas: COMPONENT_SCHEMAS, parameters: COMPONENT_PARAMETERS, headers: COMPONENT_HEADERS },
  };
}

/** Documents per runtime and base URL: the registry does not change at run time. */
const cache = new WeakMap<object, Map<string, { doc: OpenapiDocument }>>();

function cached(rt: Runtime, routes: readonly Route[], baseUrl: string): { doc: OpenapiDocument } {
  let byUrl = cache.get(rt);
  if (!byUrl) cache.set(rt, (byUrl = new Map()));
  let entry = byUrl.get(baseUrl);
  if (!entry) {
    // Bounded: a server behind several Host names has a few base URLs, not thousands.
    if (byUrl.size >= 32) byUrl.clear();
    byUrl.set(baseUrl, (entry = { doc: buildOpenapi(rt, routes, baseUrl) }));
  }
  return entry;
}

/** GET /api: the OpenAPI 3.0 definition as `application/vnd.oai.openapi+json;version=3.0`. */
export async function openapiDocument(req: ApiRequest, rt: Runtime, routes: readonly Route[]): Promise<ApiResponse> {
  return { status: 200, headers: { 'Content-Type': MEDIA.openapi }, body: cached(rt, routes, req.baseUrl).doc };
}
