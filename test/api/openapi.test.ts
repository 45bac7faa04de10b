import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ROUTES } from '../../src/api/routes.js';
import { buildOpenapi, openapiDocument } from '../../src/api/openapi.js';
import { ProcessRegistry, builtinNames } from '../../src/process/registry.js';
import type { Process } from '../../src/process/types.js';
import type { Runtime } from '../../src/runtime.js';
import type { ApiRequest } from '../../src/api/request.js';
import { toOasSchema } from '../../src/api/openapi-schemas.js';
import { skipUnlessShared } from '../helpers/env.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { validateOas30, validateOgc, validateWithOpenapi } from '../helpers/ogc-schemas.js';

type Obj = Record<string, any>;

let s: TestServer;
let doc: Obj;
let apiResponse: Response;

before(async () => {
  s = await startTestServer();
  apiResponse = await fetch(`${s.url}/api`);
  doc = (await apiResponse.json()) as Obj;
});
after(async () => {
  await s.stop();
});

/** Status codes each operation must list: every handler can fail unexpectedly, every path answers 405. */
const ALWAYS = ['405', '500'];

test('GET /api is served as application/vnd.oai.openapi+json;version=3.0 with our base URL', () => {
  assert.equal(apiResponse.status, 200);
  assert.equal(apiResponse.headers.get('content-type'), 'application/vnd.oai.openapi+json;version=3.0');
  assert.match(doc.openapi, /^3\.0\.\d$/);
  assert.deepEqual(doc.servers, [{ url: s.url }]);
  assert.deepEqual(doc.security, [], 'no authentication, documented (conformance class oas30)');
});

test('the generated document validates against the OAS 3.0 schema', { skip: skipUnlessShared() }, () => {
  assert.deepEqual(validateOas30(doc), []);
});

test('the OAS 3.0 validation catches an invalid document (the check can fail)', { skip: skipUnlessShared() }, () => {
  const broken = structuredClone(doc);
  broken.components.schemas.link.properties.href.contentMediaType = 'text/plain';
  assert.ok(validateOas30(broken).length > 0, 'contentMediaType is not an OAS 3.0 keyword');
  const noInfo = structuredClone(doc);
  delete noInfo.info;
  assert.ok(validateOas30(noInfo).length > 0);
});

test('every route of the route table appears with exactly its methods', () => {
  for (const route of ROUTES) {
    const item = doc.paths[route.path];
    assert.ok(item, `${route.path} is documented`);
    const documented = Object.keys(item)
      .filter((k) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'].includes(k))
      .sort();
    const methods = ROUTES.filter((r) => r.path === route.path).map((r) => r.method.toLowerCase());
    assert.deepEqual(documented, methods.sort(), `methods of ${route.path}`);
  }
  for (const expected of [
    '/',
    '/conformance',
    '/api',
    '/api.html',
    '/processes',
    '/processes/{processId}',
    '/processes/{processId}/execution',
    '/jobs',
    '/jobs/{jobId}',
    '/jobs/{jobId}/results',
    '/jobs/{jobId}/results/{outputId}',
    '/outputs/{executionId}/{outputId}',
    '/stored_data',
    '/stored_data/{id}',
    '/stored_data/{id}/dependencies',
  ]) {
    assert.ok(doc.paths[expected], `${expected} documented`);
  }
  assert.ok(doc.paths['/jobs/{jobId}'].delete && doc.paths['/stored_data/{id}'].delete);
});

test('every operation lists its status codes, error bodies are exceptions, path parameters are declared', () => {
  const opIds = new Set<string>();
  for (const [p, item] of Object.entries(doc.paths as Record<string, Obj>)) {
    for (const [method, op] of Object.entries(item as Record<string, Obj>)) {
      const codes = Object.keys(op.responses);
      for (const c of ALWAYS) assert.ok(codes.includes(c), `${method} ${p} documents ${c}`);
      assert.ok(
        codes.some((c) => /^2/.test(c)),
        `${method} ${p} documents a success`,
      );
      assert.ok(!('default' in op.responses), `${method} ${p} lists explicit codes, not default`);
      for (const [code, r] of Object.entries(op.responses as Record<string, Obj>)) {
        if (Number(code) < 400) continue;
        // WMTS and TMS answer their errors with the OGC ExceptionReport XML of their standard.
        if (
          op.tags?.includes('Tile services') &&
          (r.content?.['application/xml'] || r.content?.['text/xml']) &&
          code !== '405' &&
          code !== '500'
        )
          continue;
        const schemas = Object.values(r.content as Record<string, Obj>).map((m) => m.schema.$ref);
        assert.deepEqual([...new Set(schemas)], ['#/components/schemas/exception'], `${method} ${p} ${code} body`);
      }
      assert.ok(op.operationId && !opIds.has(op.operationId), `${method} ${p} has a unique operationId`);
      opIds.add(op.operationId);
      const declared = (op.parameters ?? [])
        .map((x: Obj) => (x.$ref ? doc.components.parameters[x.$ref.split('/').pop()] : x))
        .filter((x: Obj) => x.in === 'path')
        .map((x: Obj) => x.name);
      const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      assert.deepEqual(declared.sort(), templated.sort(), `path parameters of ${method} ${p}`);
    }
  }
  const paths = doc.paths as Record<string, Obj>;
  assert.deepEqual(Object.keys(paths['/processes/{processId}/execution'].post.responses).sort(), [
    '200',
    '201',
    '204',
    '400',
    '404',
    '405',
    '413',
    '415',
    '500',
  ]);
  for (const code of ['200', '404', '406']) assert.ok(paths['/jobs/{jobId}'].get.responses[code], `GET /jobs/{jobId} ${code}`);
  for (const code of ['200', '204', '404', '410', '500']) assert.ok(paths['/jobs/{jobId}/results'].get.responses[code], `results ${code}`);
  assert.ok(paths['/stored_data/{id}'].delete.responses['409']);
  assert.ok(paths['/processes'].get.responses['406'] && paths['/processes'].get.responses['400']);
  assert.equal(paths['/processes/{processId}/execution'].post.responses['201'].headers.Location.$ref, '#/components/headers/Location');
  // Execute errors are application/json for the ETS (ogcapi-processes.md §3.4); others problem+json.
  assert.ok(paths['/processes/{processId}/execution'].post.responses['400'].content['application/json']);
  assert.ok(paths['/jobs/{jobId}'].get.responses['404'].content['application/problem+json']);
});

test('/jobs documents every job-list query parameter', () => {
  const names = doc.paths['/jobs'].get.parameters.map((x: Obj) => doc.components.parameters[x.$ref.split('/').pop()].name).sort();
  assert.deepEqual(names, ['datetime', 'f', 'limit', 'maxDuration', 'minDuration', 'offset', 'processID', 'status', 'type'].sort());
  const limit = doc.components.parameters.limit.schema;
  assert.deepEqual([limit.minimum, limit.maximum, limit.default], [1, 10000, 10]);
});

test('each process has its own execution path with a request body built from its inputs', async () => {
  const list = (await (await fetch(`${s.url}/processes?limit=100`)).json()) as { processes: Array<{ id: string }> };
  assert.ok(list.processes.length >= 2);
  for (const { id } of list.processes) {
    const op = doc.paths[`/processes/${id}/execution`]?.post;
    assert.ok(op, `/processes/${id}/execution documented`);
    const description = (await (await fetch(`${s.url}/processes/${id}`)).json()) as Obj;
    const body = op.requestBody.content['application/json'];
    assert.deepEqual(Object.keys(body.schema.properties.inputs.properties).sort(), Object.keys(description.inputs).sort());
    assert.deepEqual(Object.keys(body.schema.properties.outputs.properties).sort(), Object.keys(description.outputs).sort());
    const required = Object.entries(description.inputs as Record<string, Obj>)
      .filter(([, i]) => (i.minOccurs ?? 1) > 0)
      .map(([k]) => k);
    assert.deepEqual(body.schema.properties.inputs.required ?? [], required);
    assert.deepEqual(body.example, description.example, 'the example execute request is the process example');
    for (const code of ['200', '201', '204', '400', '404', '413', '415', '500']) assert.ok(op.responses[code], `${id} execution ${code}`);
  }
});

test('a process example validates against its execution request body schema and against execute.yaml', async () => {
  const echo = doc.paths['/processes/echo/execution'].post;
  const example = echo.requestBody.content['application/json'].example;
  // The request schema sits in the document; reuse the response validator on a synthetic entry.
  const probe = structuredClone(doc);
  probe.paths['/probe'] = {
    post: { responses: { 200: { content: { 'application/json': { schema: echo.requestBody.content['application/json'].schema } } } } },
  };
  assert.deepEqual(validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', example), []);
  assert.deepEqual(
    validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', {
      inputs: { stringInput: 'x', pause: { href: 'https://example.com/p' }, arrayInput: { value: [1, 2], mediaType: 'application/json' } },
    }),
    [],
  );
  assert.ok(
    validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', { inputs: { pause: 2 } }).length > 0,
    'stringInput is required',
  );
  assert.ok(
    validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', { inputs: { stringInput: 'x', nope: 1 } }).length > 0,
    'unknown input',
  );
  assert.ok(
    validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', { inputs: { stringInput: 'x', pause: 'soon' } }).length > 0,
    'pause is a number',
  );
  if (!skipUnlessShared()) assert.deepEqual(validateOgc('execute', example), []);
});

test('toOasSchema turns JSON Schema keywords OAS 3.0 lacks into OAS 3.0 forms', () => {
  assert.deepEqual(
    toOasSchema({ type: ['string', 'null'], const: 'a', contentMediaType: 'image/tiff', exclusiveMinimum: 0, required: [], $schema: 'x' }),
    {
      nullable: true,
      type: 'string',
      enum: ['a'],
      'x-contentMediaType': 'image/tiff',
      minimum: 0,
      exclusiveMinimum: true,
    },
  );
  assert.deepEqual(toOasSchema({ type: 'array', items: [{ type: 'number' }, { const: 1 }] }), {
    type: 'array',
    items: { anyOf: [{ type: 'number' }, { enum: [1] }] },
  });
});

test('the landing page links the definition as service-desc with the exact OWSLib media type', async () => {
  const landing = (await (await fetch(`${s.url}/`)).json()) as { links: Array<Obj> };
  const desc = landing.links.filter((l) => l.rel === 'service-desc');
  assert.equal(desc.length, 1);
  // OWSLib compares the type string exactly, without spaces (ogcapi-processes.md §6).
  assert.equal(desc[0].type, 'application/vnd.oai.openapi+json;version=3.0');
  const res = await fetch(desc[0].href);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), desc[0].type);
  const doc2 = (await res.json()) as Obj;
  assert.deepEqual(Object.keys(doc2.paths), Object.keys(doc.paths));
  const docLink = landing.links.find((l) => l.rel === 'service-doc');
  assert.ok(docLink);
  assert.equal((await fetch(docLink.href)).status, 200);
});

test('with every built-in process registered, the document is still valid OAS 3.0', { skip: skipUnlessShared() }, async () => {
  const registry = new ProcessRegistry();
  const names = builtinNames();
  assert.ok(names.includes('echo') && names.includes('hello-world'));
  for (const name of names) {
    const mod = (await import(`../../processes/${name}/index.js`)) as { default: Process };
    registry.add(name, mod.default);
  }
  const full = buildOpenapi({ registry }, ROUTES, 'http://localhost:5000');
  for (const name of names) assert.ok(full.paths[`/processes/${name}/execution`], name);
  assert.deepEqual(validateOas30(full), []);
});

test('the document is built once per runtime and base URL', async () => {
  let builds = 0;
  const registry = { all: () => (builds++, []) };
  const rt = { registry } as unknown as Runtime;
  const req = (baseUrl: string) => ({ method: 'GET', path: '/api', params: {}, query: {}, headers: {}, baseUrl }) as ApiRequest;
  const a = await openapiDocument(req('http://a'), rt, ROUTES);
  const perBuild = builds;
  assert.ok(perBuild >= 1);
  const b = await openapiDocument(req('http://a'), rt, ROUTES);
  assert.equal(a.body, b.body, 'the same object');
  assert.equal(builds, perBuild, 'not built again');
  const c = await openapiDocument(req('http://b'), rt, ROUTES);
  assert.equal(builds, 2 * perBuild);
  assert.deepEqual((c.body as Obj).servers, [{ url: 'http://b' }]);
});

test('the served document is stable and follows the Host of the request', async () => {
  const again = (await (await fetch(`${s.url}/api`)).json()) as Obj;
  assert.deepEqual(again, doc);
  // fetch() does not let us set Host; node:http does.
  const other = await new Promise<Obj>((resolve, reject) => {
    http
      .get(`${s.url}/api`, { headers: { Host: 'example.org:8080' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj));
      })
      .on('error', reject);
  });
  assert.deepEqual(other.servers, [{ url: 'http://example.org:8080' }]);
});

test('GET /api.html is the API console (Swagger UI) served by us: its files from this server, nothing from another site', async () => {
  const res = await fetch(`${s.url}/api.html`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  assert.match(html, /^<!DOCTYPE html>/);
  const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(urls.length >= 4);
  for (const u of urls) assert.ok(u.startsWith(s.url), `${u} is ours`);
  assert.ok(html.includes(`data-definition="${s.url}/api"`));
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'console.js']) {
    const asset = await fetch(`${s.url}/api-console/${file}`);
    assert.equal(asset.status, 200, file);
    assert.ok((await asset.arrayBuffer()).byteLength > 100);
  }
  const script = await (await fetch(`${s.url}/api-console/console.js`)).text();
  assert.match(script, /validatorUrl: null/, 'no validator badge (it would call validator.swagger.io)');
  assert.equal((await fetch(`${s.url}/api-console/package.json`)).status, 404, 'only the listed files');
  assert.equal((await fetch(`${s.url}/api-console/..%2Fpackage.json`)).status, 404);
});
