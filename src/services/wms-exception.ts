/**
 * WMS 1.3.0 service exceptions (OGC 06-042 §6.11 and Annex A.4: ServiceExceptionReport, version 1.3.0,
 * with the codes of Table E.1 — a missing or malformed parameter has no code).
 */
import { CORS_HEADERS, xmlEscape, type ServiceResponse } from './service-http.js';

export type WmsExceptionCode =
  | 'InvalidFormat'
  | 'InvalidCRS'
  | 'LayerNotDefined'
  | 'StyleNotDefined'
  | 'LayerNotQueryable'
  | 'InvalidPoint'
  | 'OperationNotSupported';

export class WmsException extends Error {
  constructor(
    readonly code: WmsExceptionCode | undefined,
    message: string,
    readonly status = code === 'OperationNotSupported' ? 501 : code === 'LayerNotDefined' ? 404 : 400,
  ) {
    super(message);
    this.name = 'WmsException';
  }
}

export function wmsExceptionReport(e: WmsException): ServiceResponse {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ServiceExceptionReport version="1.3.0" xmlns="http://www.opengis.net/ogc" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
    'xsi:schemaLocation="http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd">\n' +
    `  <ServiceException${e.code ? ` code="${e.code}"` : ''}>${xmlEscape(e.message)}</ServiceException>\n` +
    '</ServiceExceptionReport>\n';
  return { status: e.status, headers: { 'Content-Type': 'text/xml', ...CORS_HEADERS }, body };
}
