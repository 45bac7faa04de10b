import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/errors.js';
import { jobFilter, parseDatetime } from '../../src/api/jobs.js';
import type { ApiRequest } from '../../src/api/request.js';
import type { JobRecord, JobStatus } from '../../src/manager/job.js';
import { matchesFilter } from '../../src/manager/store.js';

function req(query: ApiRequest['query']): ApiRequest {
  return { method: 'GET', path: '/jobs', params: {}, query, headers: {}, baseUrl: 'http://h' };
}

function badParameter(fn: () => unknown, parameter: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof ApiError && e.status === 400 && e.extra.parameter === parameter && e.detail.includes(parameter),
  );
}

const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

function job(id: string, status: JobStatus, created: number, started?: number, finished?: number, processID = 'echo'): JobRecord {
  return {
    jobID: id,
    processID,
    type: 'process',
    status,
    created: iso(created),
    updated: iso(finished ?? started ?? created),
    ...(started !== undefined ? { started: iso(started) } : {}),
    ...(finished !== undefined ? { finished: iso(finished) } : {}),
    request: { outputs: {}, response: 'raw' },
  };
}

test('status, processID, type: comma-separated and repeated values; unknown values refused', () => {
  assert.deepEqual(jobFilter(req({ status: 'running,successful' })), { status: ['running', 'successful'] });
  assert.deepEqual(jobFilter(req({ status: ['failed', 'dismissed'] })), { status: ['failed', 'dismissed'] });
  assert.deepEqual(jobFilter(req({ processID: 'echo, hello-world' })), { processID: ['echo', 'hello-world'] });
  assert.deepEqual(jobFilter(req({ type: 'process' })), { type: ['process'] });
  assert.deepEqual(jobFilter(req({})), {});
  badParameter(() => jobFilter(req({ status: 'running,done' })), 'status');
  badParameter(() => jobFilter(req({ type: 'openeo' })), 'type');
});

test('datetime: instant, closed interval, open ends with ..; bad values refused', () => {
  assert.deepEqual(parseDatetime('2025-01-01T00:00:00Z'), { instant: T0 });
  assert.deepEqual(parseDatetime('2025-01-01T00:00:00Z/2025-01-02T00:00:00Z'), { start: T0, end: T0 + 86_400_000 });
  assert.deepEqual(parseDatetime('../2025-01-01T00:00:00Z'), { start: undefined, end: T0 });
  assert.deepEqual(parseDatetime('2025-01-01T00:00:00Z/..'), { start: T0, end: undefined });
  assert.deepEqual(parseDatetime('2025-01-01T00:00:00Z/'), { start: T0, end: undefined });
  assert.equal(parseDatetime(undefined), undefined);
  badParameter(() => parseDatetime('yesterday'), 'datetime');
  badParameter(() => parseDatetime('2025-01-02T00:00:00Z/2025-01-01T00:00:00Z'), 'datetime');
  badParameter(() => parseDatetime('a/b/c'), 'datetime');
});

test('minDuration/maxDuration: seconds ≥ 0; bad values refused', () => {
  assert.deepEqual(jobFilter(req({ minDuration: '2', maxDuration: '10.5' })), { minDuration: 2, maxDuration: 10.5 });
  badParameter(() => jobFilter(req({ minDuration: '-1' })), 'minDuration');
  badParameter(() => jobFilter(req({ maxDuration: 'long' })), 'maxDuration');
});

test('matchesFilter: status, processID, type, datetime on created', () => {
  const a = job('a', 'successful', 0, 1, 5);
  const b = job('b', 'running', 100, 101, undefined, 'hello-world');
  const now = T0 + 200_000;
  assert.equal(matchesFilter(a, { status: ['successful'] }, now), true);
  assert.equal(matchesFilter(b, { status: ['successful', 'failed'] }, now), false);
  assert.equal(matchesFilter(b, { processID: ['hello-world'] }, now), true);
  assert.equal(matchesFilter(a, { processID: ['hello-world'] }, now), false);
  assert.equal(matchesFilter(a, { type: ['process'] }, now), true);
  assert.equal(matchesFilter(a, { datetime: { instant: T0 } }, now), true);
  assert.equal(matchesFilter(b, { datetime: { instant: T0 } }, now), false);
  assert.equal(matchesFilter(a, { datetime: { start: T0 + 50_000 } }, now), false);
  assert.equal(matchesFilter(b, { datetime: { start: T0 + 50_000 } }, now), true);
  assert.equal(matchesFilter(a, { datetime: { end: T0 + 50_000 } }, now), true);
  assert.equal(matchesFilter(b, { datetime: { end: T0 + 50_000 } }, now), false);
  assert.equal(matchesFilter(b, { datetime: { start: T0 + 100_000, end: T0 + 100_000 } }, now), true); // bounds inclusive
});

test('matchesFilter durations: finished = finished − started, running = now − started, others left out', () => {
  const now = T0 + 1000_000;
  const fin4 = job('f', 'successful', 0, 1, 5); // 4 s
  const failed10 = job('x', 'failed', 0, 0, 10); // 10 s
  const run = job('r', 'running', 990, 995); // 5 s at `now`
  const acc = job('q', 'accepted', 999); // no start
  const dismissedNoStart = job('d', 'dismissed', 0, undefined, 3);
  assert.equal(matchesFilter(fin4, { minDuration: 4 }, now), true);
  assert.equal(matchesFilter(fin4, { minDuration: 4.5 }, now), false);
  assert.equal(matchesFilter(fin4, { maxDuration: 4 }, now), true);
  assert.equal(matchesFilter(fin4, { maxDuration: 3 }, now), false);
  assert.equal(matchesFilter(failed10, { minDuration: 5, maxDuration: 10 }, now), true);
  assert.equal(matchesFilter(run, { minDuration: 5 }, now), true);
  assert.equal(matchesFilter(run, { minDuration: 6 }, now), false);
  assert.equal(matchesFilter(run, { maxDuration: 4 }, now), false);
  assert.equal(matchesFilter(acc, { maxDuration: 100 }, now), false);
  assert.equal(matchesFilter(acc, { minDuration: 0 }, now), false);
  assert.equal(matchesFilter(dismissedNoStart, { maxDuration: 100 }, now), false);
});
