import type { Runtime } from '../runtime.js';
import { respond } from './landing.js';
import { negotiate, selfLinks, type ApiRequest, type ApiResponse } from './request.js';

/**
 * GET /workers (issue 14, operations): who runs the jobs. With the bullmq manager, the worker processes
 * alive (heartbeat every 5 s: name, concurrency, threads, the executions they run, when they said so) and
 * the queue's depth (waiting, active); with the embedded managers, this server's own queue.
 */
export async function listWorkers(req: ApiRequest, rt: Runtime): Promise<ApiResponse> {
  const format = negotiate(req);
  const info = await rt.manager.workers();
  return respond(req, format, 'workers', {
    title: 'Workers',
    ...info,
    links: selfLinks(req, '/workers', format, 'workers'),
  });
}
