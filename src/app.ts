import express, { type Request, type Response, type NextFunction } from 'express';
import type { Runtime } from './runtime.js';
import { ApiError, logServerError, toProblem } from './errors.js';
import type { ApiRequest, ApiResponse } from './api/request.js';
import { ROUTES, routesByPath, runRoute } from './api/routes.js';
import { DEFAULT_JSON_LIMITS, readJsonBody } from './api/json-body.js';
import { silentLogger } from './log.js';

/** OpenAPI path template → Express path (`/jobs/{jobId}` → `/jobs/:jobId`). */
function expressPath(template: string): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}

function baseUrlOf(req: Request, rt: Runtime): string {
  if (rt.config.server.url) return rt.config.server.url.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
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
    baseUrl: baseUrlOf(req, rt),
  };
}

function send(res: Response, r: ApiResponse): void {
  res.status(r.status);
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  if (r.body === undefined || r.status === 204) {
    res.end();
  } else if (Buffer.isBuffer(r.body) || typeof r.body === 'string') {
    res.send(r.body);
  } else {
    if (!res.getHeader('Content-Type')) res.setHeader('Content-Type', 'application/json');
    // As a Buffer: Express would rewrite the Content-Type of a string body (adding `; charset=utf-8`
    // and spaces), and the OpenAPI media type must stay exactly as OWSLib compares it (ogcapi-processes.md §6).
    res.send(Buffer.from(JSON.stringify(r.body), 'utf8'));
  }
}

/**
 * Execute errors go out as application/json (the ETS rejects problem+json there, §3.4); others as problem+json.
 * Every 5xx is logged as an error with its stack and the `errorId` the client sees (no internal text in the answer).
 */
function sendProblem(res: Response, req: Request, err: unknown, rt: Runtime): void {
  const problem = toProblem(err, req.originalUrl);
  logServerError(rt.log, 'request failed', problem, err, { method: req.method, path: req.path });
  const isExecute = req.method === 'POST' && /\/execution\/?$/.test(req.path);
  res.status(problem.status).setHeader('Content-Type', isExecute ? 'application/json' : 'application/problem+json');
  // A Buffer, as in send(): a string would get "; charset=utf-8" appended, and the ETS wants
  // application/json on execute errors (ogcapi-processes.md §3.4).
  res.send(Buffer.from(JSON.stringify(problem), 'utf8'));
}

/** The only Express-aware module: routes → handlers, body parsing, errors, request logs. */
export function createApp(rt: Runtime): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  if (rt.config.server.url === '') app.set('trust proxy', false);

  // Request logs cost a listener and a timer per request: none at all when logging is off (benchmarks).
  if (rt.log !== silentLogger) app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      rt.log.info('request', {
        method: req.method,
        path: req.originalUrl.length > 300 ? req.originalUrl.slice(0, 300) + '…' : req.originalUrl,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
        ...(res.locals.jobId ? { jobId: res.locals.jobId } : {}),
      });
    });
    next();
  });

  // Execute bodies: JSON only (415 otherwise), bounded by server.limits.body_size (413).
  const limits = { maxBytes: rt.config.server.limits.body_size, ...DEFAULT_JSON_LIMITS };
  const parseJsonBody = (req: Request, res: Response, next: NextFunction): void => {
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
        runRoute(route, toApiRequest(req, rt), rt, controller.signal)
          .then((r) => {
            const loc = r.headers?.Location;
            if (typeof loc === 'string') res.locals.jobId = loc.split('/').pop();
            send(res, r);
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
      if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) mapped = new ApiError('invalid-body', e.message ?? 'bad request');
    }
    if (res.headersSent) {
      logServerError(rt.log, 'request failed after its answer started', toProblem(mapped, req.originalUrl), mapped, { method: req.method, path: req.path });
      res.end();
      return;
    }
    sendProblem(res, req, mapped, rt);
  });
  return app;
}
