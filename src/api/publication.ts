/**
 * Handlers of /configurations and /offerings (issue 10): HTTP shapes around the publisher
 * (src/publication/publisher.ts), which holds the rules.
 */
import type { Configuration, Offering } from '../records/publication.js';
import type { Runtime } from '../runtime.js';
import { resolveCrs } from '../raster/crs.js';
import { ogcCrs } from '../services/ogc-crs.js';
import { respond } from './landing.js';
import { linkTo, negotiate, parseLimit, parseOffset, selfLinks, single, type ApiRequest, type ApiResponse } from './request.js';

type Handler = (req: ApiRequest, rt: Runtime) => Promise<ApiResponse>;

/** The service URLs of a published layer, as the platform's offerings list them. */
export function offeringUrls(baseUrl: string, layer: string, ext: string | undefined): Array<{ type: string; url: string }> {
  const l = encodeURIComponent(layer);
  return [
    { type: 'WMTS', url: `${baseUrl}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities` },
    { type: 'TMS', url: `${baseUrl}/tms/1.0.0/${l}` },
    { type: 'OGCAPI-TILES', url: `${baseUrl}/collections/${l}/map/tiles` },
    { type: 'XYZ', url: `${baseUrl}/xyz/${l}/{z}/{x}/{y}.${ext ?? 'png'}` },
    { type: 'WMS', url: `${baseUrl}/wms?SERVICE=WMS&REQUEST=GetCapabilities` },
  ];
}

function configurationDoc(c: Configuration, baseUrl: string, offering?: Offering): Record<string, unknown> {
  return {
    ...c,
    links: [
      { href: `${baseUrl}/configurations/${c._id}`, rel: 'self', type: 'application/json', title: c.name },
      ...c.use.map((id) => ({
        href: `${baseUrl}/stored_data/${id}`,
        rel: 'related',
        type: 'application/json',
        title: 'a stored data it uses',
      })),
      ...(offering
        ? [{ href: `${baseUrl}/offerings/${offering._id}`, rel: 'related', type: 'application/json', title: 'its offering' }]
        : []),
    ],
  };
}

function offeringDoc(o: Offering, rt: Runtime, baseUrl: string): Record<string, unknown> {
  const layer = rt.layers.get(o.layer_name);
  const { served: _served, ...shown } = o;
  return {
    ...shown,
    urls: offeringUrls(baseUrl, o.layer_name, layer?.formats[0]?.extensions[0]),
    served: { used_data: o.served.used_data, synchronized: o.served.synchronized },
    links: [
      { href: `${baseUrl}/offerings/${o._id}`, rel: 'self', type: 'application/json', title: o.layer_name },
      { href: `${baseUrl}/offerings/${o._id}?f=html`, rel: 'alternate', type: 'text/html', title: 'the layer on a map' },
      { href: `${baseUrl}/configurations/${o.configuration}`, rel: 'related', type: 'application/json', title: 'its configuration' },
    ],
  };
}

function nextLink(req: ApiRequest, path: string, offset: number, limit: number, format: 'json' | 'html'): Record<string, string> {
  return {
    href: linkTo(req, path, { offset: offset + limit, limit }),
    rel: 'next',
    type: format === 'json' ? 'application/json' : 'text/html',
    title: 'next page',
  };
}

/** GET /configurations?name=&layer_name=&type=&status=&limit=&offset= */
export const listConfigurations: Handler = async (req, rt) => {
  const format = negotiate(req);
  const limit = parseLimit(req, 100, 1000);
  const offset = parseOffset(req);
  const filter = {
    name: single(req.query.name),
    layer_name: single(req.query.layer_name),
    type: single(req.query.type),
    status: single(req.query.status),
  };
  const page = await rt.publisher.listConfigurations(filter, offset, limit);
  const links = selfLinks(req, '/configurations', format, 'configurations');
  if (page.more) links.push(nextLink(req, '/configurations', offset, limit, format));
  return respond(req, format, 'configurations', {
    configurations: page.items.map((c) => configurationDoc(c, req.baseUrl)),
    links,
  });
};

/** POST /configurations */
export const createConfiguration: Handler = async (req, rt) => {
  const c = await rt.publisher.createConfiguration(req.body);
  return {
    status: 201,
    headers: { Location: `${req.baseUrl}/configurations/${c._id}`, 'Content-Type': 'application/json' },
    body: configurationDoc(c, req.baseUrl),
  };
};

/** GET /configurations/{configurationId} */
export const getConfiguration: Handler = async (req, rt) => {
  const format = negotiate(req);
  const c = await rt.publisher.getConfiguration(req.params.configurationId);
  return respond(req, format, 'configuration', configurationDoc(c, req.baseUrl, await rt.publisher.offeringOf(c._id)));
};

/** PUT /configurations/{configurationId} */
export const replaceConfiguration: Handler = async (req, rt) => {
  const c = await rt.publisher.replaceConfiguration(req.params.configurationId, req.body);
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
    body: configurationDoc(c, req.baseUrl, await rt.publisher.offeringOf(c._id)),
  };
};

/** DELETE /configurations/{configurationId} */
export const deleteConfiguration: Handler = async (req, rt) => {
  await rt.publisher.deleteConfiguration(req.params.configurationId);
  return { status: 204 };
};

/** POST /configurations/{configurationId}/offerings */
export const createOffering: Handler = async (req, rt) => {
  const o = await rt.publisher.publish(req.params.configurationId, req.body);
  return {
    status: 201,
    headers: { Location: `${req.baseUrl}/offerings/${o._id}`, 'Content-Type': 'application/json' },
    body: offeringDoc(o, rt, req.baseUrl),
  };
};

/** GET /offerings?layer_name=&type=&limit=&offset= */
export const listOfferings: Handler = async (req, rt) => {
  const format = negotiate(req);
  const limit = parseLimit(req, 100, 1000);
  const offset = parseOffset(req);
  const page = await rt.publisher.listOfferings({ layer_name: single(req.query.layer_name), type: single(req.query.type) }, offset, limit);
  const links = selfLinks(req, '/offerings', format, 'offerings');
  if (page.more) links.push(nextLink(req, '/offerings', offset, limit, format));
  return respond(req, format, 'offerings', { offerings: page.items.map((o) => offeringDoc(o, rt, req.baseUrl)), links });
};

/** GET /offerings/{offeringId}: as HTML, the layer on a map. */
export const getOffering: Handler = async (req, rt) => {
  const format = negotiate(req);
  const o = await rt.publisher.getOffering(req.params.offeringId);
  const doc = offeringDoc(o, rt, req.baseUrl);
  if (format === 'html') {
    const layer = rt.layers.get(o.layer_name);
    if (layer) {
      // The CRS as our capabilities name it (SupportedCRS: IGNF:LAMB93 is announced as EPSG:2154).
      const crs = ogcCrs(layer.tms.crs).code;
      doc.viewer = { layer: o.layer_name, title: layer.spec.title, matrixSet: layer.tms.id, crs, proj4: resolveCrs(crs).proj4 };
    }
  }
  return respond(req, format, 'offering', doc);
};

/** PUT /offerings/{offeringId}: synchronize. */
export const synchronizeOffering: Handler = async (req, rt) => {
  const o = await rt.publisher.synchronize(req.params.offeringId);
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: offeringDoc(o, rt, req.baseUrl) };
};

/** DELETE /offerings/{offeringId}: unpublish. */
export const deleteOffering: Handler = async (req, rt) => {
  await rt.publisher.unpublish(req.params.offeringId);
  return { status: 204 };
};
