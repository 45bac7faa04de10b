import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ApiError } from '../errors.js';
import { escapeHtml } from './html/layout.js';
import type { ApiRequest, ApiResponse } from './request.js';

/**
 * GET /api.html: an interactive console for the OpenAPI document (Swagger UI, from the
 * swagger-ui-dist npm package, served by us under /api-console/: the page loads nothing from another
 * site, and "Try it out" sends its requests to this server).
 */

const require = createRequire(import.meta.url);
const DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** Our start-up script for Swagger UI: reads /api, no validator badge (it would call validator.swagger.io). */
const CONSOLE_SCRIPT = `window.addEventListener('load', () => {
  const root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.dataset.definition,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
  });
});
`;

/** File name → media type; only these are served (no path from the client reaches the file system). */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const loaded = new Map<string, Buffer>();

function asset(name: string): Buffer {
  let bytes = loaded.get(name);
  if (!bytes) loaded.set(name, (bytes = name === 'console.js' ? Buffer.from(CONSOLE_SCRIPT, 'utf8') : readFileSync(path.join(DIST, name))));
  return bytes;
}

/** GET /api-console/{file}: Swagger UI's own files and our start-up script. */
export async function apiConsoleAsset(req: ApiRequest): Promise<ApiResponse> {
  const name = req.params.file;
  const type = name === 'console.js' ? 'text/javascript; charset=utf-8' : Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!type) throw new ApiError('not-found', `no API console file '${name}'`);
  return { status: 200, headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' }, body: asset(name) };
}

/** GET /api.html */
export async function apiConsolePage(req: ApiRequest): Promise<ApiResponse> {
  const b = escapeHtml(req.baseUrl);
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API – dallage</title><link rel="icon" href="${b}/favicon.ico">
<link rel="stylesheet" href="${b}/api-console/swagger-ui.css">
<style>body{margin:0}header.dallage{background:#1d3557;color:#fff;padding:.7em 1.4em;font-family:system-ui,sans-serif}
header.dallage a{color:#fff;margin-right:.9em;text-decoration:none}</style></head>
<body><header class="dallage"><a href="${b}/?f=html"><strong>dallage</strong></a><a href="${b}/processes?f=html">Processes</a>
<a href="${b}/jobs?f=html">Jobs</a><a href="${b}/stored_data?f=html">Stored data</a><a href="${b}/api">OpenAPI (JSON)</a></header>
<noscript><p>The console needs JavaScript; the definition itself is at <a href="${b}/api">${b}/api</a>.</p></noscript>
<div id="swagger-ui" data-definition="${b}/api"></div>
<script src="${b}/api-console/swagger-ui-bundle.js"></script>
<script src="${b}/api-console/console.js"></script>
</body></html>`;
  return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: html };
}
