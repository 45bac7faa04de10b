import { checkFields } from '../records/check-fields.js';

const STATUSES = new Set<string>(['accepted', 'running', 'successful', 'failed', 'dismissed']);

/** Why a job read from a store cannot be served (its pages and status documents need these); empty when it can. */
export function checkJob(entry: Record<string, unknown>): string[] {
  const problems = checkFields(entry, {
    jobID: 'string',
    processID: 'string',
    status: 'string',
    created: 'string',
    updated: 'string',
    request: 'object',
  });
  if (typeof entry.status === 'string' && !STATUSES.has(entry.status)) problems.push(`unknown status '${entry.status}'`);
  return problems;
}
