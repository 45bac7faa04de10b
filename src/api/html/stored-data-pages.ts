import type { ApiRequest } from '../request.js';
import type { StoredData } from '../../records/stored-data.js';
import { escapeHtml, layout } from './layout.js';
import { generic, humanBytes, linksSection, shortDate, type Link } from './generic.js';

type StoredDoc = StoredData & {
  links?: Link[];
  /** Configurations that use it, and their offering when published (HTML pages only). */
  published?: Array<{ configuration: string; name: string; layer_name: string; offering?: string }>;
};

function itemPage(req: ApiRequest, id: string): string {
  return `${req.baseUrl}/stored_data/${encodeURIComponent(id)}?f=html`;
}

function jobLink(req: ApiRequest, jobId: string | undefined): string {
  return jobId
    ? `<a href="${escapeHtml(`${req.baseUrl}/jobs/${encodeURIComponent(jobId)}?f=html`)}"><code>${escapeHtml(jobId.slice(0, 8))}…</code></a>`
    : '';
}

/** GET /stored_data as HTML. */
export function storedDataListPage(doc: { stored_data?: StoredDoc[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.stored_data ?? [])
    .map(
      (s) =>
        `<tr><td><a href="${escapeHtml(itemPage(req, s._id))}">${escapeHtml(s.name)}</a></td><td>${escapeHtml(s.type)}</td><td>${escapeHtml(s.status)}</td><td>${humanBytes(s.size)}</td><td>${shortDate(s.created)}</td><td>${shortDate(s.updated)}</td><td>${jobLink(req, s.jobId)}</td><td><a href="${escapeHtml(`${req.baseUrl}/stored_data/${encodeURIComponent(s._id)}/dependencies?f=html`)}">dependencies</a></td></tr>`,
    )
    .join('');
  const body = `<h1>Stored data</h1>
<p class="lead">Pyramids and other products kept by this server.</p>
<table><thead><tr><th>Name</th><th>Type</th><th>Status</th><th>Size</th><th>Created</th><th>Updated</th><th>Job</th><th>Links</th></tr></thead>
<tbody>${rows || '<tr><td colspan="8" class="muted">no stored data</td></tr>'}</tbody></table>
${linksSection(doc.links)}`;
  return layout(req, 'Stored data', body);
}

interface LevelInfo {
  id: string;
  tile_limits?: { min_col: number; max_col: number; min_row: number; max_row: number };
}

/** A pyramid's levels as one compact table: columns, rows and tile count per level. */
function levelsTable(levels: LevelInfo[]): string {
  const rows = levels
    .map((l) => {
      const t = l.tile_limits;
      const tiles = t ? (t.max_col - t.min_col + 1) * (t.max_row - t.min_row + 1) : undefined;
      const range = (a?: number, b?: number) => (a === undefined ? '' : `${a} – ${b}`);
      return `<tr><td><code>${escapeHtml(String(l.id))}</code></td><td>${range(t?.min_col, t?.max_col)}</td><td>${range(t?.min_row, t?.max_row)}</td><td>${tiles ?? ''}</td></tr>`;
    })
    .join('');
  return `<table class="levels"><thead><tr><th>Level</th><th>Columns</th><th>Rows</th><th>Tiles</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** GET /stored_data/{id} as HTML. */
export function storedDataItemPage(doc: StoredDoc, req: ApiRequest): string {
  const { links, type_infos, storage, use, published, ...fields } = doc;
  const rows = Object.entries(fields)
    .map(([k, v]) => {
      let cell = escapeHtml(String(v));
      if (k === 'size') cell = `${humanBytes(v)} <small class="muted">(${escapeHtml(String(v))} bytes)</small>`;
      else if (k === 'created' || k === 'updated') cell = shortDate(v);
      else if (k === 'jobId') cell = jobLink(req, String(v));
      return `<tr><th scope="row">${escapeHtml(k)}</th><td>${cell}</td></tr>`;
    })
    .join('');
  const uses = (use ?? []).map((id) => `<li><a href="${escapeHtml(itemPage(req, id))}"><code>${escapeHtml(id)}</code></a></li>`).join('');
  const body = `<h1>${escapeHtml(doc.name)}</h1>
<p class="lead">${escapeHtml(doc.type)} · ${escapeHtml(doc.status)} · <a href="${escapeHtml(`${req.baseUrl}/stored_data/${encodeURIComponent(doc._id)}/dependencies?f=html`)}">dependencies</a></p>
<table class="kv">${rows}</table>
<h2>Type information</h2>${typeInfos(type_infos, req)}
<h2>Storage</h2>${generic(storage, req)}
<h2>Uses</h2>${uses ? `<ul>${uses}</ul>` : '<p class="muted">nothing</p>'}
<h2>Published</h2>${publishedList(published ?? [], req)}
${linksSection(links)}`;
  return layout(req, doc.name, body);
}

/** Type information, with a pyramid's levels as one table rather than one nested block per level. */
function typeInfos(infos: Record<string, unknown> | undefined, req: ApiRequest): string {
  const { levels, ...rest } = infos ?? {};
  if (!Array.isArray(levels)) return generic(infos, req);
  return `${generic(rest, req)}<h3>Levels</h3>${levelsTable(levels as LevelInfo[])}`;
}

interface Dependency {
  _id: string;
  name: string;
  type?: string;
}

/** GET /stored_data/{id}/dependencies as HTML: what it uses and what uses it. */
export function dependenciesPage(doc: { use?: Dependency[]; used_by?: Dependency[] }, req: ApiRequest): string {
  const id = req.params.id ?? '';
  // A user is a stored data (no type), a configuration publishing it or an offering serving it: each links to its own page.
  const href = (d: Dependency) =>
    d.type === 'configuration' || d.type === 'offering'
      ? `${req.baseUrl}/${d.type}s/${encodeURIComponent(d._id)}?f=html`
      : itemPage(req, d._id);
  const table = (items: Dependency[] | undefined) =>
    items?.length
      ? `<table><thead><tr><th>Name</th><th>Kind</th><th>Id</th></tr></thead><tbody>${items.map((d) => `<tr><td><a href="${escapeHtml(href(d))}">${escapeHtml(d.name)}</a></td><td>${escapeHtml(d.type ?? 'stored data')}</td><td><code>${escapeHtml(d._id)}</code></td></tr>`).join('')}</tbody></table>`
      : '<p class="muted">none</p>';
  const self = `${req.baseUrl}/stored_data/${encodeURIComponent(id)}/dependencies`;
  const body = `<h1>Dependencies of <a href="${escapeHtml(itemPage(req, id))}"><code>${escapeHtml(id)}</code></a></h1>
<h2>Uses</h2>${table(doc.use)}
<h2>Used by</h2><p class="muted">It cannot be deleted while something here uses it.</p>${table(doc.used_by)}
<h2>Links</h2><ul class="links"><li><a href="${escapeHtml(itemPage(req, id))}" rel="up">the stored data</a></li><li><a href="${escapeHtml(`${self}?f=json`)}" rel="alternate" type="application/json">as JSON</a></li></ul>`;
  return layout(req, `Dependencies of ${id}`, body);
}

/** The configurations that use a stored data, with a View link to the layer when it is published. */
function publishedList(published: NonNullable<StoredDoc['published']>, req: ApiRequest): string {
  if (published.length === 0) return '<p class="muted">in no configuration</p>';
  const items = published.map((p) => {
    const conf = `<a href="${escapeHtml(`${req.baseUrl}/configurations/${encodeURIComponent(p.configuration)}?f=html`)}">${escapeHtml(p.name)}</a>`;
    const view = p.offering
      ? ` · <a class="view" href="${escapeHtml(`${req.baseUrl}/offerings/${encodeURIComponent(p.offering)}?f=html`)}">View</a>`
      : ' · not published';
    return `<li>layer <code>${escapeHtml(p.layer_name)}</code> (${conf})${view}</li>`;
  });
  return `<ul>${items.join('')}</ul>`;
}
