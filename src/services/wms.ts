/**
 * WMS 1.3.0 at /wms (issue 10; OGC 06-042): GetCapabilities, GetMap and GetFeatureInfo over the published
 * layers — the same layers WMTS, TMS and OGC API – Tiles serve, as in ROK4's server. Maps are rendered by
 * wms-render.ts; errors are WMS ServiceExceptionReports (06-042 §6.11, Annex A.4).
 */
import { transformBbox, type Bbox } from '../raster/crs.js';
import { tileMatrix } from '../raster/tms.js';
import { INFO_FORMATS, pixelInfo, renderPixelInfo } from './feature-info.js';
import type { PublishedLayer } from './layer.js';
import { ogcCrs } from './ogc-crs.js';
import type { ServiceContext, ServiceHandler } from './service-context.js';
import { cacheableDocument, CORS_HEADERS, kvp, type ServiceRequest, type ServiceResponse } from './service-http.js';
import { MapGate } from './map-gate.js';
import { closestLevel, requestInTms, type MapGrid } from './wms-render.js';
import { drawOnThisThread } from './map-renderer.js';
import { wmsCapabilities, WMS_CRS_BASE } from './wms-capabilities.js';
import { WmsException, wmsExceptionReport } from './wms-exception.js';

/** Largest map side, in pixels, without a config (issue 10: "bbox/width/height up to 4096 px"). */
export const WMS_MAX_SIZE = 4096;
/** The map gate of handlers called without limits (tests calling the handler directly). */
const DEFAULT_GATE = new MapGate(2);

export const WMS_FORMATS = ['image/png', 'image/jpeg'] as const;

/** GET /wms?SERVICE=WMS&REQUEST=… (parameter names in any case, 06-042 §6.8.1). */
export const wmsKvp: ServiceHandler = async (req, ctx) => {
  try {
    const q = kvp(req.query);
    const request = (q.get('request') ?? '').toLowerCase();
    const service = q.get('service');
    if (service !== undefined && service.toUpperCase() !== 'WMS' && request !== 'getmap' && request !== 'getfeatureinfo') {
      throw new WmsException(undefined, `SERVICE=${service}: this endpoint is WMS`);
    }
    if (request === 'getcapabilities') {
      const version = q.get('version');
      if (version !== undefined && version !== '1.3.0') {
        // Version negotiation (06-042 §6.2.4): we offer 1.3.0 whatever is asked.
      }
      return cacheableDocument(req, Buffer.from(wmsCapabilities(req.baseUrl, ctx.layers.list(), maxSize(ctx)), 'utf8'), 'text/xml');
    }
    if (request === 'getmap') return await getMap(q, ctx);
    if (request === 'getfeatureinfo') return await getFeatureInfo(q, ctx);
    if (!q.has('request')) throw new WmsException(undefined, 'REQUEST is required (GetCapabilities, GetMap or GetFeatureInfo)');
    throw new WmsException('OperationNotSupported', `REQUEST=${q.get('request')}: use GetCapabilities, GetMap or GetFeatureInfo`);
  } catch (err) {
    if (err instanceof WmsException) return wmsExceptionReport(err);
    ctx.log?.error('WMS request failed', { path: req.path, error: err instanceof Error ? err.message : String(err) });
    return wmsExceptionReport(new WmsException(undefined, 'the map could not be drawn', 500));
  }
};

function required(q: Map<string, string>, name: string): string {
  const v = q.get(name);
  if (v === undefined || v === '') throw new WmsException(undefined, `${name.toUpperCase()} is required`);
  return v;
}

const maxSize = (ctx: ServiceContext): number => ctx.wms?.maxSize ?? WMS_MAX_SIZE;

/** WIDTH or HEIGHT: checked against the limit before anything is allocated from it. */
function mapSide(q: Map<string, string>, name: string, limit: number): number {
  const raw = required(q, name);
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new WmsException(undefined, `${name.toUpperCase()}=${raw}: a positive integer`);
  const n = Number(raw);
  if (n > limit) throw new WmsException(undefined, `${name.toUpperCase()}=${n} is over the limit of ${limit} pixels`);
  return n;
}

/** The published layers of LAYERS (comma-separated, drawn in order, 06-042 §7.3.3.3). */
function layersOf(q: Map<string, string>, ctx: ServiceContext, name: string): PublishedLayer[] {
  const names = required(q, name).split(',');
  if (names.length > 16) throw new WmsException(undefined, `${name.toUpperCase()} names ${names.length} layers; at most 16`);
  return names.map((n) => {
    const layer = ctx.layers.get(n);
    if (!layer) throw new WmsException('LayerNotDefined', `unknown layer '${n}'`);
    return layer;
  });
}

/** CRS, BBOX (in the CRS's axis order: latitude first for EPSG:4326 in 1.3.0, 06-042 §6.7.3), WIDTH, HEIGHT. */
function mapGrid(q: Map<string, string>, layers: PublishedLayer[], limit: number): MapGrid {
  const crsParam = required(q, 'crs');
  const allowed = new Set([...WMS_CRS_BASE, ...layers.map((l) => ogcCrs(l.tms.crs).code)]);
  const crs = crsParam.toUpperCase() === 'CRS:84' ? 'OGC:CRS84' : crsParam.toUpperCase();
  if (!allowed.has(crsParam.toUpperCase())) {
    throw new WmsException('InvalidCRS', `CRS=${crsParam}: use one of ${[...allowed].join(', ')}`);
  }
  const parts = required(q, 'bbox').split(',');
  const values = parts.map(Number);
  if (parts.length !== 4 || values.some((v, i) => parts[i].trim() === '' || !Number.isFinite(v))) {
    throw new WmsException(undefined, `BBOX=${q.get('bbox')}: four numbers minx,miny,maxx,maxy in the CRS's axis order`);
  }
  const latFirst = crs !== 'OGC:CRS84' && ogcCrs(crs).latFirst;
  const bbox: Bbox = latFirst ? [values[1], values[0], values[3], values[2]] : [values[0], values[1], values[2], values[3]];
  if (bbox[0] >= bbox[2] || bbox[1] >= bbox[3])
    throw new WmsException(undefined, `BBOX=${q.get('bbox')}: each minimum must be below its maximum`);
  return { crs, bbox, width: mapSide(q, 'width', limit), height: mapSide(q, 'height', limit) };
}

function checkStyles(q: Map<string, string>, count: number): void {
  const styles = q.get('styles');
  if (styles === undefined) throw new WmsException(undefined, 'STYLES is required (empty for the default style)');
  for (const s of styles.split(',')) {
    if (s !== '' && s.toLowerCase() !== 'normal' && s.toLowerCase() !== 'default')
      throw new WmsException('StyleNotDefined', `STYLES=${styles}: the style is 'normal'`);
  }
  if (styles !== '' && styles.split(',').length !== count)
    throw new WmsException(undefined, 'STYLES must name one style per layer, or be empty');
}

/** 0xRRGGBB (06-042 §7.3.3.10), default white. */
function background(q: Map<string, string>): [number, number, number] {
  const raw = q.get('bgcolor');
  if (raw === undefined) return [255, 255, 255];
  const m = /^0x([0-9a-f]{6})$/i.exec(raw);
  if (!m) throw new WmsException(undefined, `BGCOLOR=${raw}: 0xRRGGBB`);
  const v = Number.parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

async function getMap(q: Map<string, string>, ctx: ServiceContext): Promise<ServiceResponse> {
  const version = q.get('version');
  if (version !== undefined && version !== '1.3.0') throw new WmsException(undefined, `VERSION=${version}: this server speaks WMS 1.3.0`);
  const layers = layersOf(q, ctx, 'layers');
  checkStyles(q, layers.length);
  const format = required(q, 'format').toLowerCase().split(';')[0].trim() as (typeof WMS_FORMATS)[number];
  if (!WMS_FORMATS.includes(format)) throw new WmsException('InvalidFormat', `FORMAT=${q.get('format')}: use ${WMS_FORMATS.join(', ')}`);
  for (const l of layers) {
    if (l.format.sampleType !== 'uint8') {
      throw new WmsException(
        'InvalidFormat',
        `layer '${l.name}' holds ${l.format.sampleType} values (a DTM): read its tiles through WMTS, TMS or OGC API – Tiles`,
      );
    }
  }
  const grid = mapGrid(q, layers, maxSize(ctx));
  const transparent = (q.get('transparent') ?? 'FALSE').toUpperCase() === 'TRUE';
  const bg = background(q);

  // Drawn and encoded under the gate: the canvas lives until the image is encoded.
  const gate = ctx.wms?.gate ?? DEFAULT_GATE;
  const draw = ctx.wms?.draw ?? drawOnThisThread;
  const drawn = await gate.run(() => draw(layers, grid, { format, transparent, bg }));
  if (!drawn) throw new WmsException(undefined, 'the server is drawing too many maps: retry later', 503);
  const image = drawn.value;
  return { status: 200, headers: { 'Content-Type': format, 'Cache-Control': 'public, max-age=60', ...CORS_HEADERS }, body: image };
}

/** GetFeatureInfo (06-042 §7.4): the pixel values of the queried layers at I/J of the map described. */
async function getFeatureInfo(q: Map<string, string>, ctx: ServiceContext): Promise<ServiceResponse> {
  const layers = layersOf(q, ctx, 'layers');
  const queried = layersOf(q, ctx, 'query_layers');
  for (const l of queried) {
    if (!layers.includes(l)) throw new WmsException('LayerNotDefined', `QUERY_LAYERS names '${l.name}', which LAYERS does not`);
  }
  const grid = mapGrid(q, layers, maxSize(ctx));
  const infoFormat = q.get('info_format') ?? INFO_FORMATS[0].mime;
  if (!INFO_FORMATS.some((f) => f.mime === infoFormat)) {
    throw new WmsException('InvalidFormat', `INFO_FORMAT=${infoFormat}: use ${INFO_FORMATS.map((f) => f.mime).join(', ')}`);
  }
  const pixel = (name: string, size: number) => {
    const raw = required(q, name);
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || v >= size)
      throw new WmsException('InvalidPoint', `${name.toUpperCase()}=${raw}: a pixel of the map (0..${size - 1})`);
    return v;
  };
  const i = pixel('i', grid.width);
  const j = pixel('j', grid.height);
  // The map pixel's centre, in the map CRS.
  const [x0, y0, x1, y1] = grid.bbox;
  const x = x0 + ((i + 0.5) * (x1 - x0)) / grid.width;
  const y = y1 - ((j + 0.5) * (y1 - y0)) / grid.height;
  const layer = queried[0];
  const asked = requestInTms(layer, grid);
  const level = asked ? closestLevel(layer, asked.resolution) : layer.levels.at(-1)!;
  let at: Bbox = [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  try {
    at = transformBbox([x, y, x, y], grid.crs, layer.tms.crs, 2);
  } catch {
    // A point the layer's CRS cannot hold: no data there.
  }
  const tm = tileMatrix(layer.tms, level.id);
  const px = Math.floor((at[0] - tm.pointOfOrigin[0]) / tm.cellSize);
  const py = Math.floor((tm.pointOfOrigin[1] - at[1]) / tm.cellSize);
  const col = Math.floor(px / tm.tileWidth);
  const row = Math.floor(py / tm.tileHeight);
  const l = level.limits;
  let body: string;
  if (!Number.isFinite(px) || col < l.min_col || col > l.max_col || row < l.min_row || row > l.max_row) {
    body = renderPixelInfo(
      { layer: layer.name, tileMatrix: level.id, tileRow: row, tileCol: col, i: 0, j: 0, lonLat: [Number.NaN, Number.NaN], values: null },
      infoFormat,
    );
  } else {
    const info = await pixelInfo(layer, level.id, col, row, px - col * tm.tileWidth, py - row * tm.tileHeight);
    body = renderPixelInfo(info, infoFormat);
  }
  const type = infoFormat === 'application/json' ? infoFormat : `${infoFormat}; charset=utf-8`;
  return { status: 200, headers: { 'Content-Type': type, ...CORS_HEADERS }, body };
}

export type { ServiceRequest };
