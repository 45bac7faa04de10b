import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { DEFAULT_JSON_LIMITS, JsonStructureCounter } from '../../src/api/json-body.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Issue 9: a 38 MB execute body holding 2 M keys (under server.limits.body_size) blocked the event
// loop ~2 s in JSON.parse and took RSS from 76 to 472 MB. The structure is now counted as the bytes
// arrive: such a body is refused long before it is all sent, and other clients are served meanwhile.

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.stop());

const KEYS = 2_000_000;
const KEYS_PER_CHUNK = 20_000;

function chunkOf(first: number): string {
  let text = first === 0 ? '{"inputs":{"stringInput":"x","objectInput":{' : '';
  for (let k = first; k < Math.min(first + KEYS_PER_CHUNK, KEYS); k++) text += `${k ? ',' : ''}"key${k}":${k}`;
  if (first + KEYS_PER_CHUNK >= KEYS) text += '}}}';
  return text;
}

test('a body of 2 M keys is refused while it arrives; another client is served meanwhile; RSS stays bounded', async () => {
  const rssBefore = process.memoryUsage().rss;
  let answered: { status: number; body: string } | undefined;
  // A keep-alive connection: the server answers, then drains the rest of the body instead of closing
  // the socket under our writes (it closes after answering a `Connection: close` request).
  const agent = new http.Agent({ keepAlive: true });
  const req = http.request(`${s.url}/processes/echo/execution`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve((answered = { status: res.statusCode ?? 0, body })));
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
  });
  response.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const write = (text: string) => new Promise<void>((resolve) => (req.write(text) ? resolve() : req.once('drain', resolve)));

  let sentKeys = 0;
  let otherClient: number | undefined;
  for (let first = 0; first < KEYS && !answered; first += KEYS_PER_CHUNK) {
    // The answer may come while we wait for the socket to drain: stop writing then.
    await Promise.race([write(chunkOf(first)), response.catch(() => undefined)]);
    if (answered) break;
    sentKeys = Math.min(first + KEYS_PER_CHUNK, KEYS);
    if (first === 0) {
      // The hostile request is open and its body half-way: another client must get its answer now.
      const other = await fetch(`${s.url}/processes`);
      await other.arrayBuffer();
      otherClient = other.status;
      assert.equal(answered, undefined, 'the hostile request is still open when the other client is served');
    }
    // Let the server's answer arrive between chunks (we write as fast as the socket takes it).
    await new Promise((r) => setImmediate(r));
  }
  if (!answered) req.end();
  else req.destroy();
  const { status, body } = await response;
  agent.destroy();

  assert.equal(otherClient, 200);
  assert.equal(status, 400, body);
  assert.match(JSON.parse(body).detail, /more than 100000 values/);
  assert.ok(sentKeys < KEYS, `refused before the whole body was sent (${sentKeys} of ${KEYS} keys sent)`);
  const grownMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  assert.ok(grownMb < 150, `RSS grew by ${grownMb.toFixed(0)} MB`);
  assert.equal((await fetch(`${s.url}/`)).status, 200, 'the server still answers');
});

test('the counter bounds depth and values, ignores structure inside strings, and works across chunk edges', () => {
  const counter = () => new JsonStructureCounter({ maxDepth: 3, maxValues: 5 });
  assert.doesNotThrow(() => counter().feed(Buffer.from('{"a":[1,2,{"b":"[[[[,,,,,,\\"{{{"}]}')));
  assert.throws(() => counter().feed(Buffer.from('[[[[1]]]]')), /deeper than 3/);
  assert.throws(() => counter().feed(Buffer.from('[1,2,3,4,5,6]')), /more than 5 values/);
  const split = counter();
  // An escaped quote split between two chunks: the string goes on, its brackets do not count.
  split.feed(Buffer.from('{"a":"x\\'));
  assert.doesNotThrow(() => split.feed(Buffer.from('"[[[[[[,,,,,,,"}')));
  assert.ok(DEFAULT_JSON_LIMITS.maxValues >= 10_000 && DEFAULT_JSON_LIMITS.maxDepth >= 16, 'legitimate bodies fit');
});
