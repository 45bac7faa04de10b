import type { ApiRequest } from '../request.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values (every page goes through it: user text stays inert). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** `<a>` with escaped href and text. */
export function anchor(href: string, text: string, attrs: Record<string, string> = {}): string {
  const extra = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeHtml(v)}"`)
    .join('');
  return `<a href="${escapeHtml(href)}"${extra}>${escapeHtml(text)}</a>`;
}

/** A JSON value pretty-printed in a `<pre>` (escaped). */
export function jsonBlock(value: unknown, cls = 'json'): string {
  return `<pre class="${cls}">${escapeHtml(JSON.stringify(value, null, 2) ?? 'null')}</pre>`;
}

/** `/jobs/x` → `/jobs/x?f=html` (keeps other query parameters). */
export function htmlHref(href: string): string {
  try {
    const u = new URL(href);
    u.searchParams.set('f', 'html');
    return u.toString();
  } catch {
    return href.includes('?') ? `${href}&f=html` : `${href}?f=html`;
  }
}

const STYLE = `:root{--ink:#1d2733;--muted:#5b6773;--line:#d0d7de;--soft:#f0f3f6;--brand:#1d3557;--accent:#2a6fdb}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--ink);background:#fafbfc;line-height:1.45}
header{background:var(--brand);color:#fff;padding:.7em 1.4em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header a:hover{text-decoration:underline}header strong{font-size:1.15em;letter-spacing:.02em}
nav a{margin-right:.9em}
main{max-width:72em;margin:1.2em auto 3em;padding:0 1.4em}
h1{font-size:1.6em;margin:.4em 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid var(--line);padding-bottom:.2em}
a{color:var(--accent)}
.lead{color:var(--muted);margin-top:0}
table{border-collapse:collapse;margin:.5em 0;background:#fff}
th,td{border:1px solid var(--line);padding:.35em .65em;text-align:left;vertical-align:top}
thead th{background:var(--soft)}
table.kv th{background:var(--soft);white-space:nowrap;font-weight:600}
pre,code{background:var(--soft);border-radius:4px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
code{padding:.1em .35em}pre{padding:.8em 1em;overflow:auto;max-height:40em;white-space:pre-wrap;word-break:break-word}
ul.links{padding-left:1.2em}ul.links small{color:var(--muted)}
.badge{display:inline-block;padding:.05em .55em;border-radius:1em;font-size:.9em;background:var(--soft);border:1px solid var(--line)}
.status-accepted{background:#fff7d6;border-color:#e5c75a}.status-running{background:#dcebff;border-color:#7aa7e8}
.status-successful{background:#dcf5e3;border-color:#6cc28a;color:#14532d}.status-failed{background:#fde2e2;border-color:#e08a8a;color:#8a1111}
.status-dismissed{background:#eee;border-color:#bbb;color:#555}
progress{width:24em;max-width:100%;height:1.3em;vertical-align:middle}
.progress-row{display:flex;gap:.8em;align-items:center;margin:.6em 0}
.error{background:#fde2e2;border:1px solid #e08a8a;padding:.6em 1em;border-radius:4px}
.warning{background:#fff7d6;border:1px solid #e5c75a;padding:.4em .8em;border-radius:4px;margin:.3em 0}
.callout{background:#fff;border:1px solid var(--line);border-left:4px solid var(--accent);padding:.6em 1em;border-radius:4px;margin:1em 0}
button{font:inherit;padding:.3em .9em;border-radius:4px;border:1px solid #b33;background:#fff;color:#b33;cursor:pointer}
button:hover{background:#fde2e2}
form.filter{background:#fff;border:1px solid var(--line);border-radius:4px;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.6em 1.4em;align-items:flex-end}
form.filter label{display:flex;flex-direction:column;font-size:.9em;color:var(--muted)}
form.filter fieldset{border:none;padding:0;margin:0}form.filter fieldset label{flex-direction:row;gap:.25em;display:inline-flex;margin-right:.6em;color:var(--ink)}
form.filter input[type=text],form.filter input[type=number]{font:inherit;padding:.2em .4em;border:1px solid var(--line);border-radius:3px}
form.filter button{border-color:var(--accent);color:#fff;background:var(--accent)}
.pager{margin:.8em 0;display:flex;gap:1.2em}
table.jobs td{white-space:nowrap}table.jobs td.message{white-space:normal}table.jobs progress{width:7em}
.muted{color:var(--muted)}
ul.tree{list-style:none;padding-left:1.2em}pre.logs{margin:0;max-height:14em;font-size:.85em}
.upload-OPEN,.check-asked{background:#fff7d6;border-color:#e5c75a}.upload-CHECKING,.check-in_progress{background:#dcebff;border-color:#7aa7e8}
.upload-CLOSED,.check-passed{background:#dcf5e3;border-color:#6cc28a;color:#14532d}.upload-UNSTABLE,.check-failed{background:#fde2e2;border-color:#e08a8a;color:#8a1111}`;

/** The page frame: navigation, title, body. Plain HTML5, no external assets. */
export function layout(req: ApiRequest, title: string, body: string, script = ''): string {
  const b = escapeHtml(req.baseUrl);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – dallage</title><link rel="icon" href="${b}/favicon.ico"><style>${STYLE}</style></head>
<body><header><strong><a href="${b}/?f=html">dallage</a></strong>
<nav><a href="${b}/processes?f=html">Processes</a><a href="${b}/jobs?f=html">Jobs</a><a href="${b}/stored_data?f=html">Stored data</a><a href="${b}/uploads?f=html">Uploads</a><a href="${b}/configurations?f=html">Configurations</a><a href="${b}/offerings?f=html">Offerings</a><a href="${b}/conformance?f=html">Conformance</a><a href="${b}/api.html">API</a></nav></header>
<main>${body}</main>${script ? `<script>${script}</script>` : ''}</body></html>`;
}
