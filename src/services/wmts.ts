/**
 * WMTS 1.0.0 (OGC 07-057r7): KVP GetCapabilities, GetTile and GetFeatureInfo at `/wmts`, and the RESTful
 * resources `/wmts/1.0.0/WMTSCapabilities.xml`, `/wmts/1.0.0/{layer}/{style}/{TileMatrixSet}/{TileMatrix}/
 * {TileRow}/{TileCol}.{ext}` and its FeatureInfo `…/{TileCol}/{J}/{I}.{ext}`, announced in the
 * capabilities. Errors are OWS ExceptionReports with the status of 07-057r7's tables.
 */
import { INFO_FORMATS, pixelInfo, renderPixelInfo } from './feature-info.js';
import type { PublishedLayer } from './layer.js';
import { owsExceptionReport, ServiceException } from './ows-exception.js';
import { logFailure, type ServiceContext, type ServiceHandler } from './service-context.js';
import { cacheableDocument, kvp, parseIndex, type ServiceRequest, type ServiceResponse } from './service-http.js';
import { formatByExtension, formatByMime, type OfferedFormat } from './tile-formats.js';
import { requestFilter, TileFilterError, type TileFilter } from './tile-filter.js';
import { readLayerTile, tileResponse } from './tile-source.js';
import { WMTS_STYLE, wmtsCapabilities } from './wmts-capabilities.js';

/** Styles a request may name: ours, and what clients send when they do not read the capabilities. */
const ACCEPTED_STYLES = new Set([WMTS_STYLE, 'default', '']);

interface TileAddress {
  layer: PublishedLayer;
  level: string;
  row: number;
  col: number;
}

/** GET /wmts?SERVICE=WMTS&REQUEST=… */
export const wmtsKvp: ServiceHandler = (req, ctx) =>
  answer(req, ctx, async () => {
    const q = kvp(req.query);
    const service = q.get('service');
    if (service === undefined) throw new ServiceException('MissingParameterValue', 'SERVICE is required (WMTS)', 'service');
    if (service.toUpperCase() !== 'WMTS')
      throw new ServiceException('InvalidParameterValue', `SERVICE=${service}: this is a WMTS`, 'service');
    const request = q.get('request');
    if (request === undefined) throw new ServiceException('MissingParameterValue', 'REQUEST is required', 'request');
    if (request === 'GetCapabilities') {
      const accept = q.get('acceptversions');
      if (
        accept !== undefined &&
        !accept
          .split(',')
          .map((v) => v.trim())
          .includes('1.0.0')
      ) {
        throw new ServiceException('VersionNegotiationFailed', `AcceptVersions=${accept}: only 1.0.0 is offered`, 'acceptversions');
      }
      return capabilities(req, ctx);
    }
    if (request !== 'GetTile' && request !== 'GetFeatureInfo') {
      throw new ServiceException('OperationNotSupported', `REQUEST=${request}: use GetCapabilities, GetTile or GetFeatureInfo`, 'request');
    }
    const version = required(q, 'version');
    if (version !== '1.0.0') throw new ServiceException('InvalidParameterValue', `VERSION=${version}: only 1.0.0 is offered`, 'version');
    const address = tileAddress(
      ctx,
      required(q, 'layer'),
      required(q, 'style'),
      required(q, 'tilematrixset'),
      required(q, 'tilematrix'),
      required(q, 'tilerow'),
      required(q, 'tilecol'),
    );
    if (request === 'GetTile') {
      const mime = required(q, 'format');
      const format = formatByMime(address.layer.formats, mime);
      if (!format)
        throw new ServiceException('InvalidParameterValue', `FORMAT=${mime} is not offered by layer ${address.layer.name}`, 'format');
      return tile(req, ctx, address, format);
    }
    const infoFormat = required(q, 'infoformat');
    if (!INFO_FORMATS.some((f) => f.mime === infoFormat)) {
      throw new ServiceException(
        'InvalidParameterValue',
        `INFOFORMAT=${infoFormat}: use ${INFO_FORMATS.map((f) => f.mime).join(', ')}`,
        'infoformat',
      );
    }
    return featureInfo(address, required(q, 'i'), required(q, 'j'), infoFormat);
  });

/** GET /wmts/1.0.0/WMTSCapabilities.xml */
export const wmtsRestCapabilities: ServiceHandler = (req, ctx) => answer(req, ctx, async () => capabilities(req, ctx));

/** GET /wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}.{ext} */
export const wmtsRestTile: ServiceHandler = (req, ctx) =>
  answer(req, ctx, async () => {
    const p = req.params;
    const address = tileAddress(ctx, p.layer, p.style, p.tileMatrixSet, p.tileMatrix, p.tileRow, p.tileCol);
    const format = formatByExtension(address.layer.formats, p.ext);
    if (!format) {
      throw new ServiceException(
        'InvalidParameterValue',
        `.${p.ext} is not offered by layer ${address.layer.name}: ` +
          `use ${address.layer.formats.map((f) => `.${f.extensions[0]}`).join(', ')}`,
        'format',
      );
    }
    return tile(req, ctx, address, format);
  });

/** GET /wmts/1.0.0/{layer}/{style}/{tileMatrixSet}/{tileMatrix}/{tileRow}/{tileCol}/{j}/{i}.{ext} */
export const wmtsRestFeatureInfo: ServiceHandler = (req, ctx) =>
  answer(req, ctx, async () => {
    const p = req.params;
    const address = tileAddress(ctx, p.layer, p.style, p.tileMatrixSet, p.tileMatrix, p.tileRow, p.tileCol);
    const format = INFO_FORMATS.find((f) => f.extension === p.ext.toLowerCase());
    if (!format)
      throw new ServiceException(
        'InvalidParameterValue',
        `.${p.ext}: use ${INFO_FORMATS.map((f) => `.${f.extension}`).join(', ')}`,
        'format',
      );
    return featureInfo(address, p.i, p.j, format.mime);
  });

async function answer(req: ServiceRequest, ctx: ServiceContext, run: () => Promise<ServiceResponse>): Promise<ServiceResponse> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ServiceException) return owsExceptionReport(err);
    // No internal text to clients (project rule): it goes to the log.
    logFailure(ctx, req, err);
    return owsExceptionReport(new ServiceException('NoApplicableCode', 'the tile could not be read'));
  }
}

function required(q: Map<string, string>, name: string): string {
  const v = q.get(name);
  if (v === undefined || (v === '' && name !== 'style')) {
    throw new ServiceException('MissingParameterValue', `${name.toUpperCase()} is required`, name);
  }
  return v;
}

function capabilities(req: ServiceRequest, ctx: ServiceContext): ServiceResponse {
  return cacheableDocument(req, Buffer.from(wmtsCapabilities(req.baseUrl, ctx.layers.list()), 'utf8'), 'application/xml');
}

/** Checks layer, style, TMS, level and indices in the order of 07-057r7 Table 24; rows/cols inside the matrix. */
function tileAddress(
  ctx: ServiceContext,
  layerName: string,
  style: string,
  tms: string,
  level: string,
  rowText: string,
  colText: string,
): TileAddress {
  const layer = ctx.layers.get(layerName);
  if (!layer) throw new ServiceException('InvalidParameterValue', `no layer named ${layerName}`, 'layer');
  if (!ACCEPTED_STYLES.has(style))
    throw new ServiceException('InvalidParameterValue', `STYLE=${style}: the layer's style is ${WMTS_STYLE}`, 'style');
  if (tms !== layer.tms.id) {
    throw new ServiceException('InvalidParameterValue', `TILEMATRIXSET=${tms}: layer ${layer.name} is in ${layer.tms.id}`, 'tilematrixset');
  }
  const lv = layer.level(level);
  if (!lv) {
    throw new ServiceException(
      'InvalidParameterValue',
      `TILEMATRIX=${level}: layer ${layer.name} has levels ` + `${layer.levels[0].id} to ${layer.levels[layer.levels.length - 1].id}`,
      'tilematrix',
    );
  }
  const row = parseIndex(rowText);
  if (row === undefined) throw new ServiceException('InvalidParameterValue', `TILEROW=${rowText} is not a non-negative integer`, 'tilerow');
  const col = parseIndex(colText);
  if (col === undefined) throw new ServiceException('InvalidParameterValue', `TILECOL=${colText} is not a non-negative integer`, 'tilecol');
  if (row >= lv.tm.matrixHeight)
    throw new ServiceException('TileOutOfRange', `TILEROW=${row}: level ${level} has rows 0 to ${lv.tm.matrixHeight - 1}`, 'tilerow');
  if (col >= lv.tm.matrixWidth)
    throw new ServiceException('TileOutOfRange', `TILECOL=${col}: level ${level} has columns 0 to ${lv.tm.matrixWidth - 1}`, 'tilecol');
  return { layer, level, row, col };
}

async function tile(req: ServiceRequest, ctx: ServiceContext, a: TileAddress, format: OfferedFormat): Promise<ServiceResponse> {
  let filter: TileFilter | undefined;
  try {
    filter = requestFilter(a.layer, req.query);
  } catch (err) {
    if (err instanceof TileFilterError) throw new ServiceException('InvalidParameterValue', err.message, 'filter');
    throw err;
  }
  const t = await readLayerTile(a.layer, a.level, a.col, a.row, format, filter, ctx.layers.tiles);
  // tileAddress checked level and ranges against the same layer object.
  if (t.kind !== 'tile') throw new Error(`unexpected ${t.kind}`);
  return tileResponse(req, t);
}

async function featureInfo(a: TileAddress, iText: string, jText: string, mime: string): Promise<ServiceResponse> {
  const tm = a.layer.level(a.level)!.tm;
  const i = parseIndex(iText);
  if (i === undefined || i >= tm.tileWidth) throw new ServiceException('PointIJOutOfRange', `I=${iText}: 0 to ${tm.tileWidth - 1}`, 'i');
  const j = parseIndex(jText);
  if (j === undefined || j >= tm.tileHeight) throw new ServiceException('PointIJOutOfRange', `J=${jText}: 0 to ${tm.tileHeight - 1}`, 'j');
  const body = renderPixelInfo(await pixelInfo(a.layer, a.level, a.col, a.row, i, j), mime);
  return {
    status: 200,
    headers: { 'Content-Type': mime === 'application/json' ? mime : `${mime}; charset=utf-8`, 'Access-Control-Allow-Origin': '*' },
    body,
  };
}
