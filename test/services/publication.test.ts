/**
 * Issue 10, "The publication model", over HTTP on the real server: configurations and offerings with the
 * platform's shapes, their 400/409 rules, the layer switch of the chained-update workflow (same URLs,
 * new bytes, no failed request while a client fetches in a loop), unpublishing, and a restart.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { skipUnlessCommands } from '../helpers/env.js';
import { corruptBlock, generate, hrefOf, makeInput, PYTHON, runJob, storedData } from '../helpers/pyramids.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands(PYTHON);

let s: TestServer;
const ids: Record<string, string> = {};

const PROCESSES = { 'raster-to-pyramid': 'raster-to-pyramid', echo: 'echo' };

before(async () => {
  if (skip) return;
  s = await startTestServer({ processes: PROCESSES });
  const map = await makeInput(s, 'map.tif');
  const other = await makeInput(s, 'other.tif', { seed: 7 });
  const common = { tms: 'PM', nodata: 255, width: 4, height: 4, compression: 'png', mask: true };
  const made = {
    ORTHO: { images: [{ href: map.href }] },
    ORTHO2: { images: [{ href: other.href }] },
    JPEG: { images: [{ href: map.href }], compression: 'jpg' },
    LAMB: { images: [{ href: map.href }], tms: 'LAMB93_50cm' },
  };
  for (const [name, extra] of Object.entries(made)) ids[name] = (await generate(s, { ...common, ...extra, name })).record._id as string;
});

let firstDir: string | undefined;

after(async () => {
  await s?.stop();
  // The restart test reopened the first server's folder (a server given a folder leaves it in place).
  if (firstDir) await rm(firstDir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

const configuration = (layer: string, used: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
  type: 'WMTS-TMS',
  name: `configuration of ${layer}`,
  layer_name: layer,
  metadata: [],
  type_infos: { title: `Layer ${layer}`, abstract: 'made by the test', keywords: ['test'], used_data: used },
  getfeatureinfo: { stored_data: true },
  ...extra,
});

/** An XYZ tile of the layer's bottom level that holds data (from the TMS document's bounding box). */
async function dataTile(layer: string): Promise<string> {
  const tilesets = await call('GET', `/collections/${layer}/map/tiles/PM`);
  assert.equal(tilesets.status, 200, JSON.stringify(tilesets.json));
  const limits = (tilesets.json.tileMatrixSetLimits as Array<Record<string, string | number>>).at(-1)!;
  const row = Math.floor((Number(limits.minTileRow) + Number(limits.maxTileRow)) / 2);
  const col = Math.floor((Number(limits.minTileCol) + Number(limits.maxTileCol)) / 2);
  return `/xyz/${layer}/${limits.tileMatrix}/${col}/${row}.png`;
}

const bytes = async (path: string): Promise<{ status: number; body: Buffer }> => {
  const res = await fetch(`${s.url}${path}`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
};

test('a configuration is created with the platform shape, listed, read; bad bodies and unusable stored data are 400s naming the field', {
  skip,
}, async () => {
  const created = await call('POST', '/configurations', configuration('ortho', [{ stored_data: ids.ORTHO }]));
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json._id as string;
  assert.equal(created.headers.get('location'), `${s.url}/configurations/${id}`);
  assert.equal(created.json.status, 'UNPUBLISHED');
  assert.deepEqual(created.json.use, [ids.ORTHO]);
  assert.equal((await call('GET', `/configurations/${id}`)).json.layer_name, 'ortho');
  const listed = await call('GET', '/configurations?layer_name=ortho');
  assert.deepEqual(
    (listed.json.configurations as Array<{ _id: string }>).map((c) => c._id),
    [id],
  );

  const bad: Array<[unknown, RegExp, number?]> = [
    [{ ...configuration('x', [{ stored_data: ids.ORTHO }]), type_infos: undefined }, /type_infos/],
    [configuration('x', []), /type_infos\.used_data/],
    [configuration('x y', [{ stored_data: ids.ORTHO }]), /layer_name/],
    [configuration('x', [{ stored_data: 'nope' }]), /type_infos\.used_data\[0\]\.stored_data.*no stored data/],
    [configuration('x', [{ stored_data: ids.ORTHO, extra: 1 }]), /type_infos\.used_data\[0\]\.extra/],
    [configuration('x', [{ stored_data: ids.ORTHO }, { stored_data: ids.LAMB }]), /type_infos\.used_data\[1\].*TMS/],
    [configuration('x', [{ stored_data: ids.ORTHO }, { stored_data: ids.JPEG }]), /type_infos\.used_data\[1\].*TIFF_JPG/],
    [configuration('x', [{ stored_data: ids.ORTHO }, { stored_data: ids.ORTHO2 }]), /disjoint/],
    [configuration('x', [{ stored_data: ids.ORTHO, bottom_level: '99' }]), /bottom_level.*no level '99'/],
  ];
  for (const [body, detail] of bad) {
    const r = await call('POST', '/configurations', body);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(String(r.json.detail), detail);
  }
  const clash = await call('POST', '/configurations', configuration('ortho', [{ stored_data: ids.ORTHO2 }]));
  assert.equal(clash.status, 409, JSON.stringify(clash.json));
  const renamed = await call('PUT', `/configurations/${id}`, configuration('other', [{ stored_data: ids.ORTHO }]));
  assert.equal(renamed.status, 400);
  assert.match(String(renamed.json.detail), /layer_name/);
  assert.equal((await call('DELETE', `/configurations/${id}`)).status, 204);
  assert.equal((await call('GET', `/configurations/${id}`)).status, 404);
});

test('FAILED or deleted stored data, bad offering bodies, unknown ids: problem JSON naming the field; paging of /configurations', {
  skip,
}, async () => {
  // A FAILED pyramid (a corrupt tile in its input) and a deleted one are refused, on POST and on PUT.
  const corrupt = path.join(s.inputRoot, 'corrupt.tif');
  await corruptBlock((await makeInput(s, 'to-corrupt.tif')).path, corrupt);
  const common = { tms: 'PM', nodata: 255, width: 4, height: 4, compression: 'png', mask: true };
  const broken = await runJob(s, { ...common, images: [{ href: hrefOf(corrupt) }], name: 'BROKEN' });
  assert.equal(broken.final.status, 'failed', JSON.stringify(broken.final));
  const [failed] = await storedData(s, '?name=BROKEN');
  assert.equal(failed.status, 'FAILED');
  const gone = (await generate(s, { ...common, images: [{ href: (await makeInput(s, 'gone.tif')).href }], name: 'GONE' })).record;
  assert.equal((await call('DELETE', `/stored_data/${gone._id}`)).status, 204);
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [configuration('bad', [{ stored_data: failed._id }]), /BROKEN.*FAILED.*only READY/],
    [configuration('bad', [{ stored_data: ids.ORTHO }, { stored_data: gone._id }]), /no stored data/],
  ];
  const kept = await call('POST', '/configurations', configuration('page0', [{ stored_data: ids.ORTHO }]));
  assert.equal(kept.status, 201);
  for (const [body, detail] of refused) {
    for (const [method, where] of [
      ['POST', '/configurations'],
      ['PUT', `/configurations/${kept.json._id}`],
    ]) {
      const r = await call(method, where, method === 'PUT' ? { ...body, layer_name: 'page0' } : body);
      assert.equal(r.status, 400, `${method} ${JSON.stringify(r.json)}`);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.match(String(r.json.type), /invalid-input$/);
      assert.match(String(r.json.input), /^type_infos\.used_data\[\d\]\.stored_data$/);
      assert.match(String(r.json.detail), detail);
    }
  }
  assert.deepEqual((await call('GET', `/configurations/${kept.json._id}`)).json.use, [ids.ORTHO], 'a refused PUT changes nothing');

  const badOffering = await call('POST', `/configurations/${kept.json._id}/offerings`, { open: 'yes' });
  assert.equal(badOffering.status, 400);
  assert.equal(badOffering.json.input, 'open');
  assert.equal((await call('GET', `/configurations/${kept.json._id}`)).json.status, 'UNPUBLISHED');

  for (const [method, where] of [
    ['GET', '/configurations/nope'],
    ['PUT', '/configurations/nope'],
    ['DELETE', '/configurations/nope'],
    ['POST', '/configurations/nope/offerings'],
    ['GET', '/offerings/nope'],
    ['PUT', '/offerings/nope'],
    ['DELETE', '/offerings/nope'],
  ]) {
    const r = await call(
      method,
      where,
      method === 'PUT' && where.startsWith('/configurations')
        ? configuration('nope', [{ stored_data: ids.ORTHO }])
        : method === 'POST'
          ? {}
          : undefined,
    );
    assert.equal(r.status, 404, `${method} ${where}: ${JSON.stringify(r.json)}`);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
  }

  // Paging: pages of 2 following the next links give the whole list, once each.
  const made = [kept.json._id as string];
  for (const n of [1, 2, 3])
    made.push((await call('POST', '/configurations', configuration(`page${n}`, [{ stored_data: ids.ORTHO }]))).json._id as string);
  const all = (await call('GET', '/configurations')).json.configurations as Array<{ _id: string }>;
  assert.ok(made.every((id) => all.some((c) => c._id === id)));
  const paged: string[] = [];
  let next: string | undefined = `${s.url}/configurations?limit=2`;
  while (next) {
    const page = (await (await fetch(next)).json()) as {
      configurations: Array<{ _id: string }>;
      links: Array<{ rel: string; href: string }>;
    };
    assert.ok(page.configurations.length <= 2);
    paged.push(...page.configurations.map((c) => c._id));
    next = page.links.find((l) => l.rel === 'next')?.href;
  }
  assert.deepEqual(
    paged,
    all.map((c) => c._id),
  );
  assert.deepEqual(((await call('GET', '/configurations?status=PUBLISHED&layer_name=page2')).json.configurations as unknown[]).length, 0);
  for (const id of made) assert.equal((await call('DELETE', `/configurations/${id}`)).status, 204);
});

test('HTML: a stored data page links the configurations using it and the View of their offering; the configuration page links both', {
  skip,
}, async () => {
  const c = await call('POST', '/configurations', configuration('pages', [{ stored_data: ids.ORTHO }]));
  const cid = c.json._id as string;
  const html = async (p: string) => {
    const r = await fetch(`${s.url}${p}`, { headers: { Accept: 'text/html' } });
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/);
    return r.text();
  };
  const configurationPage = `${s.url}/configurations/${cid}?f=html`;
  assert.ok(
    (await html(`/stored_data/${ids.ORTHO}`)).includes(`href="${configurationPage}"`),
    'the stored data page links the configuration',
  );
  assert.ok(
    (await html(`/stored_data/${ids.ORTHO}/dependencies`)).includes(`href="${configurationPage}"`),
    'used_by links the configuration',
  );
  assert.match(await html(`/configurations/${cid}`), /not published/);

  const o = await call('POST', `/configurations/${cid}/offerings`, {});
  const viewer = `${s.url}/offerings/${o.json._id}?f=html`;
  assert.ok((await html(`/stored_data/${ids.ORTHO}`)).includes(`class="view" href="${viewer}"`), 'View link on the stored data page');
  assert.ok((await html(`/configurations/${cid}`)).includes(`class="view" href="${viewer}"`), 'View link on the configuration page');
  const offerings = await html('/offerings');
  assert.ok(offerings.includes(viewer));
  assert.ok((await html('/configurations')).includes(configurationPage));

  assert.equal((await call('DELETE', `/offerings/${o.json._id}`)).status, 204);
  assert.equal((await call('DELETE', `/configurations/${cid}`)).status, 204);
  assert.doesNotMatch(await html(`/stored_data/${ids.ORTHO}`), /\/configurations\//);
});

test('a layer of two pyramids with disjoint level ranges is served from each at its levels', { skip }, async () => {
  const c = await call(
    'POST',
    '/configurations',
    configuration('two', [
      { stored_data: ids.ORTHO, top_level: '0', bottom_level: '5' },
      { stored_data: ids.ORTHO2, top_level: '6' },
    ]),
  );
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const o = await call('POST', `/configurations/${c.json._id}/offerings`, { open: true });
  assert.equal(o.status, 201, JSON.stringify(o.json));
  // The bottom level comes from ORTHO2, a coarse one from ORTHO: same tiles as their own one-pyramid layers would give.
  const bottom = await dataTile('two');
  const single = await call('POST', '/configurations', configuration('only2', [{ stored_data: ids.ORTHO2 }]));
  await call('POST', `/configurations/${single.json._id}/offerings`, {});
  assert.deepEqual((await bytes(bottom)).body, (await bytes(bottom.replace('/two/', '/only2/'))).body);
  for (const [id, c2] of [
    [o.json._id, c.json._id],
    [(await call('GET', '/offerings?layer_name=only2')).json.offerings, single.json._id],
  ] as const) {
    const offeringId = Array.isArray(id) ? (id[0] as { _id: string })._id : (id as string);
    assert.equal((await call('DELETE', `/offerings/${offeringId}`)).status, 204);
    assert.equal((await call('DELETE', `/configurations/${c2}`)).status, 204);
  }
});

test('publish, 409s while used, the chained-update switch at the same URLs with a client fetching, unpublish', { skip }, async () => {
  const c = await call('POST', '/configurations', configuration('switch', [{ stored_data: ids.ORTHO }]));
  assert.equal(c.status, 201);
  const cid = c.json._id as string;
  const o = await call('POST', `/configurations/${cid}/offerings`, { open: true });
  assert.equal(o.status, 201, JSON.stringify(o.json));
  const oid = o.json._id as string;
  assert.equal(o.headers.get('location'), `${s.url}/offerings/${oid}`);
  assert.equal(o.json.status, 'PUBLISHED');
  assert.equal(o.json.layer_name, 'switch');
  assert.deepEqual(
    (o.json.urls as Array<{ type: string }>).map((u) => u.type),
    ['WMTS', 'TMS', 'OGCAPI-TILES', 'XYZ', 'WMS'],
  );
  assert.equal((await call('POST', `/configurations/${cid}/offerings`, {})).status, 409, 'already published');
  assert.equal((await call('GET', `/configurations/${cid}`)).json.status, 'PUBLISHED');

  const caps = await (await fetch(`${s.url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities`)).text();
  assert.match(caps, /<ows:Identifier>switch<\/ows:Identifier>/);
  const tile = await dataTile('switch');
  const before = await bytes(tile);
  assert.equal(before.status, 200);

  // Used: the stored data and the published configuration cannot be deleted.
  const del = await call('DELETE', `/stored_data/${ids.ORTHO}`);
  assert.equal(del.status, 409);
  assert.match(String(del.json.detail), /configuration/);
  const deps = await call('GET', `/stored_data/${ids.ORTHO}/dependencies`);
  assert.ok((deps.json.used_by as Array<{ _id: string; type?: string }>).some((u) => u._id === cid && u.type === 'configuration'));
  assert.equal((await call('DELETE', `/configurations/${cid}`)).status, 409);

  // The chained-update workflow: the configuration now names the new pyramid; not served until synchronized.
  const put = await call('PUT', `/configurations/${cid}`, configuration('switch', [{ stored_data: ids.ORTHO2 }]));
  assert.equal(put.status, 200, JSON.stringify(put.json));
  assert.deepEqual((await bytes(tile)).body, before.body, 'not served before the offering is synchronized');
  // ORTHO is still served (the offering's snapshot): it cannot be deleted, and says by what.
  const served = await call('DELETE', `/stored_data/${ids.ORTHO}`);
  assert.equal(served.status, 409, JSON.stringify(served.json));
  assert.match(String(served.json.detail), new RegExp(`offering 'switch' \\(${oid}\\)`));
  const servedBy = (await call('GET', `/stored_data/${ids.ORTHO}/dependencies`)).json.used_by as Array<{ _id: string; type?: string }>;
  assert.deepEqual(
    servedBy.filter((u) => u._id === cid || u._id === oid),
    [{ _id: oid, name: 'switch', type: 'offering' }],
  );

  let fetching = true;
  const seen: number[] = [];
  const bodies = new Set<string>();
  const client = (async () => {
    while (fetching) {
      const r = await bytes(tile);
      seen.push(r.status);
      bodies.add(r.body.toString('base64'));
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  const sync = await call('PUT', `/offerings/${oid}`);
  assert.equal(sync.status, 200, JSON.stringify(sync.json));
  await new Promise((r) => setTimeout(r, 100));
  fetching = false;
  await client;
  assert.ok(seen.length > 2, `the client fetched ${seen.length} times`);
  assert.deepEqual([...new Set(seen)], [200], 'no failed request during the switch');
  const after = await bytes(tile);
  assert.notDeepEqual(after.body, before.body, 'the same URL gives the new pyramid');
  assert.ok(bodies.size <= 2 && bodies.has(after.body.toString('base64')));
  // ORTHO is free again (the configuration uses ORTHO2 now); ORTHO2 is held.
  const freed = (await call('GET', `/stored_data/${ids.ORTHO}/dependencies`)).json.used_by as Array<{ _id: string }>;
  assert.ok(!freed.some((u) => u._id === cid || u._id === oid), JSON.stringify(freed));
  assert.equal((await call('DELETE', `/stored_data/${ids.ORTHO2}`)).status, 409);
  assert.deepEqual((await call('GET', `/configurations/${cid}`)).json.use, [ids.ORTHO2]);

  // Unpublish: unknown layer at once, everywhere.
  assert.equal((await call('DELETE', `/offerings/${oid}`)).status, 204);
  assert.equal((await bytes(tile)).status, 404);
  assert.equal((await call('GET', '/collections/switch')).status, 404);
  assert.doesNotMatch(await (await fetch(`${s.url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities`)).text(), />switch</);
  assert.equal((await call('GET', `/offerings/${oid}`)).status, 404);
  assert.equal((await call('GET', `/configurations/${cid}`)).json.status, 'UNPUBLISHED');
  assert.equal((await call('DELETE', `/configurations/${cid}`)).status, 204);
});

test('offerings and configurations persist: after a restart the layer is served again', { skip }, async () => {
  const c = await call('POST', '/configurations', configuration('kept', [{ stored_data: ids.ORTHO }]));
  const o = await call('POST', `/configurations/${c.json._id}/offerings`, {});
  assert.equal(o.status, 201, JSON.stringify(o.json));
  const tile = await dataTile('kept');
  const before = await bytes(tile);
  await s.close();
  firstDir = s.dir;
  s = await startTestServer({ processes: PROCESSES, dir: s.dir });
  const again = await bytes(tile);
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, before.body);
  assert.equal((await call('GET', `/offerings/${o.json._id}`)).json.layer_name, 'kept');
  const page = await fetch(`${s.url}/offerings/${o.json._id}?f=html`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /id="map"/);
  assert.match(html, /viewer\/ol\.js/);
  // The stored data page and the configuration page link the map ("View").
  const stored = await (await fetch(`${s.url}/stored_data/${ids.ORTHO}?f=html`)).text();
  assert.ok(stored.includes(`/offerings/${o.json._id}?f=html`), 'stored data page links the layer');
  const conf = await (await fetch(`${s.url}/configurations/${c.json._id}?f=html`)).text();
  assert.ok(conf.includes(`/offerings/${o.json._id}?f=html`), 'configuration page links the layer');
});

test('the landing page, /conformance and the OpenAPI document list the publication paths and the OGC API – Tiles classes', {
  skip,
}, async () => {
  const landing = (await call('GET', '/')).json.links as Array<{ href: string }>;
  for (const p of ['/configurations', '/offerings', '/wmts?', '/tms/1.0.0', '/wms?', '/collections', '/tileMatrixSets']) {
    assert.ok(
      landing.some((l) => l.href.startsWith(`${s.url}${p}`)),
      `the landing page links ${p}`,
    );
  }
  const classes = (await call('GET', '/conformance')).json.conformsTo as string[];
  for (const c of ['core', 'tileset', 'tilesets-list', 'geodata-tilesets', 'png', 'jpeg']) {
    assert.ok(classes.includes(`http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/${c}`), `conformance class ${c}`);
  }
  assert.ok(classes.includes('http://www.opengis.net/spec/tms/2.0/conf/tilematrixset'));
  const paths = Object.keys((await call('GET', '/api')).json.paths as Record<string, unknown>);
  for (const p of [
    '/configurations',
    '/configurations/{configurationId}',
    '/configurations/{configurationId}/offerings',
    '/offerings',
    '/offerings/{offeringId}',
    '/wmts',
    '/tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}',
    '/xyz/{layer}/{z}/{x}/{y}.{ext}',
    '/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}',
    '/tileMatrixSets/{tileMatrixSetId}',
  ]) {
    assert.ok(paths.includes(p), `the OpenAPI document has ${p}`);
  }
});
