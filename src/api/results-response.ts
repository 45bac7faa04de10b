import { randomBytes } from 'node:crypto';
import type { ApiResponse } from './request.js';
import { documentValue, type OutputData } from '../manager/outputs.js';

/** What the client asked about outputs (from the execute request). */
export interface ResultsShape {
  outputs: Record<string, { transmissionMode: 'value' | 'reference' }>;
  response: 'raw' | 'document';
}

/**
 * Builds the answer of a sync execution or of GET /jobs/{id}/results from the outputs, following the
 * table "mapping execute responses" of OGC 18-062r2 clause 7 (ogcapi-processes.md §2 Core):
 * raw + one value → the value itself; raw + several values → multipart/related; raw + only
 * references → 204 with one Link header per output; raw + mixed → multipart with empty reference
 * parts carrying Content-Location; document → a results.yaml map output id → value or link.
 */
export function buildResultsResponse(
  shape: ResultsShape,
  outputs: Record<string, OutputData>,
  linkFor: (outputId: string) => string,
): ApiResponse {
  const ids = Object.keys(shape.outputs).filter((id) => id in outputs);
  const byRef = (id: string) => shape.outputs[id].transmissionMode === 'reference';
  if (shape.response === 'document') {
    const body: Record<string, unknown> = {};
    for (const id of ids) {
      body[id] = byRef(id) ? { href: linkFor(id), type: outputs[id].mediaType, rel: 'related', title: id } : documentValue(outputs[id]);
    }
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body };
  }
  if (ids.length > 0 && ids.every(byRef)) {
    return {
      status: 204,
      headers: { Link: ids.map((id) => `<${linkFor(id)}>; rel="related"; type="${outputs[id].mediaType}"; title="${id}"`) },
    };
  }
  if (ids.length === 1) {
    const o = outputs[ids[0]];
    return { status: 200, headers: { 'Content-Type': o.mediaType }, body: o.bytes };
  }
  const boundary = `dallage-${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const id of ids) {
    const o = outputs[id];
    const head = byRef(id)
      ? `--${boundary}\r\nContent-ID: <${id}>\r\nContent-Type: ${o.mediaType}\r\nContent-Location: ${linkFor(id)}\r\n\r\n`
      : `--${boundary}\r\nContent-ID: <${id}>\r\nContent-Type: ${o.mediaType}\r\n\r\n`;
    parts.push(Buffer.from(head, 'utf8'));
    if (!byRef(id)) parts.push(o.bytes);
    parts.push(Buffer.from('\r\n', 'utf8'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return { status: 200, headers: { 'Content-Type': `multipart/related; boundary=${boundary}` }, body: Buffer.concat(parts) };
}
