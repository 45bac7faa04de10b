import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, execute, waitForJob, type TestServer } from '../helpers/server.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { renderHtml } from '../../src/api/html/render.js';
import { escapeHtml } from '../../src/api/html/layout.js';
import { exampleRequest } from '../../src/api/html/example-request.js';
import { parseExecuteRequest } from '../../src/process/execute-request.js';
import type { ApiRequest } from '../../src/api/request.js';
import type { ProcessDescription } from '../../src/process/types.js';

const run = promisify(execFile);

let s: TestServer;
let jobId: string;
let storedId: string;
let baseId: string;
const XSS = '<script>window.pwned=1</script><img src=x onerror="alert(1)">';

before(async () => {
  s = await startTestServer();
  // A finished job whose results are a JSON document (so that they are JSON for API clients).
  const r = await execute(
    s.url,
    'echo',
    { inputs: { stringInput: XSS, arrayInput: [1, 2, 3] }, response: 'document' },
    { Prefer: 'respond-async' },
  );
  assert.equal(r.status, 201);
  jobId = ((await r.json()) as { jobID: string }).jobID;
  assert.equal((await waitForJob(s.url, jobId)).status, 'successful');
  const base = await s.runtime.datastore.create({ name: 'base_pyramid', type: 'ROK4-PYRAMID-VECTOR' });
  const derived = await s.runtime.datastore.create({
    name: XSS,
    type: 'ROK4-PYRAMID-RASTER',
    jobId,
    size: 123456,
    use: [base._id],
    type_infos: { tms: 'PM', levels: [10, 11] },
  });
  baseId = base._id;
  storedId = derived._id;
});

after(async () => {
  await s?.stop();
});

/** Every resource with the strings its HTML page must show. */
function resources(): Array<{ path: string; expect: string[] }> {
  return [
    { path: '/', expect: ['dallage', 'OGC API', `${s.url}/processes?f=html`, `${s.url}/api`] },
    { path: '/conformance', expect: ['http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html', 'conf/job-list'] },
    { path: '/processes', expect: ['Echo', 'hello-world', `${s.url}/processes/echo?f=html`, 'async-execute'] },
    {
      path: '/processes/echo',
      expect: ['stringInput', 'Pause (seconds)', 'number, (≥ 0, ≤ 3600)', 'curl -X POST', '&quot;Hello, dallage&quot;'],
    },
    { path: '/jobs', expect: [jobId, 'successful', `${s.url}/jobs/${jobId}?f=html`, 'name="status"', 'name="processID"'] },
    { path: `/jobs/${jobId}`, expect: [jobId, '<progress', `${s.url}/jobs/${jobId}/results?f=html`, 'successful'] },
    {
      path: `/jobs/${jobId}/results`,
      expect: ['arrayInput', `${s.url}/jobs/${jobId}?f=html`, '&lt;script&gt;window.pwned=1&lt;/script&gt;'],
    },
    { path: '/stored_data', expect: ['base_pyramid', `${s.url}/stored_data/${baseId}?f=html`, 'ROK4-PYRAMID-VECTOR'] },
    {
      path: `/stored_data/${storedId}`,
      expect: ['ROK4-PYRAMID-RASTER', `${s.url}/stored_data/${baseId}?f=html`, `${s.url}/jobs/${jobId}?f=html`, '120.6 KiB', 'levels'],
    },
    { path: `/stored_data/${baseId}/dependencies`, expect: ['Used by', `${s.url}/stored_data/${storedId}?f=html`] },
  ];
}

async function html(path: string, how: 'query' | 'accept'): Promise<string> {
  const url = how === 'query' ? `${s.url}${path}${path.includes('?') ? '&' : '?'}f=html` : `${s.url}${path}`;
  const headers: Record<string, string> =
    how === 'accept' ? { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } : {};
  const res = await fetch(url, { headers });
  const body = await res.text();
  assert.equal(res.status, 200, `${how} ${path}: ${body.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${how} ${path}`);
  return body;
}

for (const how of ['query', 'accept'] as const) {
  test(`every resource answers HTML with its information and links (${how === 'query' ? '?f=html' : 'Accept: text/html'})`, async () => {
    for (const r of resources()) {
      const body = await html(r.path, how);
      assert.match(body, /^<!DOCTYPE html>/, r.path);
      assert.match(body, /<a href="http[^"]+"/, `${r.path} has <a> links`);
      for (const e of r.expect) assert.ok(body.includes(e), `${r.path} (${how}) should contain ${e}`);
      assert.ok(!body.includes('<script>window.pwned'), `${r.path} must not carry the injected script`);
    }
  });
}

test('JSON stays the default for Accept: */* and for no Accept header', async () => {
  for (const r of resources()) {
    for (const headers of [{ Accept: '*/*' }, {}] as Array<Record<string, string>>) {
      const res = await fetch(`${s.url}${r.path}`, { headers });
      const body = await res.text();
      assert.equal(res.status, 200, r.path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${r.path} with ${JSON.stringify(headers)}`);
      JSON.parse(body);
    }
  }
});

test('user-provided text renders inert: results, stored data names and reflected filter values are escaped', async () => {
  const results = await html(`/jobs/${jobId}/results`, 'query');
  assert.ok(results.includes(escapeHtml(XSS)));
  assert.ok(!results.includes('<img src=x'));
  const item = await html(`/stored_data/${storedId}`, 'query');
  assert.ok(item.includes(`<h1>${escapeHtml(XSS)}</h1>`));
  assert.ok(!item.includes('<img src=x'));
  const reflected = await html(`/jobs?processID=${encodeURIComponent('"><script>window.pwned=1</script>')}`, 'query');
  assert.ok(reflected.includes('value="&quot;&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;"'));
  assert.ok(!reflected.includes('<script>window.pwned'));
});

test('the job list form filters: status checkboxes and processID reload /jobs?f=html with the filter applied', async () => {
  const second = await execute(s.url, 'hello-world', { inputs: { name: 'filter' } }, { Prefer: 'respond-async' });
  const secondId = ((await second.json()) as { jobID: string }).jobID;
  await waitForJob(s.url, secondId);
  const onlyEcho = await html('/jobs?processID=echo&status=successful&status=failed', 'query');
  assert.ok(onlyEcho.includes(jobId));
  assert.ok(!onlyEcho.includes(secondId));
  assert.match(onlyEcho, /value="successful" checked/);
  assert.match(onlyEcho, /value="failed" checked/);
  assert.doesNotMatch(onlyEcho, /value="running" checked/);
  const noneFailed = await html('/jobs?status=failed', 'query');
  assert.ok(!noneFailed.includes(jobId));
  assert.ok(noneFailed.includes('no job matches'));
  // Paging: one job per page gives a next link that stays HTML, then a prev link.
  const first = await html('/jobs?limit=1', 'query');
  const next = /<a rel="next" href="([^"]+)"/.exec(first)?.[1];
  assert.ok(next, 'a next link');
  const nextUrl = new URL(next.replace(/&amp;/g, '&'));
  assert.equal(nextUrl.searchParams.get('f'), 'html');
  assert.equal(nextUrl.searchParams.get('offset'), '1');
  const page2 = await (await fetch(nextUrl)).text();
  assert.match(page2, /<a rel="prev" href="/);
});

test('the process page curl line runs as printed and creates a job', { skip: skipUnlessCommands('curl', 'sh') }, async () => {
  const page = await html('/processes/hello-world', 'query');
  const line = /<pre class="curl">([^<]+)<\/pre>/.exec(page)?.[1];
  assert.ok(line, 'a curl line');
  const command = line
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  assert.ok(
    command.startsWith(
      `curl -X POST ${s.url}/processes/hello-world/execution -H 'Content-Type: application/json' -H 'Prefer: respond-async' -d '`,
    ),
  );
  const { stdout } = await run('sh', ['-c', `${command} -s -w '\\n%{http_code}'`]);
  const [json, code] = stdout.trim().split('\n');
  assert.equal(code, '201');
  const job = JSON.parse(json) as { jobID: string };
  const done = await waitForJob(s.url, job.jobID);
  assert.equal(done.status, 'successful');
});

const fakeReq: ApiRequest = { method: 'GET', path: '/', params: {}, query: {}, headers: {}, baseUrl: 'http://h' };

test('without an example, the process page builds one from the input schemas that the server accepts', () => {
  const description: ProcessDescription = {
    id: 'p',
    version: '1',
    title: 'P',
    jobControlOptions: ['async-execute'],
    outputTransmission: ['value'],
    inputs: {
      level: { schema: { type: 'integer', minimum: 3, maximum: 20 }, minOccurs: 1 },
      mode: { schema: { type: 'string', enum: ['fast', 'best'] } },
      area: {
        schema: {
          type: 'object',
          format: 'ogc-bbox',
          required: ['bbox'],
          properties: { bbox: { type: 'array', items: { type: 'number' } } },
        },
      },
      ratio: { schema: { type: 'number' }, minOccurs: 0 },
    },
    outputs: { out: { schema: { type: 'string' } } },
  };
  const example = exampleRequest(description) as { inputs: Record<string, unknown> };
  assert.deepEqual(Object.keys(example.inputs).sort(), ['area', 'level', 'mode']);
  assert.equal(example.inputs.level, 3);
  assert.equal(example.inputs.mode, 'fast');
  parseExecuteRequest(description, example);
  const page = renderHtml('process', description, fakeReq);
  assert.ok(page.includes('&quot;level&quot;: 3'));
  assert.ok(page.includes('<code>&quot;fast&quot;</code> <code>&quot;best&quot;</code>'), 'enum values shown');
});

test('a failed job shows its error; binary results are download links', () => {
  const failed = renderHtml(
    'job',
    { jobID: 'j1', processID: 'p', status: 'failed', message: 'input <b>dem</b> is unreadable', links: [] },
    fakeReq,
  );
  assert.match(failed, /<div id="failure" class="error">/);
  assert.ok(failed.includes('input &lt;b&gt;dem&lt;/b&gt; is unreadable'));
  assert.match(failed, /<button type="button" id="dismiss" hidden>/);
  assert.match(failed, /<div id="results" class="callout" hidden>/);
  const running = renderHtml('job', { jobID: 'j2', processID: 'p', status: 'running', progress: 42, links: [] }, fakeReq);
  assert.match(running, /<progress id="job-progress" max="100" value="42">/);
  assert.match(running, /<button type="button" id="dismiss">/);
  const job = { jobID: 'j3', processID: 'p', status: 'successful', links: [] };
  const raw = renderHtml('results', { job, contentType: 'image/png', body: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }, fakeReq);
  assert.match(raw, /<a href="http:\/\/h\/jobs\/j3\/results\?f=json" download="">download the result<\/a>/);
  const doc = renderHtml(
    'results',
    {
      job,
      contentType: 'application/json',
      body: { tile: { value: 'iVBORw0KGgo=', mediaType: 'image/png', encoding: 'base64' }, note: 'a <i>note</i>' },
    },
    fakeReq,
  );
  assert.match(doc, /<a href="http:\/\/h\/jobs\/j3\/results\/tile" download="">download<\/a>/);
  assert.ok(doc.includes('<pre>a &lt;i&gt;note&lt;/i&gt;</pre>'));
});
