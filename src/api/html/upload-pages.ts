import type { ApiRequest } from '../request.js';
import type { CheckExecution, Upload } from '../../records/uploads.js';
import type { TreeEntry } from '../../uploads/upload-files.js';
import { escapeHtml, jsonBlock, layout } from './layout.js';
import { humanBytes, linksSection, shortDate, type Link } from './generic.js';
import { UPLOAD_PAGE_SCRIPT } from './upload-scripts.js';

type UploadDoc = Upload & { links?: Link[]; tree?: TreeEntry[] };

function uploadPage(req: ApiRequest, id: string): string {
  return `${req.baseUrl}/uploads/${encodeURIComponent(id)}?f=html`;
}

/** GET /uploads as HTML: one row per upload, and a form declaring a new one. */
export function uploadsPage(doc: { uploads?: UploadDoc[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.uploads ?? [])
    .map(
      (u) =>
        `<tr><td><a href="${escapeHtml(uploadPage(req, u._id))}">${escapeHtml(u.name)}</a></td><td><span class="badge upload-${escapeHtml(u.status)}">${escapeHtml(u.status)}</span></td><td>${escapeHtml(u.srs)}</td><td>${humanBytes(u.size)}</td><td>${shortDate(u.created)}</td><td>${escapeHtml(u.last_event.title)}</td></tr>`,
    )
    .join('');
  const body = `<h1>Uploads</h1>
<p class="lead">Deliveries: declared, filled with files, closed and checked before a process reads them.</p>
<table><thead><tr><th>Name</th><th>Status</th><th>SRS</th><th>Size</th><th>Created</th><th>Last event</th></tr></thead>
<tbody>${rows || '<tr><td colspan="6" class="muted">no upload</td></tr>'}</tbody></table>
<h2>Declare an upload</h2>
<form id="create-upload" class="filter" data-url="${escapeHtml(`${req.baseUrl}/uploads`)}">
<label>Name <input type="text" name="name" required></label>
<label>Description <input type="text" name="description"></label>
<label>SRS of images without one <input type="text" name="srs" value="EPSG:2154" required></label>
<button type="submit">Create</button> <span data-field="create-error" class="error" hidden></span>
</form>
${linksSection(doc.links)}`;
  return layout(req, 'Uploads', body, UPLOAD_PAGE_SCRIPT);
}

/** The tree as nested lists (folders first, as the API gives them). */
export function treeHtml(entries: TreeEntry[]): string {
  if (entries.length === 0) return '<p class="muted">no file yet</p>';
  const items = entries
    .map((e) =>
      e.type === 'DIRECTORY'
        ? `<li data-dir="${escapeHtml(e.name)}">📁 ${escapeHtml(e.name)}/ <small class="muted">${humanBytes(e.size)}</small>${treeHtml(e.children ?? [])}</li>`
        : `<li data-file="${escapeHtml(e.name)}">${escapeHtml(e.name)} <small class="muted">${humanBytes(e.size)}</small></li>`,
    )
    .join('');
  return `<ul class="tree">${items}</ul>`;
}

function checkRows(req: ApiRequest, u: Upload, checks: CheckExecution[]): string {
  return checks
    .map((c) => {
      const job = c._id
        ? `<a href="${escapeHtml(`${req.baseUrl}/jobs/${encodeURIComponent(c._id)}?f=html`)}"><code>${escapeHtml(c._id.slice(0, 8))}…</code></a>`
        : '';
      const execution = c._id ? `${req.baseUrl}/uploads/${encodeURIComponent(u._id)}/checks/${encodeURIComponent(c._id)}` : '';
      return `<tr data-check="${escapeHtml(c.check._id)}"><td>${escapeHtml(c.check.name)}</td><td><span class="badge check-${escapeHtml(c.status)}" data-field="state">${escapeHtml(c.status)}</span></td><td>${job}</td><td>${execution ? `<a href="${escapeHtml(execution)}">execution</a>` : ''}</td><td><pre class="logs" data-field="logs">${escapeHtml(c.logs.join('\n'))}</pre></td></tr>`;
    })
    .join('');
}

/**
 * GET /uploads/{id} as HTML: its state, tree and checks; while OPEN, a form sending files (several at
 * once, one progress bar each) and a Close button; once checked, an Open button. A script does the
 * transfers and follows the checks in place (src/api/html/upload-scripts.ts).
 */
export function uploadItemPage(doc: UploadDoc, req: ApiRequest): string {
  const self = `${req.baseUrl}/uploads/${encodeURIComponent(doc._id)}`;
  const checks = doc.checks ?? [];
  const body = `<h1>Upload <span data-field="name">${escapeHtml(doc.name)}</span></h1>
<div id="upload" data-url="${escapeHtml(self)}" data-status="${escapeHtml(doc.status)}">
<p class="lead">${escapeHtml(doc.description)}</p>
<table class="kv">
<tr><th scope="row">Status</th><td><span class="badge upload-${escapeHtml(doc.status)}" data-field="status">${escapeHtml(doc.status)}</span></td></tr>
<tr><th scope="row">SRS</th><td>${escapeHtml(doc.srs)}</td></tr>
<tr><th scope="row">Size</th><td data-field="size">${humanBytes(doc.size)}</td></tr>
<tr><th scope="row">Last event</th><td data-field="last-event">${escapeHtml(doc.last_event.title)} (${shortDate(doc.last_event.date)})</td></tr>
<tr><th scope="row">Id</th><td><code>${escapeHtml(doc._id)}</code></td></tr>
</table>
<h2>Files</h2>
<div id="tree">${treeHtml(doc.tree ?? [])}</div>
<form id="send-files" class="filter"${doc.status === 'OPEN' ? '' : ' hidden'}>
<label>Files <input type="file" name="files" multiple required></label>
<label>Into folder <input type="text" name="folder" placeholder="data"></label>
<button type="submit">Send</button>
</form>
<ul id="transfers" class="links"></ul>
<p><button type="button" id="close-upload"${doc.status === 'OPEN' ? '' : ' hidden'}>Close and check</button>
<button type="button" id="open-upload"${doc.status === 'CLOSED' || doc.status === 'UNSTABLE' ? '' : ' hidden'}>Reopen</button>
<span data-field="action-error" class="error" hidden></span></p>
<h2>Checks</h2>
<table class="checks"><thead><tr><th>Check</th><th>State</th><th>Job</th><th>Details</th><th>Log</th></tr></thead>
<tbody id="checks">${checkRows(req, doc, checks) || '<tr><td colspan="5" class="muted">not closed yet</td></tr>'}</tbody></table>
${doc.type_infos && Object.keys(doc.type_infos).length ? `<h2>What the checks found</h2>${jsonBlock(doc.type_infos)}` : ''}
</div>
${linksSection(doc.links)}`;
  return layout(req, `Upload ${doc.name}`, body, UPLOAD_PAGE_SCRIPT);
}
