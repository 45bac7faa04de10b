import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES, runRoute } from '../../src/api/routes.js';
import { conformance, landingPage } from '../../src/api/landing.js';
import { describeProcess, listProcesses } from '../../src/api/processes.js';
import { favicon } from '../../src/api/favicon.js';
import type { ApiRequest } from '../../src/api/request.js';
import { ProcessRegistry } from '../../src/process/registry.js';
import type { Process } from '../../src/process/types.js';
import type { Runtime } from '../../src/runtime.js';
import type { ApiError } from '../../src/errors.js';

// Handlers are pure functions of a request (DESIGN §10): called here without a socket or Express.

async function runtime(): Promise<Runtime> {
  const registry = new ProcessRegistry();
  registry.add('echo', ((await import('../../processes/echo/index.js')) as { default: Process }).default);
  return { registry } as unknown as Runtime;
}

function request(
  path: string,
  query: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  params: Record<string, string> = {},
): ApiRequest {
  return {
    method: 'GET',
    path,
    params,
    query: query as ApiRequest['query'],
    headers,
    baseUrl: 'http://api.test',
    inputRoots: ['/srv/inputs'],
  };
}

test('landing page and conformance: JSON by default, HTML on f=html, links built from the base URL', async () => {
  const rt = await runtime();
  const landing = await landingPage(request('/'), rt);
  assert.equal(landing.status, 200);
  const doc = landing.body as { description: string; links: Array<{ href: string; rel: string }> };
  assert.ok(doc.links.every((l) => l.href.startsWith('http://api.test/')));
  assert.match(doc.description, /processes: echo$/, 'says what this configuration offers');
  const html = await conformance(request('/conformance', { f: 'html' }), rt);
  assert.match(String(html.headers?.['Content-Type']), /^text\/html/);
  assert.match(String(html.body), /ogcapi-processes-1\/1\.0\/conf\/core/);
});

test('process list and description, and the process page with the configured input root', async () => {
  const rt = await runtime();
  const list = await listProcesses(request('/processes'), rt);
  assert.match(Buffer.from(list.body as Buffer).toString('utf8'), /"id":"echo"/);
  const described = await describeProcess(request('/processes/echo', {}, {}, { processId: 'echo' }), rt);
  assert.equal((described.body as { id: string }).id, 'echo');
  await assert.rejects(
    describeProcess(request('/processes/nope', {}, {}, { processId: 'nope' }), rt),
    (e: ApiError) => e.kind === 'no-such-process',
  );
  const page = String((await describeProcess(request('/processes/echo', { f: 'html' }, {}, { processId: 'echo' }), rt)).body);
  assert.match(page, /<code>\/srv\/inputs<\/code>/, 'the page names the configured input root');
});

test('runRoute checks the query against the route declaration before the handler', async () => {
  const rt = await runtime();
  const route = ROUTES.find((r) => r.path === '/processes' && r.method === 'GET')!;
  await assert.rejects(
    runRoute(route, request('/processes', { f: { a: 'x' } }), rt, new AbortController().signal),
    (e: ApiError) => e.kind === 'invalid-parameter' && e.extra.parameter === 'f',
  );
  const ok = await runRoute(route, request('/processes', { limit: '1' }), rt, new AbortController().signal);
  assert.equal(ok.status, 200);
});

test('the favicon is an SVG of our own', async () => {
  const icon = await favicon();
  assert.equal(icon.headers?.['Content-Type'], 'image/svg+xml');
  assert.match(String(icon.body), /^<svg /);
});
