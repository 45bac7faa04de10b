import type { Runtime } from '../runtime.js';
import type { JobStatus } from '../manager/job.js';
import type { JobFilter } from '../manager/store.js';
import { ApiError } from '../errors.js';
import { respond } from './landing.js';
import { linkTo, negotiate, parseLimit, parseOffset, selfLinks, single, type ApiRequest, type ApiResponse } from './request.js';
import { statusDocument } from './status.js';
import { jobResultLink } from './job-links.js';
import { buildResultsResponse } from './results-response.js';

const STATUSES: JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];

function list(req: ApiRequest, name: string): string[] | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}

function seconds(req: ApiRequest, name: string): number | undefined {
  const raw = single(req.query[name]);
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new ApiError('invalid-parameter', `${name} must be a number of seconds ≥ 0, got '${raw}'`, { parameter: name });
  return n;
}

/** `datetime` as an instant or an interval with `..` open ends (OGC API Common). */
export function parseDatetime(raw: string | undefined): JobFilter['datetime'] {
  if (raw === undefined || raw === '') return undefined;
  const parse = (s: string): number | undefined => {
    if (s === '..' || s === '') return undefined;
    const t = Date.parse(s);
    if (Number.isNaN(t))
      throw new ApiError('invalid-parameter', `datetime: '${s}' is not an RFC 3339 date-time`, { parameter: 'datetime' });
    return t;
  };
  const parts = raw.split('/');
  if (parts.length === 1) return { instant: parse(parts[0]) };
  if (parts.length !== 2)
    throw new ApiError('invalid-parameter', `datetime: '${raw}' is neither an instant nor an interval start/end`, {
      parameter: 'datetime',
    });
  const [start, end] = parts.map(parse);
  if (start !== undefined && end !== undefined && start > end)
    throw new ApiError('invalid-parameter', 'datetime: the interval ends before it starts', { parameter: 'datetime' });
  return { start, end };
}

/** The filter of GET /jobs from its query (ogcapi-processes.md §2 Job list). */
export function jobFilter(req: ApiRequest): JobFilter {
  const status = list(req, 'status');
  for (const s of status ?? []) {
    if (!STATUSES.includes(s as JobStatus))
      throw new ApiError('invalid-parameter', `status '${s}' is not one of ${STATUSES.join(', ')}`, { parameter: 'status' });
  }
  const type = list(req, 'type');
  for (const t of type ?? [])
    if (t !== 'process') throw new ApiError('invalid-parameter', `type '${t}' is not supported (only 'process')`, { parameter: 'type' });
  const filter: JobFilter = {
    type,
    processID: list(req, 'processID') ?? list(req, 'processId'),
    status: status as JobStatus[] | undefined,
    datetime: parseDatetime(single(req.query.datetime)),
    minDuration: seconds(req, 'minDuration'),
    maxDuration: seconds(req, 'maxDuration'),
  };
  for (const k of Object.keys(filter) as Array<keyof JobFilter>) if (filter[k] === undefined) delete filter[k];
  return filter;
}

/** GET /jobs (jobList.yaml) with next/prev links. */
export async function listJobs(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const limit = parseLimit(req);
  const offset = parseOffset(req);
  const page = await rt.manager.list(jobFilter(req), offset, limit);
  const type = format === 'json' ? 'application/json' : 'text/html';
  const links = selfLinks(req, '/jobs', format, 'jobs');
  if (page.more) links.push({ href: linkTo(req, '/jobs', { offset: offset + limit, limit }), rel: 'next', type, title: 'next page' });
  if (offset > 0)
    links.push({ href: linkTo(req, '/jobs', { offset: Math.max(0, offset - limit), limit }), rel: 'prev', type, title: 'previous page' });
  return respond(req, format, 'jobs', { jobs: page.jobs.map((j) => statusDocument(j, req.baseUrl)), links });
}

/** GET /jobs/{id} (statusInfo.yaml). */
export async function getJob(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const job = await rt.manager.get(req.params.jobId);
  if (!job) throw new ApiError('no-such-job', `no job with id '${req.params.jobId}'`);
  return respond(req, format, 'job', statusDocument(job, req.baseUrl));
}

/** DELETE /jobs/{id}: dismiss (ogcapi-processes.md §2 Dismiss). */
export async function dismissJob(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const job = await rt.manager.dismiss(req.params.jobId);
  return respond(req, format, 'job', statusDocument(job, req.baseUrl));
}

/** GET /jobs/{id}/results: in the shape first requested; HTML only on explicit request. */
export async function jobResults(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const explicitHtml =
    single(req.query.f) === 'html' ||
    (!!req.headers.accept && /text\/html/.test(req.headers.accept) && !/\*\/\*/.test(req.headers.accept.split(',')[0]));
  const results = await rt.manager.results(req.params.jobId);
  if (results.status === 'failed') {
    const p = results.problem;
    return { status: p.status >= 400 ? p.status : 500, headers: { 'Content-Type': 'application/json' }, body: p };
  }
  const { job, outputs } = results;
  const res = buildResultsResponse(job.request, outputs, (o) => jobResultLink(req.baseUrl, job.jobID, o));
  if (!explicitHtml || res.status !== 200) return res;
  return respond(req, 'html', 'results', {
    job: statusDocument(job, req.baseUrl),
    contentType: res.headers?.['Content-Type'],
    body: res.body,
  });
}

/** GET /jobs/{id}/results/{outputId}: one output, raw (target of reference links). */
export async function jobResult(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const r = await rt.manager.result(req.params.jobId, req.params.outputId);
  return { status: 200, headers: { 'Content-Type': r.mediaType }, body: r.bytes };
}

/** GET /outputs/{executionId}/{outputId}: an output of a synchronous execution asked by reference. */
export async function syncOutput(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const r = await rt.manager.syncOutput(req.params.executionId, req.params.outputId);
  return { status: 200, headers: { 'Content-Type': r.mediaType }, body: r.bytes };
}
