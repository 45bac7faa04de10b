import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES } from '../../src/api/routes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertProblem } from '../api/problem-assert.js';

// Issue 9, "500s that must be 4xx": a query parameter given as an object (`?f[a]=x`) or as several
// values where one is expected reached the handlers and crashed them (`f.toLowerCase is not a function`).

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.stop());

const get = (pathAndQuery: string) => fetch(`${s.url}${pathAndQuery}`);

test('f given as an object or as a bracketed list is a 400 naming f on every path that takes it', async () => {
  for (const path of ['/', '/conformance', '/processes', '/jobs', '/stored_data', '/processes/echo']) {
    for (const q of ['f[a]=x', 'f[]=json', 'f[0]=json', 'f[a][b]=x']) {
      await assertProblem(await get(`${path}?${q}`), 400, { type: 'invalid-parameter-value', detail: /'f'/ });
    }
  }
});

test('a one-value parameter given twice is a 400; a list parameter may be repeated', async () => {
  await assertProblem(await get('/processes?f=json&f=html'), 400, { detail: /'f' must be a single value/ });
  await assertProblem(await get('/jobs?limit=1&limit=2'), 400, { detail: /'limit'/ });
  const res = await get('/jobs?status=running&status=failed&type=process');
  assert.equal(res.status, 200);
});

test('job-list filters given as objects are 400s naming the filter', async () => {
  for (const name of ['status', 'type', 'processID', 'processId', 'datetime', 'minDuration', 'maxDuration', 'limit', 'offset']) {
    await assertProblem(await get(`/jobs?${name}[a]=x`), 400, { detail: new RegExp(`'${name}'`) });
  }
  for (const name of ['type', 'status', 'name']) {
    await assertProblem(await get(`/stored_data?${name}[a]=x`), 400, { detail: new RegExp(`'${name}'`) });
  }
});

test('an undeclared parameter is ignored, unless it comes as an object', async () => {
  assert.equal((await get('/processes?_=12345')).status, 200);
  await assertProblem(await get('/processes?whatever[a]=1'), 400, { detail: /'whatever'/ });
});

test('every route of the table validates its query (no route left without a schema)', async () => {
  // A GET on each route with an object-valued `f`: never a 5xx, whatever the route does with f.
  for (const r of ROUTES.filter((x) => x.method === 'GET')) {
    const path = r.path.replace(/\{[^}]+\}/g, 'nope');
    const res = await get(`${path}?f[a]=x&zz[b]=1`);
    await res.arrayBuffer();
    assert.equal(res.status, 400, `GET ${path}`);
  }
  assert.equal((await get('/')).status, 200, 'the server still answers');
});
