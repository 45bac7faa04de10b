import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, startTestServer, type TestServer } from '../helpers/server.js';
import { assertProblem } from './problem-assert.js';

// Error answers: one table, RFC 7807 members with the OGC exception URIs (ogcapi-processes.md §2,
// §3.2–3.4); execute errors as application/json, other errors as application/problem+json.
let s: TestServer;
before(async () => {
  s = await startTestServer({ limits: { body_size: 4096 } });
});
after(() => s.stop());

test('unknown process → 404 no-such-process (GET and POST)', async () => {
  await assertProblem(await fetch(`${s.url}/processes/invalid-process-42`), 404, {
    contentType: 'application/problem+json',
    type: 'no-such-process',
    detail: /invalid-process-42/,
  });
  await assertProblem(await execute(s.url, 'invalid-process-42', { inputs: {} }), 404, {
    contentType: 'application/json',
    type: 'no-such-process',
  });
});

test('unknown job → 404 no-such-job for status, results, one result and DELETE', async () => {
  for (const [url, method] of [
    ['/jobs/invalid-job-1', 'GET'],
    ['/jobs/invalid-job-1/results', 'GET'],
    ['/jobs/invalid-job-1/results/x', 'GET'],
    ['/jobs/invalid-job-1', 'DELETE'],
  ]) {
    await assertProblem(await fetch(s.url + url, { method }), 404, {
      contentType: 'application/problem+json',
      type: 'no-such-job',
      detail: /invalid-job-1/,
    });
  }
});

test('404 for unknown paths, 405 with Allow, 406 for unacceptable Accept: problem+json', async () => {
  await assertProblem(await fetch(`${s.url}/nowhere`), 404, { contentType: 'application/problem+json', detail: /\/nowhere/ });
  const m = await fetch(`${s.url}/processes`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.match(m.headers.get('allow')!, /GET/);
  await assertProblem(m, 405, { contentType: 'application/problem+json', detail: /POST/ });
  await assertProblem(await fetch(`${s.url}/jobs`, { method: 'PUT' }), 405, { contentType: 'application/problem+json' });
  await assertProblem(await fetch(`${s.url}/processes`, { headers: { Accept: 'image/png' } }), 406, {
    contentType: 'application/problem+json',
    detail: /image\/png/,
  });
  await assertProblem(await fetch(`${s.url}/processes?f=xml`), 406, { detail: /f=xml/ });
});

test('413 for a body over server.limits.body_size, 415 for a non-JSON body, 400 for bad JSON — all application/json', async () => {
  await assertProblem(await execute(s.url, 'echo', { inputs: { stringInput: 'x'.repeat(10_000) } }), 413, {
    contentType: 'application/json',
    detail: /4096 bytes/,
  });
  const text = await fetch(`${s.url}/processes/echo/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: 'hello',
  });
  await assertProblem(text, 415, { contentType: 'application/json', detail: /text\/plain/ });
  const none = await fetch(`${s.url}/processes/echo/execution`, { method: 'POST', body: new Uint8Array([1, 2]) });
  await assertProblem(none, 415, { contentType: 'application/json' });
  await assertProblem(await execute(s.url, 'echo', '{"inputs": {'), 400, {
    contentType: 'application/json',
    type: 'invalid-request-body',
    detail: /not valid JSON/,
  });
});

test('execute validation errors are application/json with the input named', async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 42 } });
  const body = await assertProblem(res, 400, { contentType: 'application/json', type: 'invalid-input', detail: /stringInput.*rule type/ });
  assert.equal(body.input, 'stringInput');
  const hello = await execute(s.url, 'hello-world', { inputs: { name: 12345 } });
  await assertProblem(hello, 400, { contentType: 'application/json', detail: /name/ });
});
