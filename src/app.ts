import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzip } from 'node:zlib';
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Runtime } from './runtime.js';
import { ApiError, logServerError, toProblem } from './errors.js';
import type { ApiRequest, ApiResponse } from './api/request.js';
import { ROUTES, routesByPath, runRoute, type Route } from './api/routes.js';
import { DEFAULT_JSON_LIMITS, readJsonBody } from './api/json-body.js';
import { corsHeaders, optionsAnswer } from './api/cors.js';
import {
  MIN_COMPRESSED_SIZE,
  StaticResponses,
  acceptsGzip,
  bodyBytes,
  isCompressible,
  matchesEtag,
  type StaticResponse,
} from './api/static-responses.js';
import { silentLogger } from './log.js';

/** What the server hands each request: the Express app behind a fast path for static documents. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** A route answered before Express: its template compiled to a regular expression with named parameters. */
interface DirectRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

/** `/xyz/{layer}/{z}/{x}/{y}.{ext}` → a RegExp whose groups are the parameters (one path segment each). */
function compileTemplate(route: Route): DirectRoute {
  const names: string[] = [];
  const source = route.path
    .split(/(\{[A-Za-z0-9_]+\})/)
    .map((part) => {
      const m = /^\{([A-Za-z0-9_]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '([^/]+?)';
    })
    .join('');
  return { route, pattern: new RegExp(`^${source}$`), names };
}

/**
 * The direct route and the request it makes, or undefined (then Express answers it): a query that the
 * extended parser would turn into objects (`?f[a]=x`) goes to Express, whose validation refuses it.
 */
function matchDirect(
  routes: readonly DirectRoute[],
  url: string,
): { route: Route; params: Record<string, string>; query: ApiRequest['query'] } | undefined {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const search = q < 0 ? '' : url.slice(q + 1);
  if (search.includes('[') || search.includes('%5B') || search.includes('%5b')) return undefined;
  for (const d of routes) {
    const m = d.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      for (let i = 0; i < d.names.length; i++) params[d.names[i]] = decodeURIComponent(m[i + 1]);
    } catch {
      return undefined;
    }
    const query: ApiRequest['query'] = {};
    for (const [k, v] of new URLSearchParams(search)) {
      const had = query[k];
      query[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    return { route: d.route, params, query };
  }
  return undefined;
}

/** OpenAPI path template → Express path (`/jobs/{jobId}` → `/jobs/:jobId`). */
function expressPath(template: string): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}

/** The API root as clients reach it: server.url, or the Host of the request (no proxy is trusted). */
function baseUrlOf(req: IncomingMessage, rt: Runtime): string {
  if (rt.config.server.url) return rt.config.server.url.replace(/\/+$/, '');
  return `http://${req.headers.host ?? 'localhost'}`;
}

/** Express request → framework-neutral ApiRequest. */
function toApiRequest(req: Request, rt: Runtime): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: req.method,
    path: req.path,
    params: req.params as Record<string, string>,
    query: req.query as Record<string, string | string[] | undefined>,
    headers,
    body: req.body,
    stream: req,
    baseUrl: baseUrlOf(req, rt),
    inputRoots: rt.config.security.input_roots.map((r) => path.resolve(r)),
  };
}

/** Adds a token to the Vary header (caches must key on what the answer was chosen by). */
function vary(res: ServerResponse, ...fields: string[]): void {
  const current = String(res.getHeader('Vary') ?? '');
  const have = new Set(
    current
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  for (const f of fields) have.add(f);
  res.setHeader('Vary', [...have].join(', '));
}

/**
 * Writes an answer with node's own response methods (bytes as they are: no charset added to the
 * Content-Type, which must stay exactly as OWSLib compares it, ogcapi-processes.md §6): CORS,
 * gzip for JSON/HTML/XML bodies the client takes compressed, no body for HEAD.
 */
function write(
  req: IncomingMessage,
  res: ServerResponse,
  rt: Runtime,
  status: number,
  headers: Record<string, string | string[]>,
  body?: Buffer,
  zipped?: Buffer,
): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const cors = corsHeaders(rt.config.server.cors, req.headers.origin, req.method ?? 'GET');
  for (const [k, v] of Object.entries(cors)) k === 'Vary' ? vary(res, v) : res.setHeader(k, v);
  if (body === undefined || status === 204 || status === 304) {
    res.end();
    return;
  }
  const type = res.getHeader('Content-Type');
  const compressible = body.length >= MIN_COMPRESSED_SIZE && isCompressible(typeof type === 'string' ? type : undefined);
  if (compressible) vary(res, 'Accept-Encoding');
  const finish = (bytes: Buffer, encoded: boolean) => {
    if (encoded) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', bytes.length);
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
  if (!compressible || !acceptsGzip(req.headers['accept-encoding'])) finish(body, false);
  else if (zipped) finish(zipped, true);
  // node:zlib's async gzip runs on the libuv pool: a large result document does not hold the loop.
  else gzip(body, (err, out) => (err ? finish(body, false) : finish(out, true)));
}

/** An answer of a handler. */
function send(req: IncomingMessage, res: ServerResponse, rt: Runtime, r: ApiResponse): void {
  if (r.body instanceof Readable) {
    sendStream(req, res, rt, r.status, r.headers ?? {}, r.body);
    return;
  }
  const headers = { ...r.headers };
  if (r.body !== undefined && !Buffer.isBuffer(r.body) && typeof r.body !== 'string') headers['Content-Type'] ??= 'application/json';
  write(req, res, rt, r.status, headers, r.body === undefined ? undefined : bodyBytes(r.body));
}

/**
 * A body too large to hold (a catalog's COG, issue 12) streamed as it is read; the handler gives its
 * Content-Length. A failed read cuts the connection: the client sees a short body, never wrong bytes.
 */
function sendStream(
  req: IncomingMessage,
  res: ServerResponse,
  rt: Runtime,
  status: number,
  headers: Record<string, string | string[]>,
  body: Readable,
): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const cors = corsHeaders(rt.config.server.cors, req.headers.origin, req.method ?? 'GET');
  for (const [k, v] of Object.entries(cors)) k === 'Vary' ? vary(res, v) : res.setHeader(k, v);
  if (req.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  pipeline(body, res).catch((err: unknown) => {
    if (!res.writableFinished) rt.log.warn('a streamed answer was cut', { path: req.url, error: String(err) });
  });
}

/** A static document: 304 when the client holds this version (If-None-Match), else its bytes. */
function sendStatic(req: IncomingMessage, res: ServerResponse, rt: Runtime, entry: StaticResponse): void {
  vary(res, 'Accept');
  if (matchesEtag(req.headers['if-none-match'], entry.etag)) {
    write(req, res, rt, 304, { ETag: entry.etag });
    return;
  }
  write(req, res, rt, entry.status, entry.headers, entry.body, entry.gzip);
}

/**
 * Execute errors go out as application/json (the ETS rejects problem+json there, §3.4); others as problem+json.
 * Every 5xx is logged as an error with its stack and the `errorId` the client sees (no internal text in the answer).
 */
function sendProblem(res: Response, req: Request, err: unknown, rt: Runtime): void {
  const problem = toProblem(err, req.originalUrl);
  logServerError(rt.log, 'request failed', problem, err, { method: req.method, path: req.path });
  const isExecute = req.method === 'POST' && /\/execution\/?$/.test(req.path);
  const type = isExecute ? 'application/json' : 'application/problem+json';
  write(req, res, rt, problem.status, { 'Content-Type': type }, Buffer.from(JSON.stringify(problem), 'utf8'));
}

/** Request logs cost a listener and a timer per request: none at all when logging is off. */
function logRequests(rt: Runtime, req: IncomingMessage, res: ServerResponse): void {
  const start = process.hrtime.bigint();
  res.on('finish', () => {
    const url = req.url ?? '';
    const location = res.getHeader('Location');
    rt.log.info('request', {
      method: req.method,
      path: url.length > 300 ? url.slice(0, 300) + '…' : url,
      status: res.statusCode,
      ms: Number(process.hrtime.bigint() - start) / 1e6,
      ...(res.statusCode === 201 && typeof location === 'string' ? { jobId: location.split('/').pop() } : {}),
    });
  });
}

/**
 * The only Express-aware module: the route table mounted on Express, body parsing, errors, request
 * logs; static documents (routes marked `static`) answered from their cached bytes before Express.
 */
export function createApp(rt: Runtime): RequestListener {
  const app = express();
  const statics = new StaticResponses();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  if (rt.config.server.url === '') app.set('trust proxy', false);

  // Execute bodies: JSON only (415 otherwise), bounded by server.limits.body_size (413).
  const limits = { maxBytes: rt.config.server.limits.body_size, ...DEFAULT_JSON_LIMITS };
  const parseJsonBody = (req: Request, _res: Response, next: NextFunction): void => {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) {
      next(new ApiError('unsupported-media-type', `the execute request must be application/json, got '${type || 'no Content-Type'}'`));
      return;
    }
    // JSON exchanged between systems is UTF-8 (RFC 8259 §8.1); body-parser would also decode
    // utf-16 or utf-7 bodies, which nothing needs and which widen what the validators see.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      next(new ApiError('unsupported-media-type', `the execute request must be UTF-8 JSON, got charset '${charset}'`));
      return;
    }
    // Execute bodies are small JSON: a compressed one would only hide its real size from the limits.
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      next(new ApiError('unsupported-media-type', `the execute request must not be compressed (Content-Encoding: ${encoding})`));
      return;
    }
    readJsonBody(req, req.headers['content-length'], limits).then((body) => {
      req.body = body;
      next();
    }, next);
  };

  for (const [template, routes] of routesByPath(ROUTES)) {
    const methods = routes.map((r) => r.method);
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
    app.all(expressPath(template), (req: Request, res: Response, next: NextFunction) => {
      if (req.method === 'OPTIONS') {
        const answer = optionsAnswer(rt.config.server.cors, methods, req.headers);
        write(req, res, rt, answer.status, answer.headers);
        return;
      }
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const route = routes.find((r) => r.method === method);
      if (!route) {
        res.setHeader('Allow', allow);
        next(new ApiError('method-not-allowed', `${req.method} is not allowed on ${req.path}; use ${methods.join(', ')}`));
        return;
      }
      const run = (): void => {
        const controller = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
        });
        const apiReq = toApiRequest(req, rt);
        runRoute(route, apiReq, rt, controller.signal)
          .then((r) => {
            const cached = route.static
              ? statics.store(StaticResponses.key(req.originalUrl, apiReq.baseUrl, req.headers.accept), r)
              : undefined;
            if (cached) sendStatic(req, res, rt, cached);
            else send(req, res, rt, r);
          })
          .catch(next);
      };
      if (route.jsonBody) parseJsonBody(req, res, (err?: unknown) => (err ? next(err) : run()));
      else run();
    });
  }

  app.use((req, _res, next) => next(new ApiError('not-found', `no resource at ${req.path}`)));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    let mapped: unknown = err;
    if (!(err instanceof ApiError)) {
      if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
        mapped = new ApiError('invalid-body', e.message ?? 'bad request');
    }
    if (res.headersSent) {
      logServerError(rt.log, 'request failed after its answer started', toProblem(mapped, req.originalUrl), mapped, {
        method: req.method,
        path: req.path,
      });
      res.end();
      return;
    }
    sendProblem(res, req, mapped, rt);
  });

  const logging = rt.log !== silentLogger;
  const direct = ROUTES.filter((r) => r.direct && r.method === 'GET').map(compileTemplate);
  const never = new AbortController().signal;
  const runDirect = (req: IncomingMessage, res: ServerResponse, hit: NonNullable<ReturnType<typeof matchDirect>>): void => {
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const apiReq: ApiRequest = {
      method: 'GET',
      path: q < 0 ? url : url.slice(0, q),
      params: hit.params,
      query: hit.query,
      headers,
      baseUrl: baseUrlOf(req, rt),
    };
    // Tile and map handlers do not stop midway: a client gone only loses its answer.
    runRoute(hit.route, apiReq, rt, never).then(
      (r) => send(req, res, rt, r),
      (err: unknown) => {
        const problem = toProblem(err, url);
        logServerError(rt.log, 'request failed', problem, err, { method: req.method, path: apiReq.path });
        write(req, res, rt, problem.status, { 'Content-Type': 'application/problem+json' }, Buffer.from(JSON.stringify(problem), 'utf8'));
      },
    );
  };
  return (req, res) => {
    if (logging) logRequests(rt, req, res);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const entry = statics.get(StaticResponses.key(req.url ?? '/', baseUrlOf(req, rt), req.headers.accept));
      if (entry) {
        sendStatic(req, res, rt, entry);
        return;
      }
      const hit = direct.length ? matchDirect(direct, req.url ?? '/') : undefined;
      if (hit) {
        runDirect(req, res, hit);
        return;
      }
    }
    app(req, res);
  };
}
