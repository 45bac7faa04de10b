import type { Runtime } from '../runtime.js';
import { CONFORMANCE_CLASSES, MEDIA, REL } from './conformance.js';
import { renderHtml } from './html/render.js';
import { negotiate, selfLinks, type ApiRequest, type ApiResponse } from './request.js';

export const TITLE = 'dallage';
/**
 * What the service offers, from the processes it has (not from those it may have one day): the
 * landing page and the OpenAPI info say only what this configuration can do.
 */
export function serviceDescription(registry: Pick<Runtime['registry'], 'all'>): string {
  const ids = registry.all().map((p) => p.description.id);
  return `OGC API – Processes server turning georeferenced rasters into web-ready products${ids.length ? `; processes: ${ids.join(', ')}` : ''}`;
}

/** GET / (landingPage.yaml). */
export async function landingPage(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const b = req.baseUrl;
  const doc = {
    title: TITLE,
    description: serviceDescription(rt.registry),
    links: [
      ...selfLinks(req, '/', format, 'landing page'),
      { href: `${b}/api`, rel: 'service-desc', type: MEDIA.openapi, title: 'the API definition (OpenAPI 3.0, JSON)' },
      { href: `${b}/api.html`, rel: 'service-doc', type: 'text/html', title: 'the API documentation' },
      { href: `${b}/conformance`, rel: REL.conformance, type: MEDIA.json, title: 'conformance classes' },
      { href: `${b}/processes`, rel: REL.processes, type: MEDIA.json, title: 'processes' },
      { href: `${b}/jobs`, rel: REL.jobList, type: MEDIA.json, title: 'jobs' },
      { href: `${b}/workers`, rel: 'related', type: MEDIA.json, title: 'workers and queue' },
      { href: `${b}/stored_data`, rel: 'related', type: MEDIA.json, title: 'stored data (pyramids)' },
      { href: `${b}/configurations`, rel: 'related', type: MEDIA.json, title: 'configurations (what published layers are made of)' },
      { href: `${b}/offerings`, rel: 'related', type: MEDIA.json, title: 'offerings (the layers served now)' },
      { href: `${b}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities`, rel: 'related', type: 'application/xml', title: 'WMTS 1.0.0 capabilities' },
      { href: `${b}/tms/1.0.0`, rel: 'related', type: 'application/xml', title: 'TMS 1.0.0 service' },
      { href: `${b}/wms?SERVICE=WMS&REQUEST=GetCapabilities`, rel: 'related', type: 'text/xml', title: 'WMS 1.3.0 capabilities' },
      {
        href: `${b}/collections`,
        rel: 'data',
        type: MEDIA.json,
        title: 'collections: raster catalogs (OGC API – Features) and published layers (OGC API – Tiles)',
      },
      {
        href: `${b}/tileMatrixSets`,
        rel: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes',
        type: MEDIA.json,
        title: 'tile matrix sets',
      },
    ],
  };
  return respond(req, format, 'landing', doc);
}

/** GET /conformance (confClasses.yaml). */
export async function conformance(req: ApiRequest, _rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  return respond(req, format, 'conformance', {
    conformsTo: [...CONFORMANCE_CLASSES],
    links: selfLinks(req, '/conformance', format, 'conformance'),
  });
}

/** JSON or the HTML rendering of the same document. */
export function respond(
  req: ApiRequest,
  format: 'json' | 'html',
  page: string,
  doc: unknown,
  status = 200,
  headers: Record<string, string | string[]> = {},
): ApiResponse {
  if (format === 'html')
    return { status, headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' }, body: renderHtml(page, doc, req) };
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: doc };
}
