import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessShared } from '../helpers/env.js';
import { builtinNames } from '../../src/process/registry.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import { validateOgc, validateWithOpenapi } from '../helpers/ogc-schemas.js';

/**
 * End-to-end sweep: every JSON body the server answers on the main paths is validated against the
 * official OGC schema (when ../shared is there) and against our own /api document (always).
 */

type Obj = Record<string, any>;

let s: TestServer;
let api: Obj;
/** Official schemas are checked only when ../shared is there (throws under CI when it is not). */
const withOfficial = !skipUnlessShared();

before(async () => {
  s = await startTestServer();
  api = (await (await fetch(`${s.url}/api`)).json()) as Obj;
});
after(async () => {
  await s.stop();
});

/**
 * Checks status and JSON media type, then validates the body with the official schema `ogcName`
 * (if any) and with our document's schema for (path, method, status, media type).
 */
async function checked(
  res: Response,
  method: string,
  expectedStatus: number,
  ogcName: string | undefined,
  documentedAs = method,
): Promise<Obj> {
  const url = new URL(res.url);
  const text = await res.text();
  assert.equal(res.status, expectedStatus, `${method} ${url.pathname}${url.search}: ${text.slice(0, 300)}`);
  const type = res.headers.get('content-type') ?? '';
  assert.match(type, /^application\/(problem\+)?json/, `${method} ${url.pathname} is JSON`);
  const body = JSON.parse(text) as Obj;
  if (ogcName && withOfficial)
    assert.deepEqual(validateOgc(ogcName, body), [], `${method} ${url.pathname}${url.search} against ${ogcName}.yaml`);
  assert.deepEqual(
    validateWithOpenapi(api, url.pathname, documentedAs, res.status, type, body),
    [],
    `${method} ${url.pathname}${url.search} against /api`,
  );
  return body;
}

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${s.url}${path}`, { headers });

test('the validators reject wrong bodies (these checks can fail)', { skip: skipUnlessShared() }, () => {
  assert.ok(
    validateOgc('statusInfo', { jobID: 'j', status: 'running', type: 'process', finished: null }).length > 0,
    'null date (pygeoapi #8)',
  );
  assert.ok(validateOgc('statusInfo', { jobID: 'j', status: 'done', type: 'process' }).length > 0, 'unknown status');
  assert.ok(validateOgc('exception', { title: 'no type' }).length > 0);
  assert.ok(validateOgc('processList', { processes: [{ id: 'x' }], links: [] }).length > 0, 'version is required');
  assert.ok(validateOgc('results', { a: { no: 'value or href' } }).length > 0, 'an unqualified object is not a results value');
  assert.deepEqual(
    validateOgc('results', { a: 1, b: 'x', c: [1, 2], d: { href: 'http://h/x' }, e: { value: { k: 1 }, mediaType: 'application/json' } }),
    [],
  );
  assert.deepEqual(
    validateOgc('execute', { inputs: { a: 5, b: [1, 2], c: { href: 'http://h/x' } }, subscriber: { successUri: 'http://h/cb' } }),
    [],
  );
});

test('validateWithOpenapi rejects bodies our document does not allow', () => {
  assert.ok(
    validateWithOpenapi(api, '/jobs/abc', 'GET', 200, 'application/json', { jobID: 'abc', status: 'running' }).length > 0,
    'type missing',
  );
  assert.ok(
    validateWithOpenapi(api, '/jobs/abc', 'GET', 200, 'application/json', {
      jobID: 'abc',
      status: 'running',
      type: 'process',
      progress: 120,
    }).length > 0,
  );
  assert.ok(validateWithOpenapi(api, '/jobs/abc', 'GET', 418, 'application/json', {}).length > 0, 'undocumented status');
  assert.ok(validateWithOpenapi(api, '/nowhere', 'GET', 200, 'application/json', {}).length > 0, 'undocumented path');
  assert.deepEqual(
    validateWithOpenapi(api, '/jobs/abc', 'GET', 200, 'application/json; charset=utf-8', {
      jobID: 'abc',
      status: 'running',
      type: 'process',
    }),
    [],
  );
});

test('landing page and conformance', async () => {
  const landing = await checked(await get('/'), 'GET', 200, 'landingPage');
  const rels = landing.links.map((l: Obj) => l.rel);
  for (const rel of [
    'service-desc',
    'service-doc',
    'http://www.opengis.net/def/rel/ogc/1.0/conformance',
    'http://www.opengis.net/def/rel/ogc/1.0/processes',
    'http://www.opengis.net/def/rel/ogc/1.0/job-list',
  ]) {
    assert.ok(rels.includes(rel), `landing link ${rel}`);
  }
  const conf = await checked(await get('/conformance'), 'GET', 200, 'confClasses');
  assert.ok(conf.conformsTo.includes('http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30'));
  // Same documents with Accept: */* (OWSLib, ETS).
  await checked(await get('/', { Accept: '*/*' }), 'GET', 200, 'landingPage');
});

test('process list: full, ?limit=1 gives exactly one and a next link that leads on', async () => {
  const all = await checked(await get('/processes'), 'GET', 200, 'processList');
  assert.ok(all.processes.length >= 2);
  const one = await checked(await get('/processes?limit=1'), 'GET', 200, 'processList');
  assert.equal(one.processes.length, 1);
  const next = one.links.find((l: Obj) => l.rel === 'next');
  assert.ok(next, 'next link');
  const second = await checked(await fetch(next.href), 'GET', 200, 'processList');
  assert.equal(second.processes.length, 1);
  assert.notEqual(second.processes[0].id, one.processes[0].id);
  assert.equal(second.processes[0].id, all.processes[1].id);
});

test('each process description', async () => {
  const all = (await (await get('/processes?limit=1000')).json()) as Obj;
  for (const summary of all.processes) {
    const d = await checked(await get(`/processes/${summary.id}`), 'GET', 200, 'process');
    assert.equal(d.id, summary.id);
    assert.ok(d.jobControlOptions.length > 0, 'the ETS needs jobControlOptions (§3.3)');
    if (withOfficial && d.example) assert.deepEqual(validateOgc('execute', d.example), [], `example of ${d.id} against execute.yaml`);
  }
});

test('sync echo with response=document: a results document, values and a link', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'teststring', pause: 0, arrayInput: [1, 2, 3], bboxInput: { bbox: [2.1, 48.7, 2.5, 49.0] } },
    outputs: { stringInput: {}, arrayInput: {}, bboxInput: {}, pause: { transmissionMode: 'reference' } },
    response: 'document',
  });
  const doc = await checked(res, 'POST', 200, 'results');
  assert.equal(doc.stringInput, 'teststring');
  assert.deepEqual(doc.arrayInput, [1, 2, 3]);
  assert.deepEqual(doc.bboxInput.bbox, [2.1, 48.7, 2.5, 49.0]);
  assert.equal(typeof doc.pause.href, 'string');
  const linked = await fetch(doc.pause.href);
  assert.equal(linked.status, 200);
  assert.equal(JSON.parse(await linked.text()), 0);
});

test('async echo: 201 statusInfo + Location, status after, results document, job list filters', async () => {
  const res = await execute(
    s.url,
    'echo',
    { inputs: { stringInput: 'teststring', pause: 0.2 }, response: 'document' },
    { Prefer: 'respond-async' },
  );
  const created = await checked(res, 'POST', 201, 'statusInfo');
  assert.equal(res.headers.get('location'), `${s.url}/jobs/${created.jobID}`);
  assert.ok(['accepted', 'running'].includes(created.status));
  await waitForJob(s.url, created.jobID);
  const done = await checked(await get(`/jobs/${created.jobID}`), 'GET', 200, 'statusInfo');
  assert.equal(done.status, 'successful');
  assert.ok(done.links.some((l: Obj) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/results'));
  const results = await checked(await get(`/jobs/${created.jobID}/results`), 'GET', 200, 'results');
  assert.deepEqual(results, { stringInput: 'teststring', pause: 0.2 });

  const list = await checked(await get('/jobs'), 'GET', 200, 'jobList');
  assert.ok(list.jobs.some((j: Obj) => j.jobID === created.jobID));
  const filtered = await checked(
    await get('/jobs?processID=echo&status=successful&type=process&datetime=../..&minDuration=0'),
    'GET',
    200,
    'jobList',
  );
  assert.ok(filtered.jobs.some((j: Obj) => j.jobID === created.jobID));
  assert.ok(filtered.jobs.every((j: Obj) => j.processID === 'echo' && j.status === 'successful'));
  const none = await checked(await get('/jobs?processID=hello-world'), 'GET', 200, 'jobList');
  assert.ok(none.jobs.every((j: Obj) => j.processID === 'hello-world'));
  assert.ok(!none.jobs.some((j: Obj) => j.jobID === created.jobID));
  // A second job, so that limit=1 pages.
  await checked(await execute(s.url, 'hello-world', { inputs: { name: 'x' } }, { Prefer: 'respond-async' }), 'POST', 201, 'statusInfo');
  const page = await checked(await get('/jobs?limit=1'), 'GET', 200, 'jobList');
  assert.equal(page.jobs.length, 1);
  assert.ok(page.links.some((l: Obj) => l.rel === 'next'));
});

test('a long job: running status, results not ready (404), dismiss, then its status and results', async () => {
  // 600 s: the job cannot finish during the test; it is dismissed below, which stops it.
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'teststring', pause: 600 } }, { Prefer: 'respond-async' });
  const created = await checked(res, 'POST', 201, 'statusInfo');
  const running = await checked(await get(`/jobs/${created.jobID}`), 'GET', 200, 'statusInfo');
  assert.ok(['accepted', 'running'].includes(running.status));
  assert.ok(
    !running.links.some((l: Obj) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/results'),
    'no results link before success (ETS loopOverStatus)',
  );
  assert.ok(running.links.some((l: Obj) => l.rel === 'monitor'));
  const notReady = await checked(await get(`/jobs/${created.jobID}/results`), 'GET', 404, 'exception');
  assert.equal(notReady.type, 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready');

  const dismissed = await checked(await fetch(`${s.url}/jobs/${created.jobID}`, { method: 'DELETE' }), 'DELETE', 200, 'statusInfo');
  assert.equal(dismissed.status, 'dismissed');
  const after = await checked(await get(`/jobs/${created.jobID}`), 'GET', 200, 'statusInfo');
  assert.equal(after.status, 'dismissed');
  const gone = await checked(await get(`/jobs/${created.jobID}/results`), 'GET', 410, 'exception');
  assert.match(gone.type, /job-dismissed$/);
});

test('exceptions: unknown process, unknown job, invalid input, bad parameters, wrong method or format', async () => {
  const OGC = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';
  const noProcess = await checked(await get('/processes/invalid-process-x'), 'GET', 404, 'exception');
  assert.equal(noProcess.type, `${OGC}no-such-process`);
  const noProcessExec = await checked(await execute(s.url, 'invalid-process-x', { inputs: {} }), 'POST', 404, 'exception');
  assert.equal(noProcessExec.type, `${OGC}no-such-process`);
  const noJob = await checked(await get('/jobs/invalid-job-x'), 'GET', 404, 'exception');
  assert.equal(noJob.type, `${OGC}no-such-job`);
  const noJobResults = await checked(await get('/jobs/invalid-job-x/results'), 'GET', 404, 'exception');
  assert.equal(noJobResults.type, `${OGC}no-such-job`);
  await checked(await fetch(`${s.url}/jobs/invalid-job-x`, { method: 'DELETE' }), 'DELETE', 404, 'exception');
  await checked(await execute(s.url, 'echo', { inputs: { stringInput: 5 } }), 'POST', 400, 'exception');
  await checked(await execute(s.url, 'echo', { 'invalid-execute-request': 'true)' }), 'POST', 400, 'exception');
  await checked(await execute(s.url, 'echo', 'x', { 'Content-Type': 'text/plain' }), 'POST', 415, 'exception');
  await checked(await get('/processes?limit=0'), 'GET', 400, 'exception');
  await checked(await get('/jobs?status=done'), 'GET', 400, 'exception');
  await checked(await get('/jobs?f=xml'), 'GET', 406, 'exception');
  const notAllowed = await fetch(`${s.url}/jobs`, { method: 'PUT' });
  // 405 is documented on the operations the path has (a PUT operation would claim PUT works).
  const problem = await checked(notAllowed, 'PUT', 405, 'exception', 'GET');
  assert.equal(problem.status, 405);
  assert.equal(notAllowed.headers.get('allow'), 'GET, HEAD');
});

test('stored data endpoints answer what the document says', async () => {
  const list = await checked(await get('/stored_data'), 'GET', 200, undefined);
  assert.ok(Array.isArray(list.stored_data));
  await checked(await get('/stored_data/nope'), 'GET', 404, 'exception');
  await checked(await get('/stored_data/nope/dependencies'), 'GET', 404, 'exception');
});

test('every built-in process description validates against process.yaml', { skip: skipUnlessShared() }, async () => {
  const all = await startTestServer({ processes: Object.fromEntries(builtinNames().map((n) => [n, n])) });
  try {
    const allApi = (await (await fetch(`${all.url}/api`)).json()) as Obj;
    for (const name of builtinNames()) {
      const res = await fetch(`${all.url}/processes/${name}`);
      assert.equal(res.status, 200, name);
      const d = (await res.json()) as Obj;
      assert.deepEqual(validateOgc('process', d), [], `description of ${name} against process.yaml`);
      assert.deepEqual(
        validateWithOpenapi(allApi, `/processes/${name}`, 'GET', 200, 'application/json', d),
        [],
        `description of ${name} against /api`,
      );
      if (d.example) {
        assert.deepEqual(validateOgc('execute', d.example), [], `example of ${name} against execute.yaml`);
        const body = allApi.paths[`/processes/${name}/execution`].post.requestBody.content['application/json'];
        const probe = {
          ...allApi,
          paths: { '/probe': { post: { responses: { 200: { content: { 'application/json': { schema: body.schema } } } } } } },
        };
        assert.deepEqual(
          validateWithOpenapi(probe, '/probe', 'POST', 200, 'application/json', d.example),
          [],
          `example of ${name} against its request body schema`,
        );
      }
    }
  } finally {
    await all.stop();
  }
});

test('object outputs in a results document are qualified values (results.yaml)', {
  skip: skipUnlessShared(),
}, async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'a', objectInput: { k: 1 } }, response: 'document' });
  const doc = await checked(res, 'POST', 200, 'results');
  assert.deepEqual(doc.objectInput, { value: { k: 1 }, mediaType: 'application/json' });
});
