import type { JobRecord } from '../manager/job.js';
import { REL } from './conformance.js';

/**
 * statusInfo.yaml of a job. Dates absent are omitted, never null (pygeoapi's deviation #8); the
 * results link appears only once the job is successful and a monitor link while it runs, because
 * the ETS fetches any results link at once (ogcapi-processes.md §0.1, §3.3 loopOverStatus).
 */
export function statusDocument(job: JobRecord, baseUrl: string): Record<string, unknown> {
  const self = `${baseUrl}/jobs/${job.jobID}`;
  const links: Array<Record<string, string>> = [
    { href: self, rel: 'self', type: 'application/json', title: 'this job status' },
    { href: `${self}?f=html`, rel: 'alternate', type: 'text/html', title: 'this job status as HTML' },
  ];
  if (job.status === 'accepted' || job.status === 'running')
    links.push({ href: self, rel: 'monitor', type: 'application/json', title: 'monitor this job' });
  if (job.status === 'successful') {
    links.push({ href: `${self}/results`, rel: REL.results, type: 'application/json', title: 'results of this job' });
    links.push({ href: `${self}/results?f=html`, rel: REL.results, type: 'text/html', title: 'results of this job as HTML' });
  }
  links.push({ href: `${baseUrl}/processes/${job.processID}`, rel: 'up', type: 'application/json', title: 'the process' });
  const doc: Record<string, unknown> = { jobID: job.jobID, processID: job.processID, type: job.type, status: job.status };
  if (job.message !== undefined) doc.message = job.message;
  for (const k of ['created', 'started', 'finished', 'updated'] as const) if (job[k]) doc[k] = job[k];
  if (job.progress !== undefined) doc.progress = Math.round(job.progress);
  if (job.warnings?.length) doc.warnings = job.warnings;
  // Which worker process runs it (issue 14, the bullmq manager): an additional member, as statusInfo.yaml allows.
  if (job.worker) doc.worker = job.worker;
  // statusInfo.yaml allows additional members; reserved names were refused when reported.
  for (const [k, v] of Object.entries(job.statusMembers ?? {})) if (!(k in doc)) doc[k] = v;
  doc.links = links;
  return doc;
}
