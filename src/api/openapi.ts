import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../runtime.js';
import { MEDIA } from './conformance.js';
import { escapeHtml, layout } from './html/layout.js';
import { DESCRIPTION, TITLE } from './landing.js';
import { COMPONENT_HEADERS, COMPONENT_PARAMETERS, PATH_PARAMETERS, executeOperation } from './operations.js';
import type { QueryParameter } from './query-parameters.js';
import { COMPONENT_SCHEMAS } from './openapi-schemas.js';
import type { ApiRequest, ApiResponse } from './request.js';
import type { Route } from './routes.js';

type Obj = Record<string, unknown>;

/** An OpenAPI 3.0 document (loosely typed: it is data for clients). */
export interface OpenapiDocument {
  openapi: string;
  info: Obj;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Obj>>;
  components: { schemas: Record<string, Obj>; parameters: Record<string, Obj>; headers: Record<string, Obj> };
  [member: string]: unknown;
}

const VERSION = readOwnVersion();

/** Our package version, from package.json beside src/ (tsx) or dist/src/ (build). */
function readOwnVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dallage' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return '0.0.0';
}

const pref = (name: string): Obj => ({ $ref: `#/components/parameters/${name}` });

/** The path parameters of a template (`/jobs/{jobId}` → jobId), shared ones by reference. */
function pathParameters(template: string): Obj[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map(([, name]) =>
    PATH_PARAMETERS[name] ? pref(PATH_PARAMETERS[name]) : { name, in: 'path', required: true, schema: { type: 'string' } },
  );
}

/** A route's operation with its path and query parameters (query ones as the route declares them). */
function operationOf(route: Route): Obj {
  const own = (route.operation.parameters as Obj[] | undefined) ?? [];
  const query = (route.query ?? []).map((q: QueryParameter) => (typeof q === 'string' ? pref(q) : q));
  const parameters = [...pathParameters(route.path), ...query, ...own];
  return { ...route.operation, ...(parameters.length ? { parameters } : {}) };
}

/**
 * The OpenAPI 3.0 definition (conformance class oas30): every route of the route table with its
 * methods, parameters and status codes, plus one execution path per process whose request body
 * is built from the process's input schemas. No security scheme: the API has no authentication.
 */
export function buildOpenapi(rt: Pick<Runtime, 'registry'>, routes: readonly Route[], baseUrl: string): OpenapiDocument {
  const paths: OpenapiDocument['paths'] = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operationOf(route);
  // Concrete paths are matched before templated ones (OAS 3.0 §4.7.8), so clients find each
  // process's own request schema here.
  for (const p of rt.registry.all()) {
    paths[`/processes/${p.description.id}/execution`] = { post: executeOperation(p.description) };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: TITLE,
      version: VERSION,
      description: `${DESCRIPTION}. Implements OGC API – Processes – Part 1: Core 1.0 (OGC 18-062r2). Every GET operation also answers HEAD. There is no authentication.`,
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    servers: [{ url: baseUrl }],
    // No authentication (conformance class oas30 asks that security be documented).
    security: [],
    tags: [
      { name: 'Capabilities', description: 'Landing page, conformance, API definition' },
      { name: 'Processes', description: 'Process descriptions and execution' },
      { name: 'Jobs', description: 'Job status, results, dismiss, job list' },
      { name: 'Stored data', description: 'Pyramids and COG catalogs kept by the server' },
    ],
    paths,
    components: { schemas: COMPONENT_SCHEMAS, parameters: COMPONENT_PARAMETERS, headers: COMPONENT_HEADERS },
  };
}

/** Documents per runtime and base URL: the registry does not change at run time. */
const cache = new WeakMap<object, Map<string, { doc: OpenapiDocument; html?: string }>>();

function cached(rt: Runtime, routes: readonly Route[], baseUrl: string): { doc: OpenapiDocument; html?: string } {
  let byUrl = cache.get(rt);
  if (!byUrl) cache.set(rt, (byUrl = new Map()));
  let entry = byUrl.get(baseUrl);
  if (!entry) {
    // Bounded: a server behind several Host names has a few base URLs, not thousands.
    if (byUrl.size >= 32) byUrl.clear();
    byUrl.set(baseUrl, (entry = { doc: buildOpenapi(rt, routes, baseUrl) }));
  }
  return entry;
}

/** GET /api: the OpenAPI 3.0 definition as `application/vnd.oai.openapi+json;version=3.0`. */
export async function openapiDocument(req: ApiRequest, rt: Runtime, routes: readonly Route[]): Promise<ApiResponse> {
  return { status: 200, headers: { 'Content-Type': MEDIA.openapi }, body: cached(rt, routes, req.baseUrl).doc };
}

/** GET /api.html: the same definition as a readable page. */
export async function openapiHtml(req: ApiRequest, rt: Runtime, routes: readonly Route[]): Promise<ApiResponse> {
  const entry = cached(rt, routes, req.baseUrl);
  entry.html ??= renderOpenapiHtml(entry.doc, req);
  return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: entry.html };
}

// ---------------------------------------------------------------------------------------------
// HTML rendering

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Follows an internal `#/components/...` reference. */
function deref(doc: OpenapiDocument, value: unknown): Obj {
  let v = value as Obj;
  for (let i = 0; i < 10 && typeof v?.$ref === 'string' && v.$ref.startsWith('#/'); i++) {
    v = v.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>((o, k) => (o as Obj | undefined)?.[k], doc) as Obj;
  }
  return v ?? {};
}

/** A one-line reading of a schema: component name, type, enum, bounds. */
function schemaText(schema: Obj | undefined): string {
  if (!schema) return '';
  if (typeof schema.$ref === 'string') return schema.$ref.split('/').pop()!;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Obj[]).map(schemaText).filter(Boolean).join(' | ');
  if (Array.isArray(schema.oneOf)) return (schema.oneOf as Obj[]).map(schemaText).filter(Boolean).join(' | ');
  if (Array.isArray(schema.allOf)) return (schema.allOf as Obj[]).map(schemaText).filter(Boolean).join(' & ');
  if (typeof schema.title === 'string' && schema.type === 'object') return schema.title;
  let text = String(schema.type ?? 'any');
  if (schema.type === 'array') text = `array of ${schemaText(schema.items as Obj) || 'any'}`;
  if (schema.format) text += ` (${schema.format})`;
  if (Array.isArray(schema.enum)) text += `: ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  const bounds = [
    schema.minimum !== undefined ? `≥ ${schema.minimum}` : '',
    schema.maximum !== undefined ? `≤ ${schema.maximum}` : '',
    schema.default !== undefined ? `default ${JSON.stringify(schema.default)}` : '',
  ].filter(Boolean);
  return bounds.length ? `${text}, ${bounds.join(', ')}` : text;
}

function anchor(method: string, p: string): string {
  return `${method}-${p}`.replace(/[^A-Za-z0-9_-]+/g, '-');
}

function parametersHtml(doc: OpenapiDocument, params: unknown[]): string {
  if (!params.length) return '';
  const rows = params
    .map((raw) => deref(doc, raw))
    .map((p) => {
      const schema = deref(doc, p.schema);
      const items = schema.type === 'array' ? deref(doc, schema.items) : undefined;
      const type = items ? `list of ${schemaText(items)} (comma-separated)` : schemaText(schema);
      return `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(type)}</td><td>${escapeHtml(String(p.description ?? ''))}</td></tr>`;
    })
    .join('');
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th></tr>${rows}</table>`;
}

function requestBodyHtml(doc: OpenapiDocument, op: Obj): string {
  const body = op.requestBody as Obj | undefined;
  if (!body) return '';
  const content = (body.content ?? {}) as Record<string, Obj>;
  const parts = Object.entries(content).map(([type, media]) => {
    const schema = deref(doc, media.schema);
    const inputs = deref(doc, (schema.properties as Obj | undefined)?.inputs) as Obj;
    const inputProps = (inputs.properties ?? {}) as Record<string, Obj>;
    const required = new Set((inputs.required as string[] | undefined) ?? []);
    const inputRows = Object.entries(inputProps)
      .map(([id, s]) => {
        const forms = (s.anyOf as Obj[] | undefined) ?? [];
        const value = forms[0]?.anyOf ? (forms[0].anyOf as Obj[])[0] : forms[0];
        return `<tr><td><code>${escapeHtml(id)}</code></td><td>${required.has(id) ? 'yes' : 'no'}</td><td>${escapeHtml(schemaText(value))}</td><td>${escapeHtml(String(s.description ?? s.title ?? ''))}</td></tr>`;
      })
      .join('');
    const inputsTable = inputRows
      ? `<p>Inputs (each by value, as <code>{"value": …, "mediaType": …}</code>, or by reference <code>{"href": …}</code>):</p><table><tr><th>input</th><th>required</th><th>value</th><th>description</th></tr>${inputRows}</table>`
      : `<p>Schema: <code>${escapeHtml(schemaText(media.schema as Obj))}</code></p>`;
    const example = media.example !== undefined ? `<p>Example:</p><pre>${escapeHtml(JSON.stringify(media.example, null, 2))}</pre>` : '';
    return `<p>Body <code>${escapeHtml(type)}</code>${body.description ? ` – ${escapeHtml(String(body.description))}` : ''}</p>${inputsTable}${example}`;
  });
  return `<h4>Request body</h4>${parts.join('')}`;
}

function responsesHtml(doc: OpenapiDocument, op: Obj): string {
  const rows = Object.entries((op.responses ?? {}) as Record<string, Obj>)
    .map(([status, r]) => {
      const media = Object.entries((r.content ?? {}) as Record<string, Obj>)
        .map(([type, m]) => `<code>${escapeHtml(type)}</code>${m.schema ? ` ${escapeHtml(schemaText(m.schema as Obj))}` : ''}`)
        .join('<br>');
      const headers = Object.keys((r.headers ?? {}) as Obj).map((h) => `<code>${escapeHtml(h)}</code>`).join(', ');
      return `<tr><td>${escapeHtml(status)}</td><td>${escapeHtml(String(r.description ?? ''))}</td><td>${media}</td><td>${headers}</td></tr>`;
    })
    .join('');
  return `<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th><th>headers</th></tr>${rows}</table>`;
}

/** The documentation page: an index, then each operation with parameters, body and responses. */
export function renderOpenapiHtml(doc: OpenapiDocument, req: ApiRequest): string {
  const ops: Array<{ method: string; path: string; op: Obj }> = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ method, path: p, op: item[method] });
  }
  const index = ops
    .map(({ method, path: p, op }) => `<tr><td><code>${method.toUpperCase()}</code></td><td><a href="#${anchor(method, p)}"><code>${escapeHtml(p)}</code></a></td><td>${escapeHtml(String(op.summary ?? ''))}</td></tr>`)
    .join('');
  const sections = ops
    .map(({ method, path: p, op }) => {
      const description = op.description ? `<p>${escapeHtml(String(op.description))}</p>` : '';
      return `<section id="${anchor(method, p)}"><h3><code>${method.toUpperCase()} ${escapeHtml(p)}</code> – ${escapeHtml(String(op.summary ?? ''))}</h3>${description}${parametersHtml(doc, (op.parameters as unknown[]) ?? [])}${requestBodyHtml(doc, op)}${responsesHtml(doc, op)}</section>`;
    })
    .join('\n');
  const info = doc.info as { title: string; version: string; description?: string };
  const body = `<h1>${escapeHtml(info.title)} API <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description ?? '')}</p>
<p>Server: <code>${escapeHtml(doc.servers[0]?.url ?? '')}</code>. Machine-readable definition: <a href="${escapeHtml(req.baseUrl)}/api">OpenAPI 3.0 (JSON)</a>. Authentication: none.</p>
<h2>Operations</h2><table><tr><th>method</th><th>path</th><th>summary</th></tr>${index}</table>
<h2>Details</h2>
${sections}`;
  return layout(req, 'API', body);
}
