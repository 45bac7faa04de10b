import type { Logger } from '../log.js';
import type { LayerRegistry } from './layer-registry.js';
import type { MapGate } from './map-gate.js';
import type { MapRenderer } from './map-renderer.js';
import type { ServiceRequest, ServiceResponse } from './service-http.js';

/** What WMS maps may cost (config `server.limits.wms_max_size`, `wms_concurrent_maps`). */
export interface WmsLimits {
  /** Largest WIDTH and HEIGHT, pixels. */
  maxSize: number;
  /** Maps drawn at once, shared by every request of one server. */
  gate: MapGate;
  /** Where maps are drawn; default the calling thread (a server draws them in its worker pool). */
  draw?: MapRenderer;
}

/** What the service handlers need besides the request. */
export interface ServiceContext {
  layers: LayerRegistry;
  /** Where a failure to read a tile is reported (clients only get a generic message). */
  log?: Logger;
  /** WMS limits; default 4096 px a side and two maps at once (DEFAULT_WMS_LIMITS in wms.ts). */
  wms?: WmsLimits;
}

/** A service handler: a pure function of the request and the published layers (DESIGN §10). */
export type ServiceHandler = (req: ServiceRequest, ctx: ServiceContext) => Promise<ServiceResponse>;

/** Reports an unexpected failure of a service handler. */
export function logFailure(ctx: ServiceContext, req: ServiceRequest, err: unknown): void {
  ctx.log?.error('service request failed', { path: req.path, error: err instanceof Error ? err.message : String(err) });
}
