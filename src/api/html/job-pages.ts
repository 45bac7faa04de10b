import type { ApiRequest } from '../request.js';
import { single } from '../request.js';
import { escapeHtml, layout } from './layout.js';
import { humanDuration, linksSection, pager, shortDate, type Link } from './generic.js';
import { JOB_PAGE_SCRIPT, JOB_LIST_SCRIPT } from './job-scripts.js';

/** A statusInfo.yaml document as statusDocument (src/api/status.ts) writes it. */
export interface StatusDoc {
  jobID: string;
  processID?: string;
  status: string;
  message?: string;
  progress?: number;
  created?: string;
  started?: string;
  finished?: string;
  updated?: string;
  warnings?: string[];
  links?: Link[];
}

const STATUSES = ['accepted', 'running', 'successful', 'failed', 'dismissed'];

export function statusBadge(status: string): string {
  return `<span class="badge status-${escapeHtml(status)}" data-field="status">${escapeHtml(status)}</span>`;
}

/** Run time: started → finished, or → now while it runs. */
function duration(job: StatusDoc): string {
  if (!job.started) return '';
  const end = job.finished ? Date.parse(job.finished) : Date.now();
  return humanDuration(end - Date.parse(job.started));
}

function queryValues(req: ApiRequest, name: string): string[] {
  const v = req.query[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v])
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The GET form of the job list: submitting it reloads /jobs?f=html with the chosen filters. */
function filterForm(req: ApiRequest, jobs: StatusDoc[]): string {
  const chosen = new Set(queryValues(req, 'status'));
  const value = (name: string) => escapeHtml(single(req.query[name]) ?? '');
  const processIds = [...new Set(jobs.map((j) => j.processID).filter((p): p is string => !!p))].sort();
  const checkboxes = STATUSES.map(
    (s) => `<label><input type="checkbox" name="status" value="${s}"${chosen.has(s) ? ' checked' : ''}> ${s}</label>`,
  ).join('');
  return `<form class="filter" method="get" action="${escapeHtml(`${req.baseUrl}/jobs`)}">
<input type="hidden" name="f" value="html">
<fieldset><legend class="muted">Status</legend>${checkboxes}</fieldset>
<label>Process <input type="text" name="processID" list="process-ids" value="${escapeHtml(queryValues(req, 'processID').join(','))}" placeholder="any" size="14"></label>
<datalist id="process-ids">${processIds.map((p) => `<option value="${escapeHtml(p)}">`).join('')}</datalist>
<label>Date/time or interval <input type="text" name="datetime" value="${value('datetime')}" placeholder="2024-01-01T00:00:00Z/.." size="24"></label>
<label>Min duration (s) <input type="number" name="minDuration" min="0" step="any" value="${value('minDuration')}" style="width:7em"></label>
<label>Max duration (s) <input type="number" name="maxDuration" min="0" step="any" value="${value('maxDuration')}" style="width:7em"></label>
<label>Per page <input type="number" name="limit" min="1" max="10000" value="${value('limit')}" placeholder="10" style="width:6em"></label>
<button type="submit">Filter</button> <a href="${escapeHtml(`${req.baseUrl}/jobs?f=html`)}">reset</a>
</form>`;
}

/** GET /jobs as HTML: filter form, one row per job, prev/next. */
export function jobsPage(doc: { jobs?: StatusDoc[]; links?: Link[] }, req: ApiRequest): string {
  const jobs = doc.jobs ?? [];
  const rows = jobs
    .map((j) => {
      const page = `${req.baseUrl}/jobs/${encodeURIComponent(j.jobID)}?f=html`;
      const progress = j.progress ?? (j.status === 'successful' ? 100 : 0);
      return `<tr><td><a href="${escapeHtml(page)}" title="${escapeHtml(j.jobID)}"><code>${escapeHtml(j.jobID.slice(0, 8))}…</code></a></td><td>${escapeHtml(j.processID ?? '')}</td><td>${statusBadge(j.status)}</td><td><progress max="100" value="${progress}"></progress> ${progress} %</td><td>${shortDate(j.created)}</td><td>${duration(j)}</td><td class="message">${escapeHtml(j.message ?? '')}</td></tr>`;
    })
    .join('');
  const body = `<h1>Jobs</h1>
${filterForm(req, jobs)}
<table class="jobs"><thead><tr><th>Job</th><th>Process</th><th>Status</th><th>Progress</th><th>Created</th><th>Duration</th><th>Message</th></tr></thead>
<tbody>${rows || '<tr><td colspan="7" class="muted">no job matches</td></tr>'}</tbody></table>
${pager(doc.links)}
${linksSection(doc.links)}`;
  return layout(req, 'Jobs', body, JOB_LIST_SCRIPT);
}

/** GET /jobs/{id} as HTML; while the job runs, a script polls its status and updates the page in place. */
export function jobPage(doc: StatusDoc, req: ApiRequest): string {
  const b = req.baseUrl;
  const self = `${b}/jobs/${encodeURIComponent(doc.jobID)}`;
  const live = doc.status === 'accepted' || doc.status === 'running';
  const progress = doc.progress ?? (doc.status === 'successful' ? 100 : 0);
  const warnings = (doc.warnings ?? []).map((w) => `<li class="warning">${escapeHtml(w)}</li>`).join('');
  const dateRow = (name: 'created' | 'started' | 'finished' | 'updated') =>
    `<tr><th scope="row">${name[0].toUpperCase()}${name.slice(1)}</th><td data-field="${name}">${shortDate(doc[name])}</td></tr>`;
  const body = `<h1>Job <code>${escapeHtml(doc.jobID)}</code></h1>
<div id="job" data-status-url="${escapeHtml(self)}" data-status="${escapeHtml(doc.status)}">
<p class="lead">Process <a href="${escapeHtml(`${b}/processes/${encodeURIComponent(doc.processID ?? '')}?f=html`)}"><code>${escapeHtml(doc.processID ?? '')}</code></a></p>
<div class="progress-row">${statusBadge(doc.status)}
<progress id="job-progress" max="100" value="${progress}">${progress} %</progress> <span data-field="progress">${progress} %</span>
<button type="button" id="dismiss"${live ? '' : ' hidden'}>Dismiss</button></div>
<p data-field="message">${escapeHtml(doc.message ?? '')}</p>
<table class="kv">${dateRow('created')}${dateRow('started')}${dateRow('finished')}${dateRow('updated')}</table>
<ul class="warnings" data-field="warnings">${warnings}</ul>
<div id="results" class="callout"${doc.status === 'successful' ? '' : ' hidden'}><strong>Results:</strong>
<a id="results-link" href="${escapeHtml(`${self}/results?f=html`)}">view the results</a> ·
<a href="${escapeHtml(`${self}/results?f=json`)}">raw results (as API clients get them)</a></div>
<div id="failure" class="error"${doc.status === 'failed' ? '' : ' hidden'}><strong>The job failed.</strong>
<p data-field="error-detail">${doc.status === 'failed' ? escapeHtml(doc.message ?? '') : ''}</p>
<pre data-field="problem" hidden></pre>
<a href="${escapeHtml(`${self}/results`)}">the problem document</a></div>
</div>
<div id="job-links">${linksSection(doc.links)}</div>`;
  return layout(req, `Job ${doc.jobID}`, body, JOB_PAGE_SCRIPT);
}
