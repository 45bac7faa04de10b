/**
 * OGC API – Tiles 1.0 (OGC 20-057) over the published layers, as map tiles: the layers' collection
 * documents (listed by /collections with the raster catalogs, src/api/features.ts),
 * `/collections/{collectionId}/map/tiles` (tilesets-list),
 * `…/map/tiles/{tileMatrixSetId}` (tileset, with tileMatrixSetLimits), `…/{tileMatrix}/{tileRow}/{tileCol}`
 * (core; format by `f=` or Accept), and `/tileMatrixSets[/{tileMatrixSetId}]` in the 2D Tile Matrix Set
 * 2.0 JSON encoding (OGC 17-083r4). Errors are RFC 7807 problems: 400 for malformed values, 404 for
 * what does not exist and for tiles outside the tileset's limits (20-057 /req/core/tc-error).
 */
import { ApiError } from '../errors.js';
import { BUILT_IN_TMS_NAMES, builtInTms, type TileMatrixSet } from '../raster/tms.js';
import type { PublishedLayer } from './layer.js';
import { ogcCrs } from './ogc-crs.js';
import { logFailure, type ServiceContext, type ServiceHandler } from './service-context.js';
import { cacheableDocument, CORS_HEADERS, parseIndex, type ServiceRequest, type ServiceResponse } from './service-http.js';
import { formatByExtension, formatByMime, type OfferedFormat } from './tile-formats.js';
import { requestFilter, TileFilterError, type TileFilter } from './tile-filter.js';
import { readLayerTile, tileResponse } from './tile-source.js';

const REL = 'http://www.opengis.net/def/rel/ogc/1.0/';
const CONF = 'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/';

/** Conformance classes these handlers implement (added to /conformance by the API). */
export const OGC_TILES_CONFORMANCE: readonly string[] = [
  `${CONF}core`,
  `${CONF}tileset`,
  `${CONF}tilesets-list`,
  `${CONF}geodata-tilesets`,
  `${CONF}png`,
  `${CONF}jpeg`,
  `${CONF}tiff`,
  'http://www.opengis.net/spec/tms/2.0/conf/tilematrixset',
  'http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset',
];

/** Registered URIs of the tile matrix sets that are OGC well-known ones (17-083r4 Annex D). */
const KNOWN_TMS: Record<string, { uri: string; wkss?: string; title: string }> = {
  PM: {
    uri: 'http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad',
    wkss: 'http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible',
    title: 'Google Maps Compatible for the World (WebMercatorQuad)',
  },
};

class TilesError extends Error {
  constructor(
    readonly status: 400 | 404 | 406,
    message: string,
  ) {
    super(message);
  }
}

function problem(req: ServiceRequest, err: unknown): ServiceResponse {
  const kind =
    err instanceof TilesError
      ? err.status === 400
        ? 'invalid-parameter'
        : err.status === 404
          ? 'not-found'
          : 'not-acceptable'
      : 'internal';
  const doc = new ApiError(kind, err instanceof TilesError ? err.message : 'the request could not be answered').toProblem(req.path);
  return { status: doc.status, headers: { 'Content-Type': 'application/problem+json', ...CORS_HEADERS }, body: JSON.stringify(doc) };
}

function json(req: ServiceRequest, doc: unknown): ServiceResponse {
  return cacheableDocument(req, Buffer.from(JSON.stringify(doc), 'utf8'), 'application/json');
}

const guarded =
  (fn: ServiceHandler): ServiceHandler =>
  async (req, ctx) => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      if (!(err instanceof TilesError)) logFailure(ctx, req, err);
      return problem(req, err);
    }
  };

function layerOf(ctx: ServiceContext, id: string): PublishedLayer {
  const layer = ctx.layers.get(id);
  if (!layer) throw new TilesError(404, `no collection '${id}'`);
  return layer;
}

/** The collection document of a published layer (`/collections/{collectionId}`, its map tilesets link). */
export function tileCollectionDoc(base: string, l: PublishedLayer): Record<string, unknown> {
  const href = `${base}/collections/${encodeURIComponent(l.name)}`;
  return {
    id: l.name,
    title: l.spec.title,
    description: l.spec.abstract ?? '',
    keywords: l.spec.keywords ?? [],
    extent: { spatial: { bbox: [l.wgs84Bbox], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' } },
    dataType: 'map',
    links: [
      { rel: 'self', type: 'application/json', href },
      { rel: `${REL}tilesets-map`, type: 'application/json', href: `${href}/map/tiles`, title: 'map tilesets' },
    ],
  };
}

function tilesetSummary(base: string, l: PublishedLayer): Record<string, unknown> {
  const href = `${base}/collections/${encodeURIComponent(l.name)}/map/tiles/${encodeURIComponent(l.tms.id)}`;
  return {
    title: `${l.spec.title} (${l.tms.id})`,
    dataType: 'map',
    crs: ogcCrs(l.tms.crs).uri,
    ...(KNOWN_TMS[l.tms.id] ? { tileMatrixSetURI: KNOWN_TMS[l.tms.id].uri } : {}),
    links: [
      { rel: 'self', type: 'application/json', href },
      { rel: `${REL}tiling-scheme`, type: 'application/json', href: `${base}/tileMatrixSets/${encodeURIComponent(l.tms.id)}` },
    ],
  };
}

/** GET /collections/{collectionId}/map/tiles */
export const ogcMapTilesets: ServiceHandler = guarded(async (req, ctx) => {
  const l = layerOf(ctx, req.params.collectionId);
  return json(req, {
    tilesets: [tilesetSummary(req.baseUrl, l)],
    links: [{ rel: 'self', type: 'application/json', href: `${req.baseUrl}/collections/${encodeURIComponent(l.name)}/map/tiles` }],
  });
});

function tilesetOf(ctx: ServiceContext, req: ServiceRequest): PublishedLayer {
  const l = layerOf(ctx, req.params.collectionId);
  if (req.params.tileMatrixSetId !== l.tms.id) {
    throw new TilesError(404, `collection '${l.name}' is tiled in ${l.tms.id}, not '${req.params.tileMatrixSetId}'`);
  }
  return l;
}

/** GET /collections/{collectionId}/map/tiles/{tileMatrixSetId} */
export const ogcMapTileset: ServiceHandler = guarded(async (req, ctx) => {
  const l = tilesetOf(ctx, req);
  const summary = tilesetSummary(req.baseUrl, l);
  const href = `${req.baseUrl}/collections/${encodeURIComponent(l.name)}/map/tiles/${encodeURIComponent(l.tms.id)}`;
  return json(req, {
    ...summary,
    tileMatrixSetLimits: l.levels.map((lv) => ({
      tileMatrix: lv.id,
      minTileRow: lv.limits.min_row,
      maxTileRow: lv.limits.max_row,
      minTileCol: lv.limits.min_col,
      maxTileCol: lv.limits.max_col,
    })),
    boundingBox: { lowerLeft: [l.bbox[0], l.bbox[1]], upperRight: [l.bbox[2], l.bbox[3]], crs: ogcCrs(l.tms.crs).uri },
    links: [
      ...(summary.links as unknown[]),
      ...l.formats.map((f) => ({
        rel: 'item',
        type: f.mime,
        templated: true,
        href: `${href}/{tileMatrix}/{tileRow}/{tileCol}?f=${f.extensions[0]}`,
      })),
    ],
  });
});

/** The format asked by `f=` (extension or media type), else by Accept, else the layer's native one. */
function tileFormat(req: ServiceRequest, l: PublishedLayer): OfferedFormat {
  const f = req.query.f;
  const fText = Array.isArray(f) ? f[f.length - 1] : f;
  if (fText !== undefined) {
    const found = formatByExtension(l.formats, fText) ?? formatByMime(l.formats, fText);
    if (!found) throw new TilesError(400, `f=${fText}: collection '${l.name}' offers ${l.formats.map((x) => x.extensions[0]).join(', ')}`);
    return found;
  }
  const accept = req.headers.accept;
  if (!accept) return l.formats[0];
  for (const part of accept.split(',')) {
    const type = part.split(';')[0].trim();
    if (type === '*/*' || type === 'image/*') return l.formats[0];
    const found = formatByMime(l.formats, part.trim().replace(/;\s*q=[\d.]+$/, ''));
    if (found) return found;
  }
  throw new TilesError(406, `none of ${accept} is offered; collection '${l.name}' offers ${l.formats.map((x) => x.mime).join(', ')}`);
}

/** GET /collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol} */
export const ogcMapTile: ServiceHandler = guarded(async (req, ctx) => {
  const l = tilesetOf(ctx, req);
  const { tileMatrix, tileRow, tileCol } = req.params;
  const level = l.level(tileMatrix);
  if (!level) throw new TilesError(404, `collection '${l.name}' has no tile matrix '${tileMatrix}'`);
  const row = parseIndex(tileRow);
  if (row === undefined) throw new TilesError(400, `tileRow '${tileRow}' is not a non-negative integer`);
  const col = parseIndex(tileCol);
  if (col === undefined) throw new TilesError(400, `tileCol '${tileCol}' is not a non-negative integer`);
  const lim = level.limits;
  if (row < lim.min_row || row > lim.max_row || col < lim.min_col || col > lim.max_col) {
    throw new TilesError(
      404,
      `tile ${tileMatrix}/${row}/${col} is outside the tileset's limits (rows ${lim.min_row}–${lim.max_row}, ` +
        `columns ${lim.min_col}–${lim.max_col})`,
    );
  }
  const format = tileFormat(req, l);
  let filter: TileFilter | undefined;
  try {
    filter = requestFilter(l, req.query);
  } catch (err) {
    if (err instanceof TileFilterError) throw new TilesError(400, err.message);
    throw err;
  }
  const t = await readLayerTile(l, tileMatrix, col, row, format, filter, ctx.layers.tiles);
  if (t.kind !== 'tile') throw new Error(`unexpected ${t.kind}`);
  return tileResponse(req, t);
});

/** Tile matrix sets shown: the built-in ones and those of published layers. */
function knownTms(ctx: ServiceContext): Map<string, TileMatrixSet> {
  const all = new Map<string, TileMatrixSet>();
  for (const name of BUILT_IN_TMS_NAMES) all.set(name, builtInTms(name)!);
  for (const l of ctx.layers.list()) all.set(l.tms.id, l.tms);
  return all;
}

/** GET /tileMatrixSets */
export const ogcTileMatrixSets: ServiceHandler = guarded(async (req, ctx) =>
  json(req, {
    tileMatrixSets: [...knownTms(ctx).values()].map((t) => ({
      id: t.id,
      title: KNOWN_TMS[t.id]?.title ?? t.id,
      ...(KNOWN_TMS[t.id] ? { uri: KNOWN_TMS[t.id].uri } : {}),
      links: [{ rel: 'self', type: 'application/json', href: `${req.baseUrl}/tileMatrixSets/${encodeURIComponent(t.id)}` }],
    })),
    links: [{ rel: 'self', type: 'application/json', href: `${req.baseUrl}/tileMatrixSets` }],
  }),
);

/** GET /tileMatrixSets/{tileMatrixSetId}: the 2D TMS 2.0 JSON encoding (cornerOfOrigin topLeft, CRS axis order). */
export const ogcTileMatrixSet: ServiceHandler = guarded(async (req, ctx) => {
  const t = knownTms(ctx).get(req.params.tileMatrixSetId);
  if (!t) throw new TilesError(404, `no tile matrix set '${req.params.tileMatrixSetId}'`);
  const crs = ogcCrs(t.crs);
  const known = KNOWN_TMS[t.id];
  return json(req, {
    id: t.id,
    title: known?.title ?? t.id,
    ...(known ? { uri: known.uri } : {}),
    crs: crs.uri,
    orderedAxes: crs.latFirst ? ['Lat', 'Lon'] : t.orderedAxes[0].toUpperCase() === 'LON' ? ['Lon', 'Lat'] : ['E', 'N'],
    ...(known?.wkss ? { wellKnownScaleSet: known.wkss } : {}),
    tileMatrices: [...t.tileMatrices]
      .sort((a, b) => b.cellSize - a.cellSize)
      .map((tm) => ({
        id: tm.id,
        scaleDenominator: tm.scaleDenominator,
        cellSize: tm.cellSize,
        cornerOfOrigin: 'topLeft',
        pointOfOrigin: crs.latFirst ? [tm.pointOfOrigin[1], tm.pointOfOrigin[0]] : tm.pointOfOrigin,
        tileWidth: tm.tileWidth,
        tileHeight: tm.tileHeight,
        matrixWidth: tm.matrixWidth,
        matrixHeight: tm.matrixHeight,
      })),
  });
});
