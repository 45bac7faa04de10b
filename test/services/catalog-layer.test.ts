/**
 * Issue 12, "Shown as one layer", over HTTP on the real server: a catalog of two overlapping rasters (two
 * tiling jobs, the second one newer) published by a configuration; an XYZ tile over the overlap equals
 * gdalwarp -r cubic of a VRT mosaic of the same COGs (newer last, so on top); the same tile through WMTS;
 * WMS GetMap of the tile's bounds; a tile outside every item is the nodata tile; `filter` keeps only matching items; bad filters and bad
 * configurations are 400s naming the field; the catalog cannot be deleted while configured (409).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { skipUnlessCommands, skipUnlessPythonModules } from '../helpers/env.js';
import { gdalEnv, gdalPathOf, makeInput, PYTHON, storedData, storeOf } from '../helpers/pyramids.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import type { CatalogItem } from '../../src/catalog/catalog-item.js';

const skip = skipUnlessCommands('gdalwarp', 'gdalbuildvrt', PYTHON) || skipUnlessPythonModules('osgeo.gdal', 'numpy');
const run = promisify(execFile);

let s: TestServer;
let tmp: string;
let catalogId: string;
let older: CatalogItem;
let newer: CatalogItem;

const CONFIG = {
  attributes: [
    { attributeName: 'dateofimage', subType: 'DateTime' },
    { attributeName: 'cloud', subType: 'Double' },
  ],
};

async function tiling(files: string[], target: Record<string, unknown>, attributes: Record<string, unknown>): Promise<void> {
  const res = await execute(
    s.url,
    'tiling',
    { inputs: { files: files.map((href) => ({ href })), target, attributes, compression: 'deflate' }, response: 'document' },
    { Prefer: 'respond-async' },
  );
  assert.equal(res.status, 201, await res.clone().text());
  const done = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID, { timeoutMs: 240_000 });
  assert.equal(done.status, 'successful', JSON.stringify(done));
}

async function call(method: string, where: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${s.url}${where}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

const configuration = (layer: string, used: Record<string, unknown>) => ({
  type: 'WMTS-TMS',
  name: `catalog layer ${layer}`,
  layer_name: layer,
  type_infos: { title: layer, used_data: [used] },
});

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dallage-catalog-layer-'));
  s = await startTestServer({ processes: { tiling: 'tiling' } });
  // Two halves of two different maps: rows 0–55 % and 45–100 % overlap on a band of 10 %.
  const north = await makeInput(s, 'north.tif', { seed: 1, part: 'north' });
  const south = await makeInput(s, 'south.tif', { seed: 2, part: 'south' });
  await tiling(
    [north.href],
    { serviceName: 'scenes', createNewService: true, attributesConfiguration: CONFIG },
    {
      dateofimage: '2022-06-01T10:00:00Z',
      cloud: 0.1,
    },
  );
  await tiling([south.href], { serviceName: 'scenes' }, { dateofimage: '2023-06-01T10:00:00Z', cloud: 0.2 });
  const [catalog] = await storedData(s, '?type=RASTER-CATALOG');
  catalogId = catalog._id as string;
  const items = s.runtime.catalogItems.query(catalogId, { limit: 10, offset: 0 }).items;
  older = items.find((it) => it.attributes.dateofimage === '2022-06-01T10:00:00Z')!;
  newer = items.find((it) => it.attributes.dateofimage === '2023-06-01T10:00:00Z')!;
  assert.ok(older && newer);
});

after(async () => {
  await s?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** XYZ tile of a longitude/latitude at zoom z (Web Mercator, y from the top). */
function tileOf(lon: number, lat: number, z: number): { x: number; y: number } {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return { x, y };
}

/** EPSG:3857 bounds of an XYZ tile. */
function boundsOf(z: number, x: number, y: number): number[] {
  const half = 20037508.342789244;
  const size = (2 * half) / 2 ** z;
  return [-half + x * size, half - (y + 1) * size, -half + (x + 1) * size, half - y * size];
}

async function tile(where: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await fetch(`${s.url}${where}`);
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Python comparing two RGBA images where both have data: counts, mean and 99th percentile of differences. */
const COMPARE = `
import sys, json, numpy as np
from osgeo import gdal
a, b = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
x = np.stack([a.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)
y = np.stack([b.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)
both = (x[3] == 255) & (y[3] == 255)
d = np.abs(x[:3] - y[:3])[:, both]
print(json.dumps({'both': int(both.sum()), 'onlyA': int(((x[3] > 0) & (y[3] == 0)).sum()), 'onlyB': int(((y[3] > 0) & (x[3] == 0)).sum()),
                  'mean': float(d.mean()) if d.size else 0, 'p99': float(np.percentile(d, 99)) if d.size else 0}))
`;

const LAYER = 'scenes';
/** 100 m pixels at 42° N are ~135 m in Web Mercator: level 10 (152.9 m) is the closest, the default bottom. */
const Z = 10;

test('a catalog is published; bad configurations are 400s naming the field; it cannot be deleted while configured', {
  skip,
  timeout: 120_000,
}, async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [configuration('x', { stored_data: catalogId, format: 'gif' }), /type_infos\.used_data\[0\]\.format/],
    [configuration('x', { stored_data: catalogId, tile_matrix_set: 'NOPE' }), /type_infos\.used_data\[0\]\.tile_matrix_set/],
    [configuration('x', { stored_data: catalogId, bottom_level: '99' }), /type_infos\.used_data\[0\]\.bottom_level.*'99'/],
  ];
  for (const [body, detail] of bad) {
    const r = await call('POST', '/configurations', body);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(String(r.json.detail), detail);
  }
  const created = await call('POST', '/configurations', configuration(LAYER, { stored_data: catalogId }));
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const offering = await call('POST', `/configurations/${created.json._id}/offerings`, { open: true });
  assert.equal(offering.status, 201, JSON.stringify(offering.json));
  const refused = await call('DELETE', `/stored_data/${catalogId}`);
  assert.equal(refused.status, 409, JSON.stringify(refused.json));
  assert.match(String(refused.json.detail), /catalog layer scenes|used by/);
  // The default bottom level is the one closest to the items' resolution.
  const centre = tileOf((newer.bbox[0] + newer.bbox[2]) / 2, (newer.bbox[1] + newer.bbox[3]) / 2, Z + 1);
  assert.equal((await tile(`/xyz/${LAYER}/${Z + 1}/${centre.x}/${centre.y}.png`)).status, 404);
});

test('a tile over both items equals gdalwarp -r cubic of a VRT mosaic (newer on top), by XYZ and WMTS', {
  skip,
  timeout: 120_000,
}, async () => {
  // The middle of the overlap band: both items under the tile, in different pixels (two seeds).
  const lon = (older.bbox[0] + older.bbox[2]) / 2;
  const lat = (Math.max(older.bbox[1], newer.bbox[1]) + Math.min(older.bbox[3], newer.bbox[3])) / 2;
  const { x, y } = tileOf(lon, lat, Z);
  const xyz = await tile(`/xyz/${LAYER}/${Z}/${x}/${y}.png`);
  assert.equal(xyz.status, 200);
  assert.equal(xyz.type, 'image/png');
  const ours = path.join(tmp, 'ours.png');
  await writeFile(ours, xyz.bytes);
  // The COGs where the server keeps them: files, or objects GDAL reads through /vsis3/ (S3 storage).
  const cog = (it: CatalogItem) => gdalPathOf(storeOf(s), `${storeOf(s).root}/${it.key}`);
  const env = gdalEnv(storeOf(s));
  /** gdalwarp of a VRT mosaic of the items: gdalbuildvrt draws a later source over the earlier ones. */
  const oracle = async (name: string, order: CatalogItem[]) => {
    const vrt = path.join(tmp, `${name}.vrt`);
    await run('gdalbuildvrt', ['-q', '-overwrite', vrt, ...order.map(cog)], { env });
    const reference = path.join(tmp, `${name}.tif`);
    await run(
      'gdalwarp',
      [
        '-q',
        '-overwrite',
        vrt,
        reference,
        '-t_srs',
        'EPSG:3857',
        '-te',
        ...boundsOf(Z, x, y).map(String),
        '-ts',
        '256',
        '256',
        '-r',
        'cubic',
        '-dstalpha',
      ],
      { env },
    );
    const { stdout } = await run(PYTHON, ['-c', COMPARE, ours, reference]);
    return JSON.parse(stdout) as { both: number; onlyA: number; onlyB: number; mean: number; p99: number };
  };
  const d = await oracle('newer-on-top', [older, newer]);
  // The order is seen: with the older item on top, the overlap differs (two different maps).
  const reversed = await oracle('older-on-top', [newer, older]);
  assert.ok(reversed.p99 > 20, `the older item on top differs: ${JSON.stringify(reversed)}`);
  // Same warp rules as GDAL's (warp.ts): the same pixels have data, up to a pixel along the items' edges.
  assert.ok(d.both > 256 * 64, JSON.stringify(d));
  assert.ok(d.onlyA + d.onlyB <= 4 * 256, JSON.stringify(d));
  assert.ok(d.mean < 1 && d.p99 <= 3, `mean ${d.mean}, p99 ${d.p99} grey levels from gdalwarp: ${JSON.stringify(d)}`);

  // The same tile by WMTS (KVP), in the PM tile matrix set.
  const wmts = await tile(
    `/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${LAYER}&STYLE=normal&TILEMATRIXSET=PM&TILEMATRIX=${Z}&TILEROW=${y}&TILECOL=${x}&FORMAT=image/png`,
  );
  assert.equal(wmts.status, 200, wmts.bytes.toString());
  assert.deepEqual(wmts.bytes, xyz.bytes);

  // WMS GetMap draws the layer from the same rendered tiles (the level closest to the map's resolution).
  const getMap = await fetch(
    `${s.url}/wms?${new URLSearchParams({ SERVICE: 'WMS', VERSION: '1.3.0', REQUEST: 'GetMap', LAYERS: LAYER, STYLES: '', CRS: 'EPSG:3857', BBOX: boundsOf(Z, x, y).join(','), WIDTH: '256', HEIGHT: '256', FORMAT: 'image/png', TRANSPARENT: 'TRUE' })}`,
  );
  assert.equal(getMap.status, 200, await getMap.clone().text());
  const map = path.join(tmp, 'map.png');
  await writeFile(map, Buffer.from(await getMap.arrayBuffer()));
  const { stdout } = await run(PYTHON, ['-c', COMPARE, map, path.join(tmp, 'newer-on-top.tif')]);
  const m = JSON.parse(stdout) as { both: number; mean: number; p99: number };
  assert.equal(m.both, 256 * 256, JSON.stringify(m));
  assert.ok(m.mean < 1 && m.p99 <= 3, `GetMap: ${JSON.stringify(m)}`);
});

test('a tile outside every item is the nodata tile; filter keeps only matching items; bad filters are 400s', {
  skip,
  timeout: 120_000,
}, async () => {
  const outside = await tile(`/xyz/${LAYER}/${Z}/0/0.png`);
  assert.equal(outside.status, 200);
  // Only the older item lies under a tile near its north edge (the newer one starts 45 % further south).
  const north = tileOf((older.bbox[0] + older.bbox[2]) / 2, older.bbox[3] - 0.05, Z);
  const plain = await tile(`/xyz/${LAYER}/${Z}/${north.x}/${north.y}.png`);
  assert.equal(plain.status, 200);
  assert.notDeepEqual(plain.bytes, outside.bytes, 'the older item is drawn without a filter');
  for (const filter of ['dateofimage>2023-01-01', 'cloud>=0.15', 'cloud!=0.1']) {
    const filtered = await tile(`/xyz/${LAYER}/${Z}/${north.x}/${north.y}.png?filter=${encodeURIComponent(filter)}`);
    assert.equal(filtered.status, 200);
    assert.deepEqual(filtered.bytes, outside.bytes, `${filter}: the older item is filtered out, nodata tile`);
  }
  const kept = await tile(`/xyz/${LAYER}/${Z}/${north.x}/${north.y}.png?filter=${encodeURIComponent('dateofimage<2023-01-01')}`);
  assert.deepEqual(kept.bytes, plain.bytes, 'the older item kept by its filter');

  for (const filter of ['nosuch>1', 'dateofimage>yesterday', 'cloud=abc', 'cloud']) {
    const r = await fetch(`${s.url}/xyz/${LAYER}/${Z}/${north.x}/${north.y}.png?filter=${encodeURIComponent(filter)}`);
    assert.equal(r.status, 400, filter);
    const problem = (await r.json()) as { detail: string };
    assert.match(problem.detail, /filter/, filter);
  }
  // The same through OGC API – Tiles and TMS (rows from the bottom).
  const nodataFilter = encodeURIComponent('dateofimage>2023-01-01');
  const ogc = await tile(`/collections/${LAYER}/map/tiles/PM/${Z}/${north.y}/${north.x}?f=png&filter=${nodataFilter}`);
  assert.equal(ogc.status, 200, ogc.bytes.toString());
  assert.deepEqual(ogc.bytes, outside.bytes);
  assert.deepEqual((await tile(`/collections/${LAYER}/map/tiles/PM/${Z}/${north.y}/${north.x}?f=png`)).bytes, plain.bytes);
  assert.equal((await tile(`/collections/${LAYER}/map/tiles/PM/${Z}/${north.y}/${north.x}?f=png&filter=nosuch%3D1`)).status, 400);
  const tmsY = 2 ** Z - 1 - north.y;
  assert.deepEqual((await tile(`/tms/1.0.0/${LAYER}/${Z}/${north.x}/${tmsY}.png?filter=${nodataFilter}`)).bytes, outside.bytes);
  const tmsBad = await tile(`/tms/1.0.0/${LAYER}/${Z}/${north.x}/${tmsY}.png?filter=cloud%3Cnone`);
  assert.equal(tmsBad.status, 400);
  assert.match(tmsBad.bytes.toString(), /filter/);
  const ows = await fetch(
    `${s.url}/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${LAYER}&STYLE=normal&TILEMATRIXSET=PM&TILEMATRIX=${Z}&TILEROW=${north.y}&TILECOL=${north.x}&FORMAT=image/png&FILTER=nosuch%3D1`,
  );
  assert.equal(ows.status, 400);
  assert.match(await ows.text(), /locator="filter"/);
});

test("an item's thumbnail is its COG's smallest level as PNG (read by ranges on S3)", { skip, timeout: 60_000 }, async () => {
  const res = await fetch(`${s.url}/collections/${LAYER}/items/${encodeURIComponent(newer.id)}/thumbnail`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'image/png');
  const png = Buffer.from(await res.arrayBuffer());
  const { default: sharp } = await import('sharp');
  const meta = await sharp(png).metadata();
  assert.ok(meta.width! <= 256 && meta.height! <= 256 && Math.max(meta.width!, meta.height!) >= 64, `${meta.width}x${meta.height}`);
  const stats = await sharp(png).stats();
  assert.ok(stats.channels[0].stdev > 5, 'the thumbnail shows the image, not a flat fill');
});

test('a tile drawn before a tiling job adds items under it is drawn again with them (no stale rendered tile)', {
  skip,
  timeout: 240_000,
}, async () => {
  const north = await makeInput(s, 'later-north.tif', { seed: 1, part: 'north' });
  const south = await makeInput(s, 'later-south.tif', { seed: 2, part: 'south' });
  await tiling(
    [north.href],
    { serviceName: 'later', createNewService: true, attributesConfiguration: CONFIG },
    {
      dateofimage: '2022-06-01T10:00:00Z',
      cloud: 0.1,
    },
  );
  const later = (await storedData(s, '?type=RASTER-CATALOG')).find((c) => c.name === 'later')!;
  const created = await call('POST', '/configurations', configuration('later', { stored_data: later._id }));
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal((await call('POST', `/configurations/${created.json._id}/offerings`, { open: true })).status, 201);
  // A tile near the south edge of the newer (southern) raster: no item of this catalog under it yet.
  const at = tileOf((newer.bbox[0] + newer.bbox[2]) / 2, newer.bbox[1] + 0.05, Z);
  const where = `/xyz/later/${Z}/${at.x}/${at.y}.png`;
  const nodata = (await tile(`/xyz/later/${Z}/0/0.png`)).bytes;
  const before = await tile(where);
  assert.equal(before.status, 200);
  assert.deepEqual(before.bytes, nodata, 'nothing under the tile yet');
  await tiling([south.href], { serviceName: 'later' }, { dateofimage: '2023-06-01T10:00:00Z', cloud: 0.2 });
  const afterAdd = await tile(where);
  assert.equal(afterAdd.status, 200);
  assert.notDeepEqual(afterAdd.bytes, nodata, 'the item added since is drawn');
  // The same tile of the first catalog, which has the same raster there.
  assert.deepEqual(afterAdd.bytes, (await tile(`/xyz/${LAYER}/${Z}/${at.x}/${at.y}.png`)).bytes);
});
