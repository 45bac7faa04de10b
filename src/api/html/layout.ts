import type { ApiRequest } from '../request.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#fafbfc}
header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center}
header a{color:#fff;text-decoration:none}header a:hover{text-decoration:underline}
main{max-width:70em;margin:1em auto;padding:0 1.2em}table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
table.kv th{background:#f0f3f6;white-space:nowrap}pre,code{background:#f0f3f6;padding:.2em .4em;border-radius:3px}
pre{padding:.8em;overflow:auto}progress{width:20em;height:1.2em}.status-failed{color:#b00020}.status-successful{color:#1b7f3b}`;

/** The page frame: navigation, title, body. Plain HTML5, no external assets. */
export function layout(req: ApiRequest, title: string, body: string, script = ''): string {
  const b = req.baseUrl;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – dallage</title><style>${STYLE}</style></head>
<body><header><strong><a href="${b}/?f=html">dallage</a></strong>
<nav><a href="${b}/processes?f=html">Processes</a> · <a href="${b}/jobs?f=html">Jobs</a> · <a href="${b}/stored_data?f=html">Stored data</a> · <a href="${b}/conformance?f=html">Conformance</a> · <a href="${b}/api.html">API</a></nav></header>
<main>${body}</main>${script ? `<script>${script}</script>` : ''}</body></html>`;
}
