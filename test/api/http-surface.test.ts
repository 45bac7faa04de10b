import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Issue 8: static documents with a strong ETag (304 on If-None-Match), gzip for JSON/HTML/XML,
// CORS (server.cors) with OPTIONS preflights answered instead of 405.

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.stop());

/** node:http, so that what we see is what was sent (fetch decompresses and hides Content-Encoding). */
function raw(url: string, options: http.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('static documents carry a strong ETag; If-None-Match gives 304 without a body; a changed representation has another tag', async () => {
  for (const path of ['/', '/conformance', '/api', '/api.html', '/processes', '/processes/echo', '/processes?f=html']) {
    const first = await raw(`${s.url}${path}`);
    assert.equal(first.status, 200, path);
    const etag = first.headers.etag;
    assert.match(String(etag), /^"[A-Za-z0-9_-]+"$/, `${path} has a strong ETag`);
    const again = await raw(`${s.url}${path}`, { headers: { 'If-None-Match': String(etag) } });
    assert.equal(again.status, 304, path);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
    const other = await raw(`${s.url}${path}`, { headers: { 'If-None-Match': '"something-else"' } });
    assert.equal(other.status, 200);
    assert.deepEqual(other.body, first.body, `${path}: the same bytes each time`);
  }
  const json = await raw(`${s.url}/processes`);
  const html = await raw(`${s.url}/processes`, { headers: { Accept: 'text/html' } });
  assert.notEqual(json.headers.etag, html.headers.etag);
  assert.match(String(json.headers.vary), /Accept\b/);
});

test('JSON, HTML and the API definition are gzipped when the client takes it; small or binary bodies are not', async () => {
  for (const [path, accept] of [
    ['/api', undefined],
    ['/processes?f=html', undefined],
    ['/jobs', 'application/json'],
    ['/processes/echo', undefined],
  ] as const) {
    const plain = await raw(`${s.url}${path}`, { headers: accept ? { Accept: accept } : {} });
    const zipped = await raw(`${s.url}${path}`, { headers: { 'Accept-Encoding': 'gzip, deflate', ...(accept ? { Accept: accept } : {}) } });
    assert.equal(plain.headers['content-encoding'], undefined, `${path}: none without Accept-Encoding`);
    if (plain.body.length < 1024) continue;
    assert.equal(zipped.headers['content-encoding'], 'gzip', path);
    assert.match(String(zipped.headers.vary), /Accept-Encoding/);
    assert.deepEqual(gunzipSync(zipped.body), plain.body, `${path}: the same document`);
    assert.ok(zipped.body.length < plain.body.length);
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
  }
  const refused = await raw(`${s.url}/api`, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
  assert.equal(refused.headers['content-encoding'], undefined, 'q=0 refuses gzip');
  const head = await raw(`${s.url}/api`, { method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('CORS: any origin may read by default; preflights are answered (204), POST is not granted by default', async () => {
  const get = await raw(`${s.url}/processes`, { headers: { Origin: 'https://maps.example.org' } });
  assert.equal(get.headers['access-control-allow-origin'], '*');
  assert.match(String(get.headers['access-control-expose-headers']), /Location/);
  assert.equal((await raw(`${s.url}/processes`)).headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');

  const preflightGet = await raw(`${s.url}/jobs`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://maps.example.org', 'Access-Control-Request-Method': 'GET' },
  });
  assert.equal(preflightGet.status, 204);
  assert.equal(preflightGet.headers['access-control-allow-origin'], '*');
  assert.match(String(preflightGet.headers['access-control-allow-methods']), /GET/);

  const preflightPost = await raw(`${s.url}/processes/echo/execution`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://maps.example.org',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    },
  });
  assert.equal(preflightPost.status, 204, 'answered, not 405');
  assert.equal(preflightPost.headers['access-control-allow-origin'], undefined, 'POST is not granted by default');
  assert.match(String(preflightPost.headers.allow), /POST/);

  const plainOptions = await raw(`${s.url}/jobs/abc`, { method: 'OPTIONS' });
  assert.equal(plainOptions.status, 204);
  assert.equal(plainOptions.headers.allow, 'GET, DELETE, HEAD, OPTIONS');
  assert.equal((await raw(`${s.url}/nowhere`, { method: 'OPTIONS' })).status, 404);
});

test('CORS: server.cors names the origins and methods', async () => {
  const c = await startTestServer({ cors: { allowed_origins: ['https://maps.example.org'], allowed_methods: ['GET', 'HEAD', 'POST'] } });
  try {
    const ok = await raw(`${c.url}/processes/echo/execution`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://maps.example.org',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, prefer',
      },
    });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://maps.example.org');
    assert.match(String(ok.headers.vary), /Origin/);
    assert.match(String(ok.headers['access-control-allow-methods']), /POST/);
    assert.equal(ok.headers['access-control-allow-headers'], 'content-type, prefer');
    const other = await raw(`${c.url}/processes`, { headers: { Origin: 'https://elsewhere.example.com' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined, 'an origin not listed gets nothing');
  } finally {
    await c.stop();
  }
});
