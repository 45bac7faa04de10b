import type { JobLinks } from '../manager/manager.js';
import { buildResultsResponse } from './results-response.js';
import { statusDocument } from './status.js';

/**
 * The documents the manager sends to subscribers, with links under the server's base URL. The base
 * URL is read at each use: with port 0 it is known only once the server listens.
 */
export function jobLinks(baseUrl: () => string): JobLinks {
  return {
    statusDocument: (job) => statusDocument(job, baseUrl()),
    resultsDocument: (job, outputs) =>
      buildResultsResponse({ outputs: job.request.outputs, response: 'document' }, outputs, (o) => jobResultLink(baseUrl(), job.jobID, o))
        .body,
  };
}

/** Where one output of an async job is served (reference links). */
export function jobResultLink(baseUrl: string, jobId: string, outputId: string): string {
  return `${baseUrl}/jobs/${jobId}/results/${outputId}`;
}
