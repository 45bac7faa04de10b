/**
 * /stored_data over HTTP (issue 3 "Stored data"): list and filters, one record as JSON and HTML, its
 * dependencies, DELETE removing the files, 404 for unknown ids, 409 while a job writes the record.
 */
import { after, before, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { TestServer } from '../helpers/server.js';
import { execute, waitForJob } from '../helpers/server.js';
import { generate, keysUnder, makeInput, startPyramidServer, storedData } from '../helpers/pyramids.js';

let s: TestServer;
let map: Awaited<ReturnType<typeof makeInput>>;
const base = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip' };
const ids: Record<string, string> = {};

before(async () => {
  s = await startPyramidServer();
  map = await makeInput(s, 'map.tif', { width: 200, height: 400, pixelSize: 500 });
  for (const name of ['ALPHA', 'BETA'])
    ids[name] = (await generate(s, { ...base, images: [{ href: map.href }], name })).record._id as string;
});

after(() => s?.stop());

test('list with filters (type, status, name)', async () => {
  assert.deepEqual((await storedData(s)).map((r) => r.name).sort(), ['ALPHA', 'BETA']);
  assert.equal((await storedData(s, '?type=ROK4-PYRAMID-RASTER')).length, 2);
  assert.equal((await storedData(s, '?type=OTHER')).length, 0);
  assert.equal((await storedData(s, '?status=READY')).length, 2);
  assert.equal((await storedData(s, '?status=FAILED')).length, 0);
  assert.deepEqual(
    (await storedData(s, '?name=ALP')).map((r) => r.name),
    ['ALPHA'],
  );
});

test('one record as JSON and HTML, dependencies, 404 for unknown ids', async () => {
  const res = await fetch(`${s.url}/stored_data/${ids.ALPHA}`, { headers: { Accept: 'application/json' } });
  assert.equal(res.status, 200);
  const r = (await res.json()) as Record<string, unknown>;
  assert.equal(r._id, ids.ALPHA);
  assert.equal(r.name, 'ALPHA');
  assert.equal(r.status, 'READY');
  assert.ok((r.links as Array<{ rel: string }>).some((l) => l.rel === 'self'));
  const html = await fetch(`${s.url}/stored_data/${ids.ALPHA}?f=html`);
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await html.text(), /ALPHA/);
  const deps = await fetch(`${s.url}/stored_data/${ids.ALPHA}/dependencies`, { headers: { Accept: 'application/json' } });
  assert.equal(deps.status, 200);
  assert.deepEqual(await deps.json(), { use: [], used_by: [] });
  for (const url of ['/stored_data/nope', '/stored_data/nope/dependencies']) assert.equal((await fetch(`${s.url}${url}`)).status, 404, url);
  assert.equal((await fetch(`${s.url}/stored_data/nope`, { method: 'DELETE' })).status, 404);
});

test('the descriptor and the list are served from the storage; the pages link them, levels in one table', async () => {
  const record = (await (await fetch(`${s.url}/stored_data/${ids.BETA}`)).json()) as {
    storage: { key: string };
    links: Array<{ rel: string; href: string }>;
  };
  const res = await fetch(`${s.url}/stored_data/${ids.BETA}/descriptor`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const stored = await readFile(path.join(s.dir, 'store', record.storage.key));
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), stored, 'the descriptor as stored');
  const list = await fetch(`${s.url}/stored_data/${ids.BETA}/list`);
  assert.equal(list.status, 200);
  assert.match(list.headers.get('content-type') ?? '', /^text\/plain/);
  assert.deepEqual(
    Buffer.from(await list.arrayBuffer()),
    await readFile(path.join(s.dir, 'store', record.storage.key.replace(/\.json$/, '.list'))),
  );
  for (const rel of ['describedby'])
    assert.ok(
      record.links.some((l) => l.rel === rel && l.href.endsWith('/descriptor')),
      rel,
    );
  const html = await (await fetch(`${s.url}/stored_data/${ids.BETA}?f=html`)).text();
  assert.match(html, /<table class="levels">/);
  assert.match(html, /\/stored_data\/[^"]+\/descriptor/);
  for (const url of ['/stored_data/nope/descriptor', '/stored_data/nope/list'])
    assert.equal((await fetch(`${s.url}${url}`)).status, 404, url);
});

test('the results page of the job links the stored data page', async () => {
  const [beta] = await storedData(s, '?name=BETA');
  const html = await (await fetch(`${s.url}/jobs/${beta.jobId}/results?f=html`)).text();
  assert.ok(html.includes(`/stored_data/${ids.BETA}?f=html`), 'a link to the stored data page');
});

test('DELETE removes the files and marks DELETED; the other pyramid stays', async () => {
  const betaKeys = await keysUnder(s, 'pyramids/BETA/');
  assert.ok((await keysUnder(s, 'pyramids/ALPHA/')).length > 0);
  const del = await fetch(`${s.url}/stored_data/${ids.ALPHA}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.deepEqual(await keysUnder(s, 'pyramids/ALPHA/'), []);
  const r = (await (await fetch(`${s.url}/stored_data/${ids.ALPHA}`)).json()) as Record<string, unknown>;
  assert.equal(r.status, 'DELETED');
  assert.equal((await fetch(`${s.url}/stored_data/${ids.ALPHA}`, { method: 'DELETE' })).status, 404, 'already deleted');
  assert.deepEqual(
    (await storedData(s, '', { listed: true })).map((x) => x.name),
    ['BETA'],
    'DELETED records leave the default listing',
  );
  assert.deepEqual(
    (await storedData(s, '?status=DELETED')).map((x) => x.name),
    ['ALPHA'],
    'a status filter shows them',
  );
  assert.equal((await fetch(`${s.url}/stored_data/${ids.ALPHA}/descriptor`)).status, 404, 'no descriptor once deleted');
  assert.deepEqual(await keysUnder(s, 'pyramids/BETA/'), betaKeys);
});

test('409 while a job writes the stored data', async () => {
  // Big enough that the job is still running when the DELETE comes (a few ms after the GET).
  const big = await makeInput(s, 'big.tif', { width: 1500, height: 3000, pixelSize: 40 });
  const res = await execute(
    s.url,
    'raster-to-pyramid',
    { inputs: { ...base, images: [{ href: big.href }], name: 'BUSY' } },
    { Prefer: 'respond-async' },
  );
  assert.equal(res.status, 201);
  const { jobID } = (await res.json()) as { jobID: string };
  let record: Record<string, unknown> | undefined;
  const end = Date.now() + 60_000;
  while (!record && Date.now() < end) {
    [record] = await storedData(s, '?name=BUSY');
    if (!record) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(record, 'the record appears while the job runs');
  assert.equal(record.status, 'GENERATING');
  const del = await fetch(`${s.url}/stored_data/${record._id}`, { method: 'DELETE' });
  assert.equal(del.status, 409, await del.clone().text());
  const body = (await del.json()) as { detail: string };
  assert.match(body.detail, /being written by a job/);
  // Once the job is over the record can be deleted.
  await waitForJob(s.url, jobID);
  assert.equal((await fetch(`${s.url}/stored_data/${record._id}`, { method: 'DELETE' })).status, 204);
});
