import type { ApiRequest } from '../request.js';
import { escapeHtml, htmlHref } from './layout.js';

/** An OGC link object (link.yaml). */
export interface Link {
  href?: string;
  rel?: string;
  type?: string;
  title?: string;
}

/** A readable rendering of any JSON value: tables for objects, lists for arrays, links as <a>. */
export function generic(value: unknown, req: ApiRequest, depth = 0): string {
  if (value === null || value === undefined) return '<em>none</em>';
  if (Array.isArray(value)) {
    if (value.length === 0) return '<em>empty</em>';
    if (value.every((v) => v && typeof v === 'object' && 'href' in v)) return linkList(value as Link[]);
    if (value.every((v) => v === null || typeof v !== 'object')) return escapeHtml(value.map((v) => String(v)).join(', '));
    return `<ol>${value.map((v) => `<li>${generic(v, req, depth + 1)}</li>`).join('')}</ol>`;
  }
  if (typeof value === 'object') {
    const rows = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${generic(v, req, depth + 1)}</td></tr>`)
      .join('');
    return rows ? `<table class="kv">${rows}</table>` : '<em>empty</em>';
  }
  if (typeof value === 'string' && /^https?:\/\//.test(value)) return `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>`;
  return escapeHtml(String(value));
}

/** The `links` of a document as a list of <a> with their relation and media type. */
export function linkList(links: Link[]): string {
  if (!links.length) return '<p class="muted">no links</p>';
  return `<ul class="links">${links
    .map(
      (l) =>
        `<li><a href="${escapeHtml(l.href ?? '')}" rel="${escapeHtml(l.rel ?? '')}" type="${escapeHtml(l.type ?? '')}">${escapeHtml(l.title ?? l.href ?? '')}</a> <small>${escapeHtml([l.rel, l.type].filter(Boolean).join(' · '))}</small></li>`,
    )
    .join('')}</ul>`;
}

/** The links section every page ends with (the html conformance class wants them as <a>). */
export function linksSection(links: Link[] | undefined): string {
  return `<h2>Links</h2>${linkList(links ?? [])}`;
}

/** A date for tables: ISO without milliseconds, in UTC, or an empty cell. */
export function shortDate(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const t = Date.parse(iso);
  return Number.isNaN(t)
    ? escapeHtml(iso)
    : `<time datetime="${escapeHtml(iso)}">${new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** "1 h 02 min", "3.4 s": a duration in milliseconds for humans. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(rest).padStart(2, '0')} s`;
}

/** A byte count for humans. */
export function humanBytes(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** prev/next links of a paged list, as HTML pages. */
export function pager(links: Link[] | undefined): string {
  const prev = links?.find((l) => l.rel === 'prev' && l.href);
  const next = links?.find((l) => l.rel === 'next' && l.href);
  if (!prev && !next) return '';
  return `<p class="pager">${prev ? `<a rel="prev" href="${escapeHtml(htmlHref(prev.href!))}">← previous page</a>` : ''}${next ? `<a rel="next" href="${escapeHtml(htmlHref(next.href!))}">next page →</a>` : ''}</p>`;
}
