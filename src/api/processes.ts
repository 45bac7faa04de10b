import type { Runtime } from '../runtime.js';
import type { ProcessDescription } from '../process/types.js';
import { buildResultsResponse } from './results-response.js';
import { ApiError } from '../errors.js';
import { REL } from './conformance.js';
import { respond } from './landing.js';
import { linkTo, negotiate, parseLimit, parseOffset, selfLinks, type ApiRequest, type ApiResponse } from './request.js';
import { statusDocument } from './status.js';

/** processSummary.yaml of a description. */
function summary(d: ProcessDescription, baseUrl: string): Record<string, unknown> {
  const { inputs: _i, outputs: _o, example: _e, links: _l, ...rest } = d;
  return {
    ...rest,
    links: [
      { href: `${baseUrl}/processes/${d.id}`, rel: 'self', type: 'application/json', title: `process description of ${d.id}` },
      { href: `${baseUrl}/processes/${d.id}?f=html`, rel: 'alternate', type: 'text/html', title: `${d.id} as HTML` },
    ],
  };
}

/**
 * Serialized JSON answers of GET /processes by base URL + query: the registry never changes after
 * start-up, so the list is built and stringified once per distinct request (the benchmark's goal of
 * ≥ 3,000 req/s, issue 2). Bounded so that arbitrary query strings cannot grow it without limit.
 */
const processListCache = new WeakMap<object, Map<string, Buffer>>();
const PROCESS_LIST_CACHE_SIZE = 64;

/** GET /processes (processList.yaml) with limit/offset and a next link. */
export async function listProcesses(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  if (format === 'json') {
    let cache = processListCache.get(rt.registry);
    if (!cache) processListCache.set(rt.registry, (cache = new Map()));
    const key = `${req.baseUrl}\n${JSON.stringify(req.query)}`;
    let body = cache.get(key);
    if (!body) {
      const doc = (await buildProcessList(req, rt, format)).body;
      body = Buffer.from(JSON.stringify(doc), 'utf8');
      if (cache.size >= PROCESS_LIST_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(key, body);
    }
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body };
  }
  return buildProcessList(req, rt, format);
}

async function buildProcessList(req: ApiRequest, rt: Runtime, format: 'json' | 'html'): Promise<ApiResponse> {
  const limit = parseLimit(req);
  const offset = parseOffset(req);
  const all = rt.registry.all();
  const page = all.slice(offset, offset + limit);
  const links = selfLinks(req, '/processes', format, 'processes');
  if (offset + limit < all.length)
    links.push({
      href: linkTo(req, '/processes', { offset: offset + limit, limit }),
      rel: 'next',
      type: format === 'json' ? 'application/json' : 'text/html',
      title: 'next page',
    });
  if (offset > 0)
    links.push({
      href: linkTo(req, '/processes', { offset: Math.max(0, offset - limit), limit }),
      rel: 'prev',
      type: format === 'json' ? 'application/json' : 'text/html',
      title: 'previous page',
    });
  return respond(req, format, 'processes', { processes: page.map((p) => summary(p.description, req.baseUrl)), links });
}

/** GET /processes/{id} (process.yaml). */
export async function describeProcess(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const p = rt.registry.get(req.params.processId);
  if (!p) throw new ApiError('no-such-process', `no process with id '${req.params.processId}'`);
  const b = req.baseUrl;
  const doc = {
    ...p.description,
    links: [
      ...selfLinks(req, `/processes/${p.description.id}`, format, `process ${p.description.id}`),
      {
        href: `${b}/processes/${p.description.id}/execution`,
        rel: REL.executeProcess,
        type: 'application/json',
        title: `execute ${p.description.id}`,
      },
      {
        href: `${b}/jobs?processID=${encodeURIComponent(p.description.id)}`,
        rel: REL.jobList,
        type: 'application/json',
        title: `jobs of ${p.description.id}`,
      },
    ],
  };
  return respond(req, format, 'process', doc);
}

/**
 * POST /processes/{id}/execution: the manager executes, this shapes the answer (201 + status of the
 * job, or the results of a sync run). Errors are answered as `application/json` with RFC 7807
 * members: the ETS accepts only that media type there (ogcapi-processes.md §3.4).
 */
export async function executeProcess(req: ApiRequest, rt: Runtime, signal: AbortSignal): Promise<ApiResponse> {
  const p = rt.registry.get(req.params.processId);
  if (!p) throw new ApiError('no-such-process', `no process with id '${req.params.processId}'`);
  const execution = await rt.manager.execute(p, req.body, { prefer: req.headers.prefer, signal });
  const applied: Record<string, string> = execution.preferenceApplied ? { 'Preference-Applied': execution.preferenceApplied } : {};
  if (execution.mode === 'async') {
    const { job } = execution;
    return {
      status: 201,
      headers: { 'Content-Type': 'application/json', Location: `${req.baseUrl}/jobs/${job.jobID}`, ...applied },
      body: statusDocument(job, req.baseUrl),
    };
  }
  const res = buildResultsResponse(execution.request, execution.outputs, (o) => `${req.baseUrl}/outputs/${execution.executionId}/${o}`);
  return { ...res, headers: { ...res.headers, ...applied } };
}
