/**
 * A small node:http server mounting the publication services' handlers, for the service tests until the
 * route table (src/api/routes.ts) mounts them in the real app. It adapts requests the way src/app.ts does:
 * path parameters, query, lower-case headers, base URL; HEAD answered from GET without a body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LayerRegistry } from '../../src/services/layer-registry.js';
import type { ServiceHandler } from '../../src/services/service-context.js';
import {
  ogcCollection,
  ogcCollections,
  ogcMapTile,
  ogcMapTileset,
  ogcMapTilesets,
  ogcTileMatrixSet,
  ogcTileMatrixSets,
} from '../../src/services/ogc-tiles.js';
import { tmsService, tmsTile, tmsTileMap, xyzTile } from '../../src/services/tms.js';
import { wmtsKvp, wmtsRestCapabilities, wmtsRestFeatureInfo, wmtsRestTile } from '../../src/services/wmts.js';

const ROUTES: Array<[template: string, handler: ServiceHandler]> = [
  ['/wmts', wmtsKvp],
  ['/wmts/1.0.0/WMTSCapabilities.xml', wmtsRestCapabilities],
  ['/wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}.{ext}', wmtsRestTile],
  ['/wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}/{j}/{i}.{ext}', wmtsRestFeatureInfo],
  ['/tms/1.0.0', tmsService],
  ['/tms/1.0.0/{layer}', tmsTileMap],
  ['/tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}', tmsTile],
  ['/xyz/{layer}/{z}/{x}/{y}.{ext}', xyzTile],
  ['/collections', ogcCollections],
  ['/collections/{collectionId}', ogcCollection],
  ['/collections/{collectionId}/map/tiles', ogcMapTilesets],
  ['/collections/{collectionId}/map/tiles/{tileMatrixSetId}', ogcMapTileset],
  ['/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}', ogcMapTile],
  ['/tileMatrixSets', ogcTileMatrixSets],
  ['/tileMatrixSets/{tileMatrixSetId}', ogcTileMatrixSet],
];

function compile(template: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template.replace(/\./g, '\\.').replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+?)';
  });
  return { regex: new RegExp(`^${source}$`), names };
}

const COMPILED = ROUTES.map(([template, handler]) => ({ ...compile(template), handler }));

export interface ServiceServer {
  url: string;
  layers: LayerRegistry;
  close(): Promise<void>;
}

export async function startServiceServer(layers = new LayerRegistry()): Promise<ServiceServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const baseUrl = `http://${req.headers.host}`;
    for (const route of COMPILED) {
      const m = route.regex.exec(url.pathname);
      if (!m) continue;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of url.searchParams) query[k] = k in query ? [...[query[k]].flat(), v] : v;
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      route.handler({ method: 'GET', path: url.pathname, params, query, headers, baseUrl }, { layers }).then(
        (r) => {
          const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
          res.writeHead(r.status, { ...r.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err) => {
          res.writeHead(500).end(String(err));
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    layers,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
