import type { ApiRequest } from '../request.js';
import { escapeHtml, htmlHref, layout } from './layout.js';
import { linksSection, type Link } from './generic.js';

/** GET / as HTML: what the service is, and where to go. */
export function landingPage(doc: { title?: string; description?: string; links?: Link[] }, req: ApiRequest): string {
  const title = doc.title ?? 'dallage';
  const links = doc.links ?? [];
  const rows = links
    .filter((l): l is Link & { href: string } => !!l.href && l.rel !== 'self' && l.rel !== 'alternate')
    .map((l) => {
      const isJsonResource = l.type === 'application/json';
      const page = isJsonResource ? htmlHref(l.href) : l.href;
      return `<tr><td><a href="${escapeHtml(page)}">${escapeHtml(l.title ?? l.href)}</a></td><td><code>${escapeHtml(l.rel ?? '')}</code></td><td><a href="${escapeHtml(l.href)}" type="${escapeHtml(l.type ?? '')}">${escapeHtml(l.type ?? 'link')}</a></td></tr>`;
    })
    .join('');
  const body = `<h1>${escapeHtml(title)}</h1>
<p class="lead">${escapeHtml(doc.description ?? '')}</p>
<h2>Resources</h2>
<table><thead><tr><th>Resource</th><th>Relation</th><th>Machine-readable</th></tr></thead><tbody>${rows}</tbody></table>
${linksSection(links.filter((l) => l.rel === 'self' || l.rel === 'alternate'))}`;
  return layout(req, title, body);
}

/** GET /conformance as HTML: the conformance class URIs as links. */
export function conformancePage(doc: { conformsTo?: string[]; links?: Link[] }, req: ApiRequest): string {
  const items = (doc.conformsTo ?? []).map((c) => `<li><a href="${escapeHtml(c)}">${escapeHtml(c)}</a></li>`).join('');
  const body = `<h1>Conformance</h1>
<p class="lead">The OGC API – Processes conformance classes this server implements.</p>
<ul class="conformance">${items}</ul>
${linksSection(doc.links)}`;
  return layout(req, 'Conformance', body);
}
