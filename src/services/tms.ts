/**
 * TMS 1.0.0 (OSGeo Tile Map Service Specification) at `/tms/1.0.0/`: the TileMapService document, one
 * TileMap per layer, and tiles `/tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}` with the specification's
 * bottom-left origin (y = matrixHeight − 1 − row). ROK4's server counts TMS rows from the top (rok4.md
 * §5.4, item 5); we follow the specification, which is what GDAL's TMS mini-driver, QGIS and
 * OpenLayers' TMS sources expect — XYZ below is the top-left variant. Also XYZ `/xyz/{layer}/{z}/{x}/{y}.{ext}`
 * (row from the top, Leaflet/QGIS "XYZ tiles"). TMS errors are TileMapServerError documents, XYZ ones
 * RFC 7807 problems.
 */
import { ApiError } from '../errors.js';
import type { LayerLevel, PublishedLayer } from './layer.js';
import { ogcCrs } from './ogc-crs.js';
import { logFailure, type ServiceContext, type ServiceHandler } from './service-context.js';
import { cacheableDocument, CORS_HEADERS, parseIndex, xmlEscape as x, type ServiceRequest, type ServiceResponse } from './service-http.js';
import { formatByExtension } from './tile-formats.js';
import { round15 } from '../raster/tms.js';
import { requestFilter, TileFilterError, type TileFilter } from './tile-filter.js';
import { readLayerTile, tileResponse } from './tile-source.js';

class TileRequestError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** GET /tms/1.0.0 */
export const tmsService: ServiceHandler = async (req, ctx) => {
  const maps = ctx.layers
    .list()
    .map(
      (l) =>
        `    <TileMap title="${x(l.spec.title)}" srs="${ogcCrs(l.tms.crs).code}" profile="${profile(l)}" ` +
        `href="${x(`${req.baseUrl}/tms/1.0.0/${encodeURIComponent(l.name)}`)}"/>`,
    );
  const body = `<?xml version="1.0" encoding="UTF-8"?>
<TileMapService version="1.0.0" services="${x(req.baseUrl)}/tms/">
  <Title>dallage TMS</Title>
  <Abstract>Pyramids published by dallage</Abstract>
  <TileMaps>
${maps.join('\n')}
  </TileMaps>
</TileMapService>
`;
  return cacheableDocument(req, Buffer.from(body, 'utf8'), 'application/xml');
};

/** GET /tms/1.0.0/{layer} */
export const tmsTileMap: ServiceHandler = async (req, ctx) => {
  const layer = ctx.layers.get(req.params.layer);
  if (!layer) return tmsError(new TileRequestError(404, `no layer named ${req.params.layer}`));
  const b = layer.bbox;
  const top = layer.levels[0];
  const [ox, oy] = bottomLeft(top);
  const native = layer.formats[0];
  const sets = layer.levels.map(
    (lv) =>
      `    <TileSet href="${x(`${req.baseUrl}/tms/1.0.0/${encodeURIComponent(layer.name)}/${lv.id}`)}" ` +
      `units-per-pixel="${lv.tm.cellSize}" order="${x(lv.id)}"/>`,
  );
  const body = `<?xml version="1.0" encoding="UTF-8"?>
<TileMap version="1.0.0" tilemapservice="${x(req.baseUrl)}/tms/1.0.0/">
  <Title>${x(layer.spec.title)}</Title>
  <Abstract>${x(layer.spec.abstract ?? '')}</Abstract>
  <SRS>${ogcCrs(layer.tms.crs).code}</SRS>
  <BoundingBox minx="${b[0]}" miny="${b[1]}" maxx="${b[2]}" maxy="${b[3]}"/>
  <Origin x="${ox}" y="${oy}"/>
  <TileFormat width="${top.tm.tileWidth}" height="${top.tm.tileHeight}" mime-type="${x(native.mime)}" extension="${native.extensions[0]}"/>
  <TileSets profile="${profile(layer)}">
${sets.join('\n')}
  </TileSets>
</TileMap>
`;
  return cacheableDocument(req, Buffer.from(body, 'utf8'), 'application/xml');
};

/** GET /tms/1.0.0/{layer}/{z}/{x}/{y}.{ext} — y from the bottom. */
export const tmsTile: ServiceHandler = async (req, ctx) => {
  try {
    return await tileAt(req, ctx, 'bottom');
  } catch (err) {
    if (!(err instanceof TileRequestError)) logFailure(ctx, req, err);
    return tmsError(err);
  }
};

/** GET /xyz/{layer}/{z}/{x}/{y}.{ext} — y from the top. */
export const xyzTile: ServiceHandler = async (req, ctx) => {
  try {
    return await tileAt(req, ctx, 'top');
  } catch (err) {
    if (!(err instanceof TileRequestError)) logFailure(ctx, req, err);
    const e = err instanceof TileRequestError ? err : new TileRequestError(404, '');
    const problem =
      err instanceof TileRequestError
        ? new ApiError(e.status === 404 ? 'not-found' : 'invalid-parameter', e.message).toProblem(req.path)
        : new ApiError('internal', 'the tile could not be read').toProblem(req.path);
    return {
      status: problem.status,
      headers: { 'Content-Type': 'application/problem+json', ...CORS_HEADERS },
      body: JSON.stringify(problem),
    };
  }
};

async function tileAt(req: ServiceRequest, ctx: ServiceContext, origin: 'top' | 'bottom'): Promise<ServiceResponse> {
  const { layer: name, z, x: xText, y: yText, ext } = req.params;
  const layer = ctx.layers.get(name);
  if (!layer) throw new TileRequestError(404, `no layer named ${name}`);
  const level = layer.level(z);
  if (!level)
    throw new TileRequestError(404, `layer ${name} has no level ${z} (levels ${layer.levels[0].id} to ${layer.levels.at(-1)!.id})`);
  const format = formatByExtension(layer.formats, ext);
  if (!format)
    throw new TileRequestError(
      404,
      `.${ext} is not offered by layer ${name}: use ${layer.formats.map((f) => `.${f.extensions[0]}`).join(', ')}`,
    );
  const col = parseIndex(xText);
  if (col === undefined) throw new TileRequestError(400, `x=${xText} is not a non-negative integer`);
  const y = parseIndex(yText);
  if (y === undefined) throw new TileRequestError(400, `y=${yText} is not a non-negative integer`);
  const { matrixWidth, matrixHeight } = level.tm;
  if (col >= matrixWidth || y >= matrixHeight) {
    throw new TileRequestError(404, `tile ${col}/${y} is outside level ${z} (${matrixWidth} × ${matrixHeight} tiles)`);
  }
  const row = origin === 'top' ? y : matrixHeight - 1 - y;
  let filter: TileFilter | undefined;
  try {
    filter = requestFilter(layer, req.query);
  } catch (err) {
    if (err instanceof TileFilterError) throw new TileRequestError(400, err.message);
    throw err;
  }
  const t = await readLayerTile(layer, z, col, row, format, filter, ctx.layers.tiles);
  if (t.kind !== 'tile') throw new Error(`unexpected ${t.kind}`);
  return tileResponse(req, t);
}

function tmsError(err: unknown): ServiceResponse {
  const e = err instanceof TileRequestError ? err : undefined;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<TileMapServerError>\n  <Message>${x(e?.message ?? 'the tile could not be read')}</Message>\n</TileMapServerError>\n`;
  return { status: e?.status ?? 500, headers: { 'Content-Type': 'application/xml', ...CORS_HEADERS }, body };
}

/** TMS profiles (TMS 1.0.0 §"Profiles"): PM is global-mercator, the 2×1 geographic quad global-geodetic. */
function profile(layer: PublishedLayer): string {
  if (layer.tms.id === 'PM') return 'global-mercator';
  if (layer.tms.id === '4326') return 'global-geodetic';
  return 'local';
}

/** Bottom-left corner of a level's matrix: the TMS origin. */
function bottomLeft(level: LayerLevel): [number, number] {
  const { tm } = level;
  return [tm.pointOfOrigin[0], round15(tm.pointOfOrigin[1] - tm.matrixHeight * tm.tileHeight * tm.cellSize)];
}
