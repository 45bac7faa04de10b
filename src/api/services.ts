/**
 * The tile services (src/services/) as route handlers: the services are pure functions of a request and
 * of the published layers; this adapter hands them the runtime's layer registry and logger.
 */
import type { Runtime } from '../runtime.js';
import type { ServiceHandler } from '../services/service-context.js';
import type { ApiRequest, ApiResponse } from './request.js';

/** A route handler that runs a service handler over the runtime's published layers. */
export function serviceRoute(handler: ServiceHandler): (req: ApiRequest, rt: Runtime) => Promise<ApiResponse> {
  return async (req, rt) => {
    const r = await handler(
      { method: 'GET', path: req.path, params: req.params, query: req.query, headers: req.headers, baseUrl: req.baseUrl },
      { layers: rt.layers, log: rt.log },
    );
    return {
      status: r.status,
      headers: r.headers,
      body: r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8'),
    };
  };
}
