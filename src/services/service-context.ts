import type { LayerRegistry } from './layer-registry.js';

/** What the service handlers need besides the request. */
export interface ServiceContext {
  layers: LayerRegistry;
}

/** A service handler: a pure function of the request and the published layers (DESIGN §10). */
export type ServiceHandler = (req: import('./service-http.js').ServiceRequest, ctx: ServiceContext) => Promise<import('./service-http.js').ServiceResponse>;
