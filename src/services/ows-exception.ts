/**
 * OGC exception reports of the XML services: OWS 1.1 ExceptionReport for WMTS (OGC 06-121r3 §8, WMTS 1.0
 * 07-057r7 §8.2, §10.2 for the codes and their HTTP statuses).
 */
import { CORS_HEADERS, xmlEscape, type ServiceResponse } from './service-http.js';

/** OWS / WMTS exception codes and the HTTP status each is sent with (07-057r7 Table 28, 06-121r3 Table 28). */
export const OWS_EXCEPTION_STATUS = {
  OperationNotSupported: 501,
  MissingParameterValue: 400,
  InvalidParameterValue: 400,
  VersionNegotiationFailed: 400,
  InvalidUpdateSequence: 400,
  TileOutOfRange: 400,
  PointIJOutOfRange: 400,
  NoApplicableCode: 500,
} as const;

export type OwsExceptionCode = keyof typeof OWS_EXCEPTION_STATUS;

/** Thrown inside a service handler; the handler turns it into its own exception document. */
export class ServiceException extends Error {
  constructor(
    readonly code: OwsExceptionCode,
    message: string,
    readonly locator?: string,
  ) {
    super(message);
    this.name = 'ServiceException';
  }
}

export function owsExceptionReport(e: ServiceException, status: number = OWS_EXCEPTION_STATUS[e.code]): ServiceResponse {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ExceptionReport xmlns="http://www.opengis.net/ows/1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
    'xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd" ' +
    'version="1.0.0" xml:lang="en">\n' +
    `  <Exception exceptionCode="${e.code}"${e.locator ? ` locator="${xmlEscape(e.locator)}"` : ''}>\n` +
    `    <ExceptionText>${xmlEscape(e.message)}</ExceptionText>\n  </Exception>\n</ExceptionReport>\n`;
  return { status, headers: { 'Content-Type': 'application/xml', ...CORS_HEADERS }, body };
}
