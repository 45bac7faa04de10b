/**
 * HTML of the collections and raster catalogs (issue 12, OGC API – Features class html): the catalog page
 * with a map of its footprints (OpenLayers, map-viewer.ts) and the attribute table of its items, the items
 * pages, one item with its preview and assets.
 */
import { footprintMapSection, mapViewerHead } from '../map-viewer.js';
import type { ApiRequest } from '../request.js';
import { generic, linksSection, type Link } from './generic.js';
import { escapeHtml, layout } from './layout.js';

interface FeatureDoc {
  id: string;
  bbox?: number[];
  properties: Record<string, unknown>;
  assets?: Record<string, { href: string; type?: string; title?: string }>;
  links?: Link[];
}

interface AttributeDoc {
  attributeName: string;
  alias?: string;
}

interface CollectionDoc {
  id: string;
  type?: string;
  title?: string;
  description?: string;
  extent?: { spatial?: { bbox?: number[][] }; temporal?: { interval?: Array<Array<string | null>> } };
  links?: Link[];
  /** Added for the HTML page of a catalog: its first items and its attributes. */
  items?: FeatureDoc[];
  numberMatched?: number;
  attributes?: AttributeDoc[];
}

const href = (links: Link[] | undefined, rel: string) => links?.find((l) => l.rel === rel)?.href;
const cell = (v: unknown) => escapeHtml(v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The attribute table: one row per item, one column per catalog attribute. */
function itemsTable(req: ApiRequest, catalog: string, items: FeatureDoc[], attributes: AttributeDoc[]): string {
  const head = ['Item', 'Date', ...attributes.map((a) => a.alias || a.attributeName)].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = items
    .map((f) => {
      const link = `${req.baseUrl}/collections/${encodeURIComponent(catalog)}/items/${encodeURIComponent(f.id)}?f=html`;
      const title = f.properties.title ?? f.id;
      return `<tr><td><a href="${escapeHtml(link)}">${cell(title)}</a></td><td>${cell(f.properties.datetime)}</td>${attributes
        .map((a) => `<td>${cell(f.properties[a.attributeName])}</td>`)
        .join('')}</tr>`;
    })
    .join('');
  return `<table class="items"><thead><tr>${head}</tr></thead><tbody>${
    rows || `<tr><td colspan="${attributes.length + 2}" class="muted">no item</td></tr>`
  }</tbody></table>`;
}

/** GET /collections as HTML. */
export function collectionsPage(doc: { collections?: CollectionDoc[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.collections ?? [])
    .map((c) => {
      const kinds = [
        href(c.links, 'items') ? 'raster catalog (items)' : '',
        c.links?.some((l) => l.rel?.endsWith('tilesets-map')) ? 'tiles' : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `<tr><td><a href="${escapeHtml(`${req.baseUrl}/collections/${encodeURIComponent(c.id)}?f=html`)}">${escapeHtml(c.id)}</a></td><td>${escapeHtml(c.title ?? '')}</td><td>${escapeHtml(kinds)}</td></tr>`;
    })
    .join('');
  const body = `<h1>Collections</h1>
<p class="lead">Raster catalogs (OGC API – Features, STAC) and published layers (OGC API – Tiles).</p>
<table><thead><tr><th>Id</th><th>Title</th><th>Offers</th></tr></thead>
<tbody>${rows || '<tr><td colspan="3" class="muted">no collection</td></tr>'}</tbody></table>
${linksSection(doc.links)}`;
  return layout(req, 'Collections', body);
}

/** GET /collections/{id} as HTML: a catalog with its footprints on a map and its attribute table. */
export function collectionPage(doc: CollectionDoc, req: ApiRequest): string {
  const items = href(doc.links, 'items');
  if (!items || !doc.items) return layout(req, doc.id, `<h1>${escapeHtml(doc.title ?? doc.id)}</h1>${generic(doc, req)}`);
  const bbox = doc.extent?.spatial?.bbox?.[0];
  const interval = doc.extent?.temporal?.interval?.[0];
  const shown = doc.items.length < (doc.numberMatched ?? 0) ? ` (the first ${doc.items.length})` : '';
  const body = `<h1>Catalog <code>${escapeHtml(doc.id)}</code></h1>
<p class="lead">${escapeHtml(doc.description ?? '')}</p>
<table class="kv"><tr><th scope="row">Items</th><td>${doc.numberMatched ?? 0} · <a href="${escapeHtml(`${items}?f=html`)}">browse</a> · <a href="${escapeHtml(items)}">GeoJSON</a></td></tr>
<tr><th scope="row">Extent</th><td>${bbox ? escapeHtml(bbox.map((x) => x.toFixed(5)).join(', ')) : ''}</td></tr>
<tr><th scope="row">Dates</th><td>${interval ? escapeHtml(interval.map((t) => t ?? '..').join(' / ')) : ''}</td></tr></table>
${footprintMapSection(req.baseUrl, `${items}?limit=1000`, 'Footprints')}
<h2>Items${shown}</h2>${itemsTable(req, doc.id, doc.items, doc.attributes ?? [])}
${linksSection(doc.links)}`;
  return layout(req, doc.id, body).replace('</head>', `${mapViewerHead(req.baseUrl)}</head>`);
}

/** GET /collections/{id}/items as HTML: this page's footprints and their attributes, with its paging links. */
export function itemsPage(
  doc: {
    features: FeatureDoc[];
    links?: Link[];
    numberMatched?: number;
    numberReturned?: number;
    catalog: string;
    attributes: AttributeDoc[];
  },
  req: ApiRequest,
): string {
  const geojson = doc.links?.find((l) => l.type === 'application/geo+json' && (l.rel === 'self' || l.rel === 'alternate'))?.href;
  const paging = ['prev', 'next']
    .map((rel) => doc.links?.find((l) => l.rel === rel))
    .filter((l): l is Link & { href: string } => !!l?.href)
    .map((l) => `<a href="${escapeHtml(`${l.href}${l.href.includes('?') ? '&' : '?'}f=html`)}">${escapeHtml(l.title ?? l.rel ?? '')}</a>`)
    .join(' · ');
  const body = `<h1>Items of <code>${escapeHtml(doc.catalog)}</code></h1>
<p class="lead">${doc.numberReturned ?? 0} of ${doc.numberMatched ?? 0} item(s)${paging ? ` · ${paging}` : ''}</p>
${geojson ? footprintMapSection(req.baseUrl, geojson, 'Footprints') : ''}
${itemsTable(req, doc.catalog, doc.features, doc.attributes)}
${linksSection(doc.links)}`;
  return layout(req, `Items of ${doc.catalog}`, body).replace('</head>', `${mapViewerHead(req.baseUrl)}</head>`);
}

/** GET /collections/{id}/items/{featureId} as HTML: its preview, properties and files. */
export function itemPage(doc: FeatureDoc & { collection?: string }, req: ApiRequest): string {
  const props = Object.entries(doc.properties)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${cell(v)}</td></tr>`)
    .join('');
  const assets = Object.entries(doc.assets ?? {})
    .map(
      ([k, a]) =>
        `<tr><th scope="row">${escapeHtml(k)}</th><td><a href="${escapeHtml(a.href)}">${escapeHtml(a.title ?? a.href)}</a> <code>${escapeHtml(a.type ?? '')}</code></td></tr>`,
    )
    .join('');
  const thumbnail = doc.assets?.thumbnail
    ? `<p><img src="${escapeHtml(doc.assets.thumbnail.href)}" alt="preview" style="max-width:256px"></p>`
    : '';
  const body = `<h1>${cell(doc.properties.title ?? doc.id)}</h1>
<p class="lead">Item <code>${escapeHtml(doc.id)}</code> of <code>${escapeHtml(doc.collection ?? '')}</code></p>
${thumbnail}
<h2>Properties</h2><table class="kv">${props}</table>
<h2>Files</h2><table class="kv">${assets}</table>
${linksSection(doc.links)}`;
  return layout(req, String(doc.properties.title ?? doc.id), body);
}
