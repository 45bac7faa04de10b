import type { ApiRequest } from '../request.js';
import { mapViewerHead, mapViewerSection, type MapViewerLayer } from '../map-viewer.js';
import { escapeHtml, layout } from './layout.js';
import { linksSection, shortDate, type Link } from './generic.js';

interface UsedDataDoc {
  stored_data: string;
  bottom_level?: string;
  top_level?: string;
}

interface ConfigurationDoc {
  _id: string;
  name: string;
  layer_name: string;
  type: string;
  status: string;
  type_infos: { title: string; abstract?: string; keywords?: string[]; used_data: UsedDataDoc[] };
  created: string;
  updated: string;
  links?: Link[];
}

interface OfferingDoc {
  _id: string;
  layer_name: string;
  type: string;
  status: string;
  configuration: string;
  urls: Array<{ type: string; url: string }>;
  served: { used_data: UsedDataDoc[]; synchronized: string };
  links?: Link[];
  viewer?: MapViewerLayer;
}

const page = (req: ApiRequest, path: string) => escapeHtml(`${req.baseUrl}${path}?f=html`);

function usedDataTable(req: ApiRequest, used: UsedDataDoc[]): string {
  const rows = used
    .map(
      (u) =>
        `<tr><td><a href="${page(req, `/stored_data/${encodeURIComponent(u.stored_data)}`)}"><code>${escapeHtml(u.stored_data)}</code></a></td>` +
        `<td>${escapeHtml(u.top_level ?? 'its top')}</td><td>${escapeHtml(u.bottom_level ?? 'its bottom')}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>Stored data</th><th>Top level</th><th>Bottom level</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** GET /configurations as HTML. */
export function configurationsPage(doc: { configurations?: ConfigurationDoc[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.configurations ?? [])
    .map(
      (c) =>
        `<tr><td><a href="${page(req, `/configurations/${encodeURIComponent(c._id)}`)}">${escapeHtml(c.name)}</a></td>` +
        `<td><code>${escapeHtml(c.layer_name)}</code></td><td>${escapeHtml(c.type)}</td><td>${escapeHtml(c.status)}</td><td>${shortDate(c.updated)}</td></tr>`,
    )
    .join('');
  const body = `<h1>Configurations</h1>
<p class="lead">What each published layer is made of. An offering (POST /configurations/{id}/offerings) serves it.</p>
<table><thead><tr><th>Name</th><th>Layer</th><th>Type</th><th>Status</th><th>Updated</th></tr></thead>
<tbody>${rows || '<tr><td colspan="5" class="muted">no configuration</td></tr>'}</tbody></table>
${linksSection(doc.links)}`;
  return layout(req, 'Configurations', body);
}

/** GET /configurations/{id} as HTML, with a View link when it is published. */
export function configurationPage(doc: ConfigurationDoc, req: ApiRequest): string {
  const offering = doc.links?.find((l) => l.title === 'its offering');
  const view = offering ? ` · <a class="view" href="${escapeHtml(`${offering.href}?f=html`)}">View the layer</a>` : ' · not published';
  const body = `<h1>${escapeHtml(doc.name)}</h1>
<p class="lead">${escapeHtml(doc.type)} layer <code>${escapeHtml(doc.layer_name)}</code> · ${escapeHtml(doc.status)}${view}</p>
<h2>${escapeHtml(doc.type_infos.title)}</h2>
${doc.type_infos.abstract ? `<p>${escapeHtml(doc.type_infos.abstract)}</p>` : ''}
${doc.type_infos.keywords?.length ? `<p class="muted">${doc.type_infos.keywords.map(escapeHtml).join(' · ')}</p>` : ''}
<h2>Pyramids</h2>${usedDataTable(req, doc.type_infos.used_data)}
${linksSection(doc.links)}`;
  return layout(req, doc.name, body);
}

/** GET /offerings as HTML. */
export function offeringsPage(doc: { offerings?: OfferingDoc[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.offerings ?? [])
    .map(
      (o) =>
        `<tr><td><a href="${page(req, `/offerings/${encodeURIComponent(o._id)}`)}"><code>${escapeHtml(o.layer_name)}</code></a></td>` +
        `<td>${escapeHtml(o.type)}</td><td>${escapeHtml(o.status)}</td><td>${shortDate(o.served.synchronized)}</td></tr>`,
    )
    .join('');
  const body = `<h1>Offerings</h1>
<p class="lead">Layers served now by WMTS, TMS, XYZ and OGC API – Tiles.</p>
<table><thead><tr><th>Layer</th><th>Type</th><th>Status</th><th>Synchronized</th></tr></thead>
<tbody>${rows || '<tr><td colspan="4" class="muted">no offering</td></tr>'}</tbody></table>
${linksSection(doc.links)}`;
  return layout(req, 'Offerings', body);
}

/** GET /offerings/{id} as HTML: the layer on a map, its service URLs, what it serves. */
export function offeringPage(doc: OfferingDoc, req: ApiRequest): string {
  const urls = doc.urls
    .map((u) => `<tr><th scope="row">${escapeHtml(u.type)}</th><td><code>${escapeHtml(u.url)}</code></td></tr>`)
    .join('');
  const map = doc.viewer
    ? mapViewerSection(req.baseUrl, doc.viewer)
    : '<p class="muted">The layer cannot be shown: it is not served now.</p>';
  const body = `<h1>Layer <code>${escapeHtml(doc.layer_name)}</code></h1>
<p class="lead">${escapeHtml(doc.type)} · ${escapeHtml(doc.status)} · synchronized ${shortDate(doc.served.synchronized)} ·
<a href="${page(req, `/configurations/${encodeURIComponent(doc.configuration)}`)}">configuration</a></p>
${map}
<h2>Services</h2><table class="kv">${urls}</table>
<h2>Served pyramids</h2>${usedDataTable(req, doc.served.used_data)}
${linksSection(doc.links)}`;
  const html = layout(req, doc.layer_name, body);
  return doc.viewer ? html.replace('</head>', `${mapViewerHead(req.baseUrl)}</head>`) : html;
}
