import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, startTestServer, type TestServer } from '../helpers/server.js';
import { assertProblem, jobCount, multipartParts, writeFailingPlugin } from './problem-assert.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// Synchronous executions: the table "mapping execute responses" of OGC 18-062r2 clause 7
// (ogcapi-processes.md §2 Core) and what the ETS checks (§3.3, §3.4).
let s: TestServer;
let pluginDir: string;

before(async () => {
  pluginDir = await mkdtemp(path.join(os.tmpdir(), 'dallage-plugin-'));
  s = await startTestServer({ processes: { echo: 'echo', 'hello-world': 'hello-world', fail: await writeFailingPlugin(pluginDir) } });
});
after(async () => {
  await s.stop();
  await rm(pluginDir, { recursive: true, force: true });
});

test('raw + one value → 200 with the value itself in its media type; no Link, no job', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'teststring' },
    outputs: { stringInput: { transmissionMode: 'value' } },
    response: 'raw',
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain/);
  assert.equal(await res.text(), 'teststring');
  assert.equal(res.headers.get('link'), null);
  assert.equal(res.headers.get('preference-applied'), null);
  assert.equal(await jobCount(s.url), 0);
});

test('default response is raw; a JSON output as raw is its JSON; binary comes back as bytes', async () => {
  const obj = await execute(s.url, 'echo', { inputs: { stringInput: 'x', objectInput: { a: [1, 2] } }, outputs: { objectInput: {} } });
  assert.equal(obj.status, 200);
  assert.match(obj.headers.get('content-type')!, /^application\/json/);
  assert.deepEqual(await obj.json(), { a: [1, 2] });
  const bytes = Buffer.from([0, 1, 2, 3, 254, 255]);
  const bin = await execute(s.url, 'echo', {
    inputs: { stringInput: 'x', binaryInput: { value: bytes.toString('base64'), mediaType: 'image/tiff' } },
    outputs: { binaryInput: {} },
  });
  assert.equal(bin.status, 200);
  assert.equal(bin.headers.get('content-type'), 'image/tiff');
  assert.deepEqual(Buffer.from(await bin.arrayBuffer()), bytes);
});

test('raw + several values → multipart/related, one part per output with Content-ID', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'teststring', pause: 0, arrayInput: [1, 2, 3] },
    outputs: { stringInput: {}, arrayInput: {} },
    response: 'raw',
  });
  assert.equal(res.status, 200);
  const ct = res.headers.get('content-type')!;
  assert.match(ct, /^multipart\/related; boundary=/);
  const parts = multipartParts(ct, Buffer.from(await res.arrayBuffer()));
  assert.deepEqual(
    parts.map((p) => p.headers['content-id']),
    ['<stringInput>', '<arrayInput>'],
  );
  assert.equal(parts[0].body, 'teststring');
  assert.match(parts[0].headers['content-type'], /^text\/plain/);
  assert.deepEqual(JSON.parse(parts[1].body), [1, 2, 3]);
});

test('raw + only references → 204 with one Link per output; the links serve the outputs', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'by reference', arrayInput: [4, 5] },
    outputs: { stringInput: { transmissionMode: 'reference' }, arrayInput: { transmissionMode: 'reference' } },
  });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), '');
  const links = res.headers.get('link')!.split(/,\s*(?=<)/);
  assert.equal(links.length, 2);
  const hrefs = links.map((l) => /^<([^>]+)>/.exec(l)![1]);
  assert.match(links[0], /title="stringInput"/);
  const first = await fetch(hrefs[0]);
  assert.equal(first.status, 200);
  assert.equal(await first.text(), 'by reference');
  const second = await fetch(hrefs[1]);
  assert.deepEqual(await second.json(), [4, 5]);
  assert.equal(await jobCount(s.url), 0);
});

test('raw + mixed value/reference → multipart, the reference part empty with Content-Location', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'mixed', arrayInput: [7] },
    outputs: { stringInput: { transmissionMode: 'value' }, arrayInput: { transmissionMode: 'reference' } },
  });
  assert.equal(res.status, 200);
  const parts = multipartParts(res.headers.get('content-type')!, Buffer.from(await res.arrayBuffer()));
  assert.equal(parts[0].body, 'mixed');
  assert.equal(parts[1].headers['content-id'], '<arrayInput>');
  assert.equal(parts[1].body, '');
  const loc = parts[1].headers['content-location'];
  assert.ok(loc);
  assert.deepEqual(await (await fetch(loc)).json(), [7]);
});

test('document → results map output id → value, or a link for references', async () => {
  const res = await execute(s.url, 'echo', {
    inputs: { stringInput: 'doc', pause: 0, bboxInput: { bbox: [1, 2, 3, 4] }, binaryInput: Buffer.from('AB').toString('base64') },
    outputs: { stringInput: {}, pause: {}, bboxInput: {}, binaryInput: { transmissionMode: 'reference' } },
    response: 'document',
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const doc = (await res.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc).sort(), ['bboxInput', 'binaryInput', 'pause', 'stringInput']);
  assert.equal(doc.stringInput, 'doc');
  assert.equal(doc.pause, 0);
  assert.deepEqual(doc.bboxInput, { bbox: [1, 2, 3, 4], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' });
  const link = doc.binaryInput as { href: string; type: string };
  assert.equal(link.type, 'application/octet-stream');
  assert.equal(Buffer.from(await (await fetch(link.href)).arrayBuffer()).toString(), 'AB');
});

test('document with omitted outputs returns every output that has a value', async () => {
  const res = await execute(s.url, 'hello-world', { inputs: { name: 'World' }, response: 'document' });
  assert.equal(res.status, 200);
  // results.yaml carries a plain object output as a qualified value.
  assert.deepEqual(await res.json(), { greeting: { value: { id: 'greeting', value: 'Hello World!' }, mediaType: 'application/json' } });
});

test('Prefer: respond-sync (OWSLib) and unknown preferences are ignored: sync 200', async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'owslib' }, response: 'document' }, { Prefer: 'respond-sync' });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as Record<string, unknown>).stringInput, 'owslib');
  assert.equal(res.headers.get('location'), null);
});

test('a process failing synchronously → 500 application/json problem: generic, with an error id, no internal text', async () => {
  const res = await execute(s.url, 'fail', { inputs: { reason: 'sync test' } });
  const body = await assertProblem(res, 500, { contentType: 'application/json', detail: /internal error/ });
  assert.doesNotMatch(JSON.stringify(body), /failed on purpose/);
  assert.match(body.errorId as string, /^[0-9a-f-]{36}$/);
  assert.match(body.detail as string, new RegExp(body.errorId as string));
  assert.equal(await jobCount(s.url), 0);
});

test('ETS testJobResultsFailed: an invalid execute request → 400 exception as application/json', async () => {
  const res = await execute(s.url, 'echo', { 'invalid-execute-request': 'true)' });
  await assertProblem(res, 400, { contentType: 'application/json', detail: /invalid-execute-request/ });
});

test('an unsupported output media type or unknown output → 400 naming the output', async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' }, outputs: { nope: {} } });
  const body = await assertProblem(res, 400, { contentType: 'application/json', detail: /unknown output 'nope'/ });
  assert.equal(body.output, 'nope');
});

test('an output requested that the process did not produce → 400 naming it, for reference, raw and document', async () => {
  // echo produces objectInput only when it is given: asking for it without giving it is the client's mistake.
  const cases: Array<Record<string, unknown>> = [
    { outputs: { objectInput: { transmissionMode: 'reference' } } },
    { outputs: { objectInput: {} }, response: 'raw' },
    { outputs: { stringInput: {}, objectInput: {} }, response: 'raw' },
    { outputs: { objectInput: {} }, response: 'document' },
  ];
  for (const c of cases) {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' }, ...c });
    const body = await assertProblem(res, 400, { contentType: 'application/json', detail: /output 'objectInput' was requested/ });
    assert.equal(body.output, 'objectInput', JSON.stringify(c));
  }
});

test('schema defaults are applied: echo declares pause default 0 and echoes it', async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' }, outputs: { pause: {} } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), 0);
  const doc = await execute(s.url, 'echo', { inputs: { stringInput: 'x' }, response: 'document' });
  assert.deepEqual(await doc.json(), { stringInput: 'x', pause: 0 });
});
