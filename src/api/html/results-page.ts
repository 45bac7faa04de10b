import type { ApiRequest } from '../request.js';
import { anchor, escapeHtml, jsonBlock, layout } from './layout.js';
import { humanBytes, linksSection } from './generic.js';
import { statusBadge, type StatusDoc } from './job-pages.js';

/** What jobResults (src/api/jobs.ts) hands over: the job and the results answer API clients get. */
export interface ResultsDoc {
  job: StatusDoc;
  contentType?: string | string[];
  body: unknown;
}

/** Outputs bigger than this are offered as a download rather than printed. */
const MAX_INLINE_CHARS = 200_000;

function outputHref(req: ApiRequest, jobId: string, outputId: string): string {
  return `${req.baseUrl}/jobs/${encodeURIComponent(jobId)}/results/${encodeURIComponent(outputId)}`;
}

function textBlock(text: string): string {
  if (text.length > MAX_INLINE_CHARS)
    return `<pre>${escapeHtml(text.slice(0, MAX_INLINE_CHARS))}\n…</pre><p class="muted">(${text.length} characters, shortened)</p>`;
  return `<pre>${escapeHtml(text)}</pre>`;
}

/** One value of a results document (results.yaml: inline value, qualified value or link). */
function documentValue(value: unknown, download: string): string {
  if (typeof value === 'string') return textBlock(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v.href === 'string')
      return `<p>By reference: ${anchor(v.href, v.href, { type: String(v.type ?? '') })}${v.type ? ` <small>${escapeHtml(String(v.type))}</small>` : ''}</p>`;
    if ('value' in v && typeof v.mediaType === 'string') {
      if (v.encoding === 'base64' || v.encoding === 'binary') {
        const size = typeof v.value === 'string' ? Math.floor((v.value.length * 3) / 4) : undefined;
        return `<p>${anchor(download, 'download', { download: '' })} <small>${escapeHtml(v.mediaType)}${size !== undefined ? `, about ${humanBytes(size)}` : ''}</small></p>`;
      }
      return `<p><small>${escapeHtml(v.mediaType)}</small></p>${typeof v.value === 'string' ? textBlock(v.value) : jsonBlock(v.value)}`;
    }
  }
  return jsonBlock(value);
}

/** A raw multipart/related answer split in its parts (Content-ID names the output). */
function multipartParts(body: Buffer, contentType: string): Array<{ id?: string; type?: string; location?: string; bytes: Buffer }> {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return [];
  const text = body.toString('latin1');
  return text
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => {
      const [head, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
      const content = rest.join('\r\n\r\n').replace(/\r\n$/, '');
      const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
      return {
        id: header('Content-ID')?.replace(/^<|>$/g, ''),
        type: header('Content-Type'),
        location: header('Content-Location'),
        bytes: Buffer.from(content, 'latin1'),
      };
    });
}

function isText(type: string): boolean {
  return /^text\//.test(type) || /json|xml|yaml|csv/.test(type);
}

function rawBody(body: Buffer | string, type: string, req: ApiRequest, job: StatusDoc): string {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (/^multipart\//.test(type)) {
    return multipartParts(bytes, type)
      .map((part) => {
        const id = part.id ?? 'output';
        const t = part.type ?? 'application/octet-stream';
        const content = part.location
          ? `<p>By reference: ${anchor(part.location, part.location)}</p>`
          : isText(t)
            ? renderTyped(part.bytes.toString('utf8'), t)
            : `<p>${anchor(outputHref(req, job.jobID, id), 'download', { download: '' })} <small>${humanBytes(part.bytes.length)}</small></p>`;
        return `<h3><code>${escapeHtml(id)}</code> <small>${escapeHtml(t)}</small></h3>${content}`;
      })
      .join('');
  }
  if (isText(type)) return renderTyped(bytes.toString('utf8'), type);
  // Binary: a link that is not answered as HTML (f=json gives the raw answer, see jobResults).
  const raw = `${req.baseUrl}/jobs/${encodeURIComponent(job.jobID)}/results?f=json`;
  return `<p>${anchor(raw, 'download the result', { download: '' })} <small>${escapeHtml(type)}, ${humanBytes(bytes.length)}</small></p>`;
}

function renderTyped(text: string, type: string): string {
  if (/json/.test(type)) {
    try {
      return jsonBlock(JSON.parse(text));
    } catch {
      // not JSON after all: shown as text
    }
  }
  return textBlock(text);
}

interface StoredDataRef {
  _id: string;
  name: string;
  status?: string;
}

/** Stored data records among the outputs (a pyramid process answers its record): found to link their pages. */
function storedDataIn(value: unknown, found: StoredDataRef[] = [], depth = 0): StoredDataRef[] {
  if (!value || typeof value !== 'object' || depth > 4 || found.length >= 20) return found;
  const v = value as Record<string, unknown>;
  if (typeof v._id === 'string' && typeof v.name === 'string' && typeof v.storage === 'object') {
    found.push({ _id: v._id, name: v.name, status: typeof v.status === 'string' ? v.status : undefined });
    return found;
  }
  for (const child of Array.isArray(value) ? value : Object.values(v)) storedDataIn(child, found, depth + 1);
  return found;
}

/** The output values as data: a document's values, or a JSON raw body (or JSON multipart parts). */
function outputValues(doc: ResultsDoc, type: string): unknown[] {
  const { body } = doc;
  if (!Buffer.isBuffer(body) && typeof body !== 'string') return [body];
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const texts = type.startsWith('multipart/')
    ? multipartParts(bytes, type)
        .filter((p) => /json/.test(p.type ?? ''))
        .map((p) => p.bytes.toString('utf8'))
    : /json/.test(type)
      ? [bytes.toString('utf8')]
      : [];
  return texts.flatMap((t) => {
    try {
      return [JSON.parse(t) as unknown];
    } catch {
      return [];
    }
  });
}

function storedDataCallout(req: ApiRequest, refs: StoredDataRef[]): string {
  if (!refs.length) return '';
  const items = refs
    .map(
      (r) =>
        `${anchor(`${req.baseUrl}/stored_data/${encodeURIComponent(r._id)}?f=html`, r.name)}${r.status ? ` <small class="muted">${escapeHtml(r.status)}</small>` : ''}`,
    )
    .join(', ');
  return `<p class="callout">Stored data made by this job: ${items}</p>`;
}

/** GET /jobs/{id}/results?f=html: every output readable, binaries as download links. */
export function resultsPage(doc: ResultsDoc, req: ApiRequest): string {
  const job = doc.job;
  const type = String(Array.isArray(doc.contentType) ? doc.contentType[0] : (doc.contentType ?? 'application/octet-stream'));
  let content: string;
  if (Buffer.isBuffer(doc.body) || typeof doc.body === 'string') {
    content = rawBody(doc.body, type, req, job);
  } else if (doc.body && typeof doc.body === 'object' && !Array.isArray(doc.body)) {
    const entries = Object.entries(doc.body as Record<string, unknown>);
    content = entries.length
      ? entries
          .map(([id, value]) => {
            const download = outputHref(req, job.jobID, id);
            return `<section class="output" id="output-${escapeHtml(id)}"><h3><code>${escapeHtml(id)}</code> <small>${anchor(download, 'raw')}</small></h3>${documentValue(value, download)}</section>`;
          })
          .join('')
      : '<p class="muted">no output</p>';
  } else {
    content = jsonBlock(doc.body);
  }
  const jobPage = `${req.baseUrl}/jobs/${encodeURIComponent(job.jobID)}?f=html`;
  const body = `<h1>Results of job <code>${escapeHtml(job.jobID)}</code></h1>
<p class="lead">${statusBadge(job.status)} process <code>${escapeHtml(job.processID ?? '')}</code> · <a href="${escapeHtml(jobPage)}" rel="up">back to the job</a> · <a href="${escapeHtml(`${req.baseUrl}/jobs/${encodeURIComponent(job.jobID)}/results?f=json`)}">as API clients get them</a></p>
${storedDataCallout(
  req,
  outputValues(doc, type).flatMap((v) => storedDataIn(v)),
)}
${content}
${linksSection(job.links)}`;
  return layout(req, `Results of ${job.jobID}`, body);
}
