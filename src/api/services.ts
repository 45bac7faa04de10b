/**
 * The tile services (src/services/) as route handlers: the services are pure functions of a request and
 * of the published layers; this adapter hands them the runtime's layer registry and logger.
 */
import type { Runtime } from '../runtime.js';
import { MapGate } from '../services/map-gate.js';
import { drawInPool } from '../services/map-renderer.js';
import type { ServiceHandler, WmsLimits } from '../services/service-context.js';
import type { ApiRequest, ApiResponse } from './request.js';

/** One WMS map gate per server (runtime), sized by its config; maps drawn in the runtime's worker pool. */
const wmsLimits = new WeakMap<Runtime, WmsLimits>();

function wmsLimitsOf(rt: Runtime): WmsLimits {
  let limits = wmsLimits.get(rt);
  if (!limits) {
    const l = rt.config.server.limits;
    // Twice the threads by default: each thread has its next map waiting while it draws one. With one map per
    // thread, a thread sat idle while the main thread sent the finished map and handed it the next one: ~20 %
    // of its time under a GetMap load (2026-12-06, CPU profile of bench:tiles' maps).
    const concurrent = l.wms_concurrent_maps > 0 ? l.wms_concurrent_maps : 2 * rt.pool.threads;
    limits = { maxSize: l.wms_max_size, gate: new MapGate(concurrent), draw: drawInPool(rt.pool) };
    wmsLimits.set(rt, limits);
  }
  return limits;
}

/** A route handler that runs a service handler over the runtime's published layers. */
export function serviceRoute(handler: ServiceHandler): (req: ApiRequest, rt: Runtime) => Promise<ApiResponse> {
  return async (req, rt) => {
    const r = await handler(
      { method: 'GET', path: req.path, params: req.params, query: req.query, headers: req.headers, baseUrl: req.baseUrl },
      { layers: rt.layers, log: rt.log, wms: wmsLimitsOf(rt) },
    );
    return {
      status: r.status,
      headers: r.headers,
      body: r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8'),
    };
  };
}
