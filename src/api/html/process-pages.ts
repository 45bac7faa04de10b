import type { ApiRequest } from '../request.js';
import type { InputDescription, OutputDescription, ProcessDescription } from '../../process/types.js';
import { escapeHtml, jsonBlock, layout } from './layout.js';
import { linksSection, pager, type Link } from './generic.js';
import { schemaEnum, schemaType } from './schema-text.js';
import { curlLine, exampleRequest, localizeExample } from './example-request.js';
import { markdownBlock, markdownInline } from './markdown.js';

interface ProcessSummary {
  id: string;
  title?: string;
  description?: string;
  version?: string;
  jobControlOptions?: string[];
  links?: Link[];
}

/** GET /processes as HTML: one row per process. */
export function processesPage(doc: { processes?: ProcessSummary[]; links?: Link[] }, req: ApiRequest): string {
  const rows = (doc.processes ?? [])
    .map((p) => {
      const page = `${req.baseUrl}/processes/${encodeURIComponent(p.id)}?f=html`;
      return `<tr><td><a href="${escapeHtml(page)}"><code>${escapeHtml(p.id)}</code></a></td><td>${escapeHtml(p.title ?? '')}</td><td>${markdownInline(p.description)}</td><td>${escapeHtml((p.jobControlOptions ?? []).join(', '))}</td><td><a href="${escapeHtml(page)}">description</a> · <a href="${escapeHtml(`${req.baseUrl}/processes/${encodeURIComponent(p.id)}`)}" type="application/json">JSON</a></td></tr>`;
    })
    .join('');
  const body = `<h1>Processes</h1>
<p class="lead">The processes this server can execute.</p>
<table><thead><tr><th>Id</th><th>Title</th><th>Description</th><th>Execution modes</th><th>Links</th></tr></thead><tbody>${rows || '<tr><td colspan="5" class="muted">no process</td></tr>'}</tbody></table>
${pager(doc.links)}
${linksSection(doc.links)}`;
  return layout(req, 'Processes', body);
}

function occurs(d: InputDescription): string {
  return `${d.minOccurs ?? 1} .. ${d.maxOccurs ?? 1}`;
}

function enumCell(values: unknown[] | undefined): string {
  return values ? values.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(' ') : '';
}

function inputRows(inputs: Record<string, InputDescription>): string {
  return Object.entries(inputs)
    .map(([id, d]) => {
      const def = d.schema && 'default' in d.schema ? `<code>${escapeHtml(JSON.stringify(d.schema.default))}</code>` : '';
      return `<tr id="input-${escapeHtml(id)}"><td><code>${escapeHtml(id)}</code></td><td>${escapeHtml(d.title ?? '')}</td><td>${escapeHtml(schemaType(d.schema))}</td><td>${escapeHtml(occurs(d))}</td><td>${def}</td><td>${enumCell(schemaEnum(d.schema))}</td><td>${markdownInline(d.description)}</td></tr>`;
    })
    .join('');
}

function outputRows(outputs: Record<string, OutputDescription>): string {
  return Object.entries(outputs)
    .map(
      ([id, d]) =>
        `<tr id="output-${escapeHtml(id)}"><td><code>${escapeHtml(id)}</code></td><td>${escapeHtml(d.title ?? '')}</td><td>${escapeHtml(schemaType(d.schema))}</td><td>${markdownInline(d.description)}</td></tr>`,
    )
    .join('');
}

/** GET /processes/{id} as HTML: inputs, outputs, an example request and the curl line that sends it. */
export function processPage(doc: ProcessDescription, req: ApiRequest): string {
  const example = localizeExample(exampleRequest(doc), req.inputRoots);
  const b = req.baseUrl;
  const id = encodeURIComponent(doc.id);
  const keywords = (doc.keywords ?? []).map((k) => `<span class="badge">${escapeHtml(k)}</span>`).join(' ');
  const body = `<h1>${escapeHtml(doc.title ?? doc.id)}</h1>
<div class="lead">${markdownBlock(doc.description)}</div>
<table class="kv">
<tr><th scope="row">Id</th><td><code>${escapeHtml(doc.id)}</code></td></tr>
<tr><th scope="row">Version</th><td>${escapeHtml(String(doc.version ?? ''))}</td></tr>
<tr><th scope="row">Keywords</th><td>${keywords}</td></tr>
<tr><th scope="row">Execution modes</th><td>${escapeHtml((doc.jobControlOptions ?? []).join(', '))}</td></tr>
<tr><th scope="row">Output transmission</th><td>${escapeHtml((doc.outputTransmission ?? []).join(', '))}</td></tr>
</table>
<h2>Inputs</h2>
<table class="inputs"><thead><tr><th>Id</th><th>Title</th><th>Type</th><th>Occurs</th><th>Default</th><th>Allowed values</th><th>Description</th></tr></thead>
<tbody>${inputRows(doc.inputs ?? {}) || '<tr><td colspan="7" class="muted">no input</td></tr>'}</tbody></table>
<h2>Outputs</h2>
<table class="outputs"><thead><tr><th>Id</th><th>Title</th><th>Type</th><th>Description</th></tr></thead>
<tbody>${outputRows(doc.outputs ?? {}) || '<tr><td colspan="4" class="muted">no output</td></tr>'}</tbody></table>
<h2>Execute</h2>
${req.inputRoots?.length ? `<p>Files are read from ${req.inputRoots.map((r) => `<code>${escapeHtml(r)}</code>`).join(', ')} on the server (<code>file://</code> hrefs).</p>` : ''}
<p>POST this request to <a href="${escapeHtml(`${b}/processes/${id}/execution`)}"><code>${escapeHtml(`${b}/processes/${doc.id}/execution`)}</code></a>
(add <code>Prefer: respond-async</code> to get a job you can follow in <a href="${escapeHtml(`${b}/jobs?f=html&processID=${id}`)}">the job list</a>):</p>
${jsonBlock(example, 'json example')}
<p>With curl:</p>
<pre class="curl">${escapeHtml(curlLine(b, doc.id, example))}</pre>
${linksSection(doc.links)}`;
  return layout(req, doc.title ?? doc.id, body);
}
