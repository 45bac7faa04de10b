import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../fixtures/synthetic-raster.js';
import { execute, startTestServer, type TestServer } from '../helpers/server.js';
import { jobCount } from './problem-assert.js';

// 200 generated malformed or hostile execute bodies (issue 2, "Tests"): each must get a 4xx problem
// answer naming something, and the server must answer normally afterwards.
const BODY_LIMIT = 64 * 1024;
let s: TestServer;
before(async () => {
  s = await startTestServer({ limits: { body_size: BODY_LIMIT } });
});
after(() => s.stop());

interface HostileCase {
  kind: string;
  body: string | Uint8Array<ArrayBuffer>;
  contentType?: string;
  processId?: string;
  prefer?: boolean;
}

const deep = (levels: number, open: string, close: string, inner = '1') => open.repeat(levels) + inner + close.repeat(levels);
const wrap = (inputs: string) => `{"inputs":${inputs}}`;
const withInput = (id: string, value: string) => wrap(`{"stringInput":"x","${id}":${value}}`);

/** Templates of hostile bodies; each takes the PRNG to vary its details. */
const TEMPLATES: Array<(r: () => number) => HostileCase> = [
  (r) => ({
    kind: 'bad JSON',
    body: [
      '{',
      '{"inputs":',
      '{"inputs":{"stringInput":"x"',
      "{'inputs':{}}",
      '{"inputs":{"stringInput":"x",}}',
      'inputs=x',
      '\u0000\u0001',
      '{"a":1}{"b":2}',
      'NaN',
      '{"inputs":{"pause":NaN}}',
    ][Math.floor(r() * 10)],
  }),
  (r) => ({ kind: 'not an object', body: ['[]', '"text"', '42', 'null', 'true', '[{"inputs":{}}]'][Math.floor(r() * 6)] }),
  (r) => ({ kind: 'wrong type', body: wrap(`{"stringInput":${['1', 'true', '[1]', '{"a":1}', '-0.5', '1e308'][Math.floor(r() * 6)]}}`) }),
  (r) => ({
    kind: 'wrong type pause',
    body: withInput('pause', ['"5"', 'true', '[5]', '{"value":"x"}', '-1', '1e9', '"NaN"', '"Infinity"', '1e400'][Math.floor(r() * 9)]),
  }),
  (r) => ({ kind: 'huge string over maxLength', body: wrap(`{"stringInput":"${'a'.repeat(1_000_001 + Math.floor(r() * 100))}"}`) }),
  (r) => ({ kind: 'body over the limit', body: wrap(`{"stringInput":"${'b'.repeat(BODY_LIMIT + Math.floor(r() * 10_000))}"}`) }),
  (r) => ({ kind: 'deep nesting array', body: withInput('objectInput', `{"a":${deep(10_000 + Math.floor(r() * 10), '[', ']')}}`) }),
  (r) => ({ kind: 'deep nesting object', body: withInput('arrayInput', deep(10_000 + Math.floor(r() * 10), '{"a":', '}')) }),
  (r) => ({ kind: 'unknown input', body: withInput(`input${Math.floor(r() * 1e6)}`, '"v"') }),
  (r) => ({
    kind: 'unknown member',
    body: `{"inputs":{"stringInput":"x"},"${['mode2', 'callback', 'execute', 'outputz'][Math.floor(r() * 4)]}":1}`,
  }),
  (r) => ({
    kind: 'prototype pollution',
    body: [
      withInput('__proto__', '{"polluted":true}'),
      withInput('constructor', '{"prototype":{"polluted":true}}'),
      '{"__proto__":{"polluted":true},"inputs":{"stringInput":"x"}}',
      '{"inputs":{"stringInput":"x"},"outputs":{"__proto__":{"transmissionMode":"value"}}}',
      '{"inputs":{"stringInput":"x"},"subscriber":{"__proto__":{"successUri":"http://x/"}, "successUri": 1}}',
      withInput('toString', '"x"'),
      withInput('hasOwnProperty', '"x"'),
    ][Math.floor(r() * 7)],
  }),
  (r) => ({
    kind: 'wrong content type',
    body: wrap('{"stringInput":"x"}'),
    contentType: ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'image/png', ''][
      Math.floor(r() * 6)
    ],
  }),
  (r) => ({
    kind: 'hostile href',
    body: wrap(
      `{"stringInput":{"href":"${['file:///etc/passwd', 'file:../../etc/passwd', 'file:///proc/self/environ', 'http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:22/', 'http://[::1]/', 'gopher://127.0.0.1:25/_HELO', 'data:text/plain,hello', 'ftp://example.org/x', 'https://user:pw@example.org/', 'http://localhost/', 'javascript:alert(1)', 'file://remote-host/etc/passwd'][Math.floor(r() * 13)]}"}}`,
    ),
  }),
  (r) => ({
    kind: 'hostile binary href',
    body: withInput(
      'binaryInput',
      `{"href":"${['file:///etc/shadow', 'http://10.0.0.1/x.tif', 'http://metadata.google.internal/'][Math.floor(r() * 3)]}"}`,
    ),
  }),
  (r) => ({
    kind: 'invalid base64',
    body: withInput(
      'binaryInput',
      ['"@@@@"', '"not base64!"', '{"value":"<xml/>","mediaType":"image/tiff"}', '{"value":12}', '123', '["AAAA"]'][Math.floor(r() * 6)],
    ),
  }),
  (r) => ({
    kind: 'array where one value belongs',
    body: wrap(`{"stringInput":[${Array.from({ length: 2 + Math.floor(r() * 5) }, (_, i) => `"v${i}"`).join(',')}]}`),
  }),
  (r) => ({
    kind: 'bad bbox',
    body: withInput(
      'bboxInput',
      [
        '{"bbox":[1,2,3]}',
        '{"bbox":"1,2,3,4"}',
        '{"bbox":[1,2,3,"4"]}',
        '[1,2,3,4]',
        '{"crs":"EPSG:4326"}',
        '{"bbox":[null,null,null,null]}',
      ][Math.floor(r() * 6)],
    ),
  }),
  (r) => ({
    kind: 'bad outputs',
    body: `{"inputs":{"stringInput":"x"},"outputs":${['[]', '"all"', '{"nope":{}}', '{"stringInput":{"transmissionMode":"telepathy"}}', '{"stringInput":"value"}'][Math.floor(r() * 5)]}}`,
  }),
  (r) => ({
    kind: 'bad response',
    body: `{"inputs":{"stringInput":"x"},"response":${['"RAW"', '"json"', '1', 'null', '["raw"]'][Math.floor(r() * 5)]}}`,
  }),
  (r) => ({
    kind: 'hostile subscriber',
    body: `{"inputs":{"stringInput":"x"},"subscriber":${['{"successUri":"http://127.0.0.1:9/"}', '{"failedUri":"file:///etc/passwd"}', '{"inProgressUri":"http://169.254.169.254/"}', '"http://x/"', '{"successUri":["http://x/"]}'][Math.floor(r() * 5)]}}`,
    prefer: true,
  }),
  (r) => ({
    kind: 'too many array items',
    body: withInput('arrayInput', `[${Array.from({ length: 10_001 + Math.floor(r() * 10) }, () => '1').join(',')}]`),
  }),
  (r) => ({
    kind: 'missing required input',
    body: ['{}', '{"inputs":{}}', '{"inputs":{"pause":1}}', '{"inputs":{"stringInput":null}}'][Math.floor(r() * 4)],
    prefer: r() < 0.5,
  }),
  (r) => ({
    kind: 'unknown process',
    body: wrap('{"stringInput":"x"}'),
    processId: ['..%2f..%2fetc', 'echo%00', 'nope', '%3Cscript%3E'][Math.floor(r() * 4)],
  }),
  (r) => ({
    kind: 'invalid UTF-8',
    body: new Uint8Array([0x7b, 0x22, 0x69, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, r() < 0.5 ? 0x7d : 0x20]),
  }),
  (r) => ({
    kind: 'unsupported charset',
    body: wrap('{"stringInput":"x"}'),
    contentType: `application/json; charset=${['utf-7', 'ebcdic', 'x-unknown'][Math.floor(r() * 3)]}`,
  }),
];

function generate(count: number, seed: number): HostileCase[] {
  const r = prng(seed);
  const cases: HostileCase[] = [];
  for (let i = 0; i < count; i++) cases.push(TEMPLATES[i % TEMPLATES.length](r)); // every template, then again
  return cases;
}

test('200 hostile execute bodies each get a 4xx problem answer naming something; the server is fine afterwards', async () => {
  const cases = generate(200, 20250301);
  assert.equal(cases.length, 200);
  const kinds = new Set(cases.map((c) => c.kind));
  assert.equal(kinds.size, TEMPLATES.length);
  for (const [i, c] of cases.entries()) {
    const label = `case ${i} (${c.kind}): ${typeof c.body === 'string' ? c.body.slice(0, 120) : '<bytes>'}`;
    const headers: Record<string, string> = {};
    if (c.contentType !== '') headers['Content-Type'] = c.contentType ?? 'application/json';
    if (c.prefer) headers.Prefer = 'respond-async';
    const res = await fetch(`${s.url}/processes/${c.processId ?? 'echo'}/execution`, { method: 'POST', headers, body: c.body });
    const text = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${label} → ${res.status} ${text.slice(0, 200)}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, label);
    const problem = JSON.parse(text) as Record<string, unknown>;
    assert.equal(problem.status, res.status, label);
    assert.equal(typeof problem.type, 'string', label);
    assert.equal(typeof problem.title, 'string', label);
    assert.equal(typeof problem.detail, 'string', label);
    assert.ok((problem.detail as string).length > 5, label);
    assert.ok(text.length < 10_000, `${label}: the answer does not echo huge input back (${text.length} bytes)`);
    assert.doesNotMatch(text, /root:x:|\n\s+at /, `${label}: no file contents, no stack traces`);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');

  const list = await fetch(`${s.url}/processes`);
  assert.equal(list.status, 200);
  assert.ok(((await list.json()) as { processes: unknown[] }).processes.length >= 2);
  const echo = await execute(s.url, 'echo', { inputs: { stringInput: 'still fine' }, outputs: { stringInput: {} } });
  assert.equal(echo.status, 200);
  assert.equal(await echo.text(), 'still fine');
  assert.equal(await jobCount(s.url), 0, 'no job was created by hostile requests');
});
