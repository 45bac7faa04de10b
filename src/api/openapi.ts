import type { Runtime } from '../runtime.js';
import { MEDIA } from './conformance.js';
import { escapeHtml, layout } from './html/layout.js';
import type { ApiRequest, ApiResponse } from './request.js';

/** GET /api: the OpenAPI 3.0 definition, generated from the routes and the process descriptions. */
export async function openapiDocument(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  return { status: 200, headers: { 'Content-Type': MEDIA.openapi }, body: buildOpenapi(rt, req.baseUrl) };
}

/** GET /api.html: readable API documentation. */
export async function openapiHtml(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const doc = buildOpenapi(rt, req.baseUrl) as { paths: Record<string, Record<string, { summary?: string }>> };
  const rows = Object.entries(doc.paths)
    .flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${escapeHtml(p)}</code></td><td>${escapeHtml(op.summary ?? '')}</td></tr>`))
    .join('');
  return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: layout(req, 'API', `<h1>API</h1><table>${rows}</table>`) };
}

export function buildOpenapi(rt: Runtime, baseUrl: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    '/': { get: { summary: 'Landing page', responses: { 200: { description: 'landing page' } } } },
    '/conformance': { get: { summary: 'Conformance classes', responses: { 200: { description: 'conformance' } } } },
    '/processes': { get: { summary: 'Processes', responses: { 200: { description: 'process list' } } } },
    '/jobs': { get: { summary: 'Jobs', responses: { 200: { description: 'job list' } } } },
  };
  for (const p of rt.registry.all()) {
    paths[`/processes/${p.description.id}/execution`] = { post: { summary: `Execute ${p.description.id}`, responses: { 200: { description: 'results' } } } };
  }
  return { openapi: '3.0.3', info: { title: 'dallage', version: '0.1.0' }, servers: [{ url: baseUrl }], paths };
}
