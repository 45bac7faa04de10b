import type { ApiRequest } from '../request.js';
import { escapeHtml, layout } from './layout.js';

/**
 * HTML rendering of every API document (conformance class html: all information plus <a> links).
 * `page` names the resource kind; pages without a dedicated view get the generic one.
 */
export function renderHtml(page: string, doc: unknown, req: ApiRequest): string {
  const title = (doc as { title?: string })?.title ?? page;
  return layout(req, String(title), `<h1>${escapeHtml(String(title))}</h1>${generic(doc, req)}`);
}

/** A readable rendering of any JSON value: tables for objects, lists for arrays, links as <a>. */
export function generic(value: unknown, req: ApiRequest, depth = 0): string {
  if (value === null || value === undefined) return '<em>none</em>';
  if (Array.isArray(value)) {
    if (value.length === 0) return '<em>empty</em>';
    if (value.every((v) => v && typeof v === 'object' && 'href' in v)) return linkList(value as Array<Record<string, string>>);
    return `<ol>${value.map((v) => `<li>${generic(v, req, depth + 1)}</li>`).join('')}</ol>`;
  }
  if (typeof value === 'object') {
    const rows = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${generic(v, req, depth + 1)}</td></tr>`)
      .join('');
    return `<table class="kv">${rows}</table>`;
  }
  if (typeof value === 'string' && /^https?:\/\//.test(value)) return `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>`;
  return escapeHtml(String(value));
}

export function linkList(links: Array<Record<string, string>>): string {
  return `<ul class="links">${links
    .map((l) => `<li><a href="${escapeHtml(l.href)}" rel="${escapeHtml(l.rel ?? '')}" type="${escapeHtml(l.type ?? '')}">${escapeHtml(l.title ?? l.href)}</a> <small>${escapeHtml(l.rel ?? '')}</small></li>`)
    .join('')}</ul>`;
}
