/**
 * Issue 10, WMS 1.3.0 on the real server, with GDAL and OWSLib as clients and GDAL as the pixel oracle: a
 * GetMap equals gdalwarp (cubic) of the level mosaic GDAL reads through our WMTS; EPSG:4326 takes its
 * bbox latitude first and CRS:84 longitude first (same map); GDAL's WMS driver and OWSLib read the
 * service; GetFeatureInfo gives the pixel values; bad requests get their WMS exception.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { skipUnlessCommands, skipUnlessPythonModules } from '../helpers/env.js';
import { skipUnlessOgcXsd, validateXml } from '../helpers/ogc-xsd.js';
import { publishLayer } from '../helpers/publication.js';
import { generate, makeInput, PYTHON, storeOf } from '../helpers/pyramids.js';
import { locationOfRecord } from '../../src/pyramid/location.js';
import { openLayer } from '../../src/services/layer.js';
import { LayerRegistry } from '../../src/services/layer-registry.js';
import { MapGate } from '../../src/services/map-gate.js';
import { drawInPool, drawOnThisThread } from '../../src/services/map-renderer.js';
import { PiscinaPool } from '../../src/workers/pool.js';
import { wmsKvp } from '../../src/services/wms.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalwarp', PYTHON) || skipUnlessPythonModules('osgeo.gdal', 'numpy', 'owslib');
/** Asynchronous: the clients talk to a server in this very process. */
const run = promisify(execFile);

let s: TestServer;
let tmp: string;
let record: Record<string, unknown>;
const MAX_SIZE = 2048;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dallage-wms-'));
  // GDAL's WMS/WMTS drivers cache what they fetch in ./gdalwmscache by default: keep it out of the checkout.
  process.env.GDAL_DEFAULT_WMS_CACHE_PATH = path.join(tmp, 'gdalwmscache');
  // A map-size limit below the default, to see the config key reach the service.
  s = await startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid' }, limits: { wms_max_size: MAX_SIZE } });
  // 60 km × 120 km at 100 m in Lambert-93 (x 1,150,000–1,210,000, y 6,120,000–6,240,000), into PM.
  const map = await makeInput(s, 'map.tif');
  record = (
    await generate(s, {
      images: [{ href: map.href }],
      tms: 'PM',
      nodata: 255,
      width: 4,
      height: 4,
      compression: 'png',
      mask: true,
      name: 'W',
    })
  ).record;
  await publishLayer(s, 'w', record._id as string, { title: 'WMS test layer', keywords: ['test'] });
});

after(async () => {
  await s?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const getMap = (params: Record<string, string>) =>
  `${s.url}/wms?${new URLSearchParams({ SERVICE: 'WMS', VERSION: '1.3.0', REQUEST: 'GetMap', LAYERS: 'w', STYLES: '', FORMAT: 'image/png', TRANSPARENT: 'TRUE', ...params })}`;

/** Python comparing two RGBA images where both have data: prints count, mean and max difference. */
const COMPARE = `
import sys, json, numpy as np
from osgeo import gdal
a, b = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
x = np.stack([a.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)
y = np.stack([b.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)
both = (x[3] == 255) & (y[3] == 255)
d = np.abs(x[:3] - y[:3])[:, both]
print(json.dumps({'both': int(both.sum()), 'onlyA': int(((x[3] == 255) & (y[3] == 0)).sum()), 'onlyB': int(((y[3] == 255) & (x[3] == 0)).sum()),
                  'mean': float(d.mean()) if d.size else 0, 'p99': float(np.percentile(d, 99)) if d.size else 0}))
`;

async function compare(a: string, b: string): Promise<{ both: number; onlyA: number; onlyB: number; mean: number; p99: number }> {
  const { stdout } = await run(PYTHON, ['-c', COMPARE, a, b]);
  return JSON.parse(stdout) as { both: number; onlyA: number; onlyB: number; mean: number; p99: number };
}

test('GetMap in Lambert-93 equals gdalwarp -r cubic of the level mosaic GDAL reads through our WMTS', {
  skip,
  timeout: 120_000,
}, async () => {
  const bbox = [1_160_000, 6_130_000, 1_200_000, 6_230_000];
  const res = await fetch(getMap({ CRS: 'EPSG:2154', BBOX: bbox.join(','), WIDTH: '200', HEIGHT: '500' }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const ours = path.join(tmp, 'ours.png');
  await writeFile(ours, Buffer.from(await res.arrayBuffer()));
  // 200 m per pixel at 42.5° N is ~271 m in Web Mercator: level 9 (305 m) is the closest.
  const info = (await (
    await fetch(
      `${s.url}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=w&QUERY_LAYERS=w&STYLES=&CRS=EPSG:2154&BBOX=${bbox.join(',')}&WIDTH=200&HEIGHT=500&I=100&J=250&INFO_FORMAT=application/json`,
    )
  ).json()) as { features: Array<{ properties: { tileMatrix: string; values: number[] | null } }> };
  const level = info.features[0].properties.tileMatrix;
  assert.equal(level, '9');
  const reference = path.join(tmp, 'reference.tif');
  await run('gdalwarp', [
    '-q',
    '-overwrite',
    `WMTS:${s.url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer=w,tilematrix=${level}`,
    reference,
    '-t_srs',
    'EPSG:2154',
    '-te',
    ...bbox.map(String),
    '-ts',
    '200',
    '500',
    '-r',
    'cubic',
  ]);
  const d = await compare(ours, reference);
  assert.equal(d.onlyA + d.onlyB, 0, JSON.stringify(d));
  assert.equal(d.both, 200 * 500);
  assert.ok(d.mean < 1 && d.p99 <= 3, `mean ${d.mean}, p99 ${d.p99} grey levels from gdalwarp`);
  // The pixel value GetFeatureInfo gave is the data's (not nodata).
  assert.equal(info.features[0].properties.values?.length, 3);
});

test('EPSG:4326 takes its BBOX latitude first, CRS:84 longitude first: the same map; EPSG:3857 works too', { skip }, async () => {
  const lat = await fetch(getMap({ CRS: 'EPSG:4326', BBOX: '42.2,8.6,42.9,9.0', WIDTH: '300', HEIGHT: '400' }));
  const lon = await fetch(getMap({ CRS: 'CRS:84', BBOX: '8.6,42.2,9.0,42.9', WIDTH: '300', HEIGHT: '400' }));
  assert.equal(lat.status, 200);
  assert.equal(lon.status, 200);
  const a = await sharp(Buffer.from(await lat.arrayBuffer()))
    .raw()
    .toBuffer();
  const b = await sharp(Buffer.from(await lon.arrayBuffer()))
    .raw()
    .toBuffer();
  assert.deepEqual(a, b);
  let opaque = 0;
  for (let p = 3; p < a.length; p += 4) if (a[p] === 255) opaque++;
  assert.ok(opaque > 0.9 * 300 * 400, `${opaque} pixels of data`);
  // Swapped (longitude first under EPSG:4326): a place with no data at all.
  const swapped = await sharp(
    Buffer.from(await (await fetch(getMap({ CRS: 'EPSG:4326', BBOX: '8.6,42.2,9.0,42.9', WIDTH: '30', HEIGHT: '40' }))).arrayBuffer()),
  )
    .raw()
    .toBuffer();
  assert.ok(swapped.every((v, i) => i % 4 !== 3 || v === 0));
  const merc = await fetch(
    getMap({ CRS: 'EPSG:3857', BBOX: '960000,5200000,1000000,5300000', WIDTH: '100', HEIGHT: '250', FORMAT: 'image/jpeg' }),
  );
  assert.equal(merc.status, 200);
  assert.equal(merc.headers.get('content-type'), 'image/jpeg');
  assert.equal((await sharp(Buffer.from(await merc.arrayBuffer())).metadata()).width, 100);
});

test("GDAL's WMS driver reads a GetMap; OWSLib parses the capabilities and fetches a map", { skip, timeout: 120_000 }, async () => {
  const out = path.join(tmp, 'gdal-wms.tif');
  const url = `WMS:${s.url}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=w&CRS=EPSG:2154&BBOX=1160000,6130000,1200000,6230000&FORMAT=image/png&TRANSPARENT=TRUE`;
  await run('gdal_translate', ['-q', '-outsize', '100', '250', url, out]);
  const { stdout } = await run(PYTHON, [
    '-c',
    'import sys\nfrom osgeo import gdal\nd = gdal.Open(sys.argv[1])\nprint(d.RasterXSize, d.RasterYSize, d.GetRasterBand(1).ComputeRasterMinMax(False)[1])',
    out,
  ]);
  const [w, h, max] = stdout.trim().split(' ').map(Number);
  assert.deepEqual([w, h], [100, 250]);
  assert.ok(max > 0, 'GDAL read pixels of data');

  const owslib = `
import sys
from owslib.wms import WebMapService
wms = WebMapService(sys.argv[1] + '/wms', version='1.3.0')
layer = wms['w']
img = wms.getmap(layers=['w'], styles=[''], srs='EPSG:2154', bbox=(1160000, 6130000, 1200000, 6230000), size=(80, 200), format='image/png', transparent=True)
data = img.read()
print(layer.title, sorted(layer.crsOptions)[0], len(data) > 100, data[:8] == b'\\x89PNG\\r\\n\\x1a\\n')
`;
  const r = await run(PYTHON, ['-c', owslib, s.url]);
  assert.equal(r.stdout.trim(), 'WMS test layer CRS:84 True True');
});

test('bad requests get the WMS exception of their case, never a 500', { skip }, async () => {
  const cases: Array<[Record<string, string>, number, RegExp]> = [
    [{ LAYERS: 'nope', CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10' }, 404, /code="LayerNotDefined"/],
    [{ CRS: 'EPSG:9999', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10' }, 400, /code="InvalidCRS"/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10', FORMAT: 'image/gif' }, 400, /code="InvalidFormat"/],
    [{ CRS: 'EPSG:3857', BBOX: '1,0,0,1', WIDTH: '10', HEIGHT: '10' }, 400, /minimum must be below/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1', WIDTH: '10', HEIGHT: '10' }, 400, /four numbers/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '2049', HEIGHT: '10' }, 400, /WIDTH=2049 is over the limit of 2048/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '99999999999999999999' }, 400, /HEIGHT=9+: a positive integer/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '0', HEIGHT: '10' }, 400, /WIDTH=0: a positive integer/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '1e3', HEIGHT: '10' }, 400, /WIDTH=1e3/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,NaN,1', WIDTH: '10', HEIGHT: '10' }, 400, /four numbers/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10', BGCOLOR: 'red' }, 400, /BGCOLOR=red/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10', VERSION: '1.1.1' }, 400, /VERSION=1\.1\.1/],
    [{ CRS: '', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10' }, 400, /CRS is required/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: 'ten', HEIGHT: '10' }, 400, /WIDTH=ten/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', HEIGHT: '10' }, 400, /WIDTH is required/],
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '10', HEIGHT: '10', STYLES: 'fancy' }, 400, /code="StyleNotDefined"/],
    [{ REQUEST: 'DescribeLayer' }, 501, /code="OperationNotSupported"/],
  ];
  for (const [params, status, body] of cases) {
    const res = await fetch(getMap(params));
    const text = await res.text();
    assert.equal(res.status, status, `${JSON.stringify(params)}: ${text}`);
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    assert.match(text, /<ServiceExceptionReport version="1\.3\.0"/);
    assert.match(text, body);
  }
  // Outside the data: a transparent map, not an error.
  const empty = await fetch(getMap({ CRS: 'EPSG:3857', BBOX: '-3000000,5000000,-2990000,5010000', WIDTH: '16', HEIGHT: '16' }));
  assert.equal(empty.status, 200);
  const px = await sharp(Buffer.from(await empty.arrayBuffer()))
    .raw()
    .toBuffer();
  assert.ok(px.every((v, i) => i % 4 !== 3 || v === 0));
});

test('EPSG:4326 GetMap drawn in several strips equals gdalwarp -r cubic of the level mosaic, seams included', {
  skip,
  timeout: 120_000,
}, async () => {
  // 600 × 1000 px: the map is drawn 873 rows then 127 (wms-render.ts STRIP_PIXELS); BBOX latitude first.
  const [w, h] = [600, 1000];
  const res = await fetch(getMap({ CRS: 'EPSG:4326', BBOX: '42.2,8.55,42.95,9.05', WIDTH: String(w), HEIGHT: String(h) }));
  assert.equal(res.status, 200, await res.clone().text());
  const ours = path.join(tmp, 'ours-4326.png');
  await writeFile(ours, Buffer.from(await res.arrayBuffer()));
  const info = (await (
    await fetch(
      `${s.url}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=w&QUERY_LAYERS=w&STYLES=&CRS=EPSG:4326&BBOX=42.2,8.55,42.95,9.05&WIDTH=${w}&HEIGHT=${h}&I=300&J=500&INFO_FORMAT=application/json`,
    )
  ).json()) as { features: Array<{ properties: { tileMatrix: string } }> };
  const level = info.features[0].properties.tileMatrix;
  const reference = path.join(tmp, 'reference-4326.tif');
  // gdalwarp's -te is longitude first (GDAL's traditional GIS order), the WMS BBOX latitude first.
  await run('gdalwarp', [
    '-q',
    '-overwrite',
    `WMTS:${s.url}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities,layer=w,tilematrix=${level}`,
    reference,
    '-t_srs',
    'EPSG:4326',
    '-te',
    '8.55',
    '42.2',
    '9.05',
    '42.95',
    '-ts',
    String(w),
    String(h),
    '-r',
    'cubic',
  ]);
  const d = await compare(ours, reference);
  // The synthetic map has a nodata corner in this box (its top-left): our map is transparent there
  // (the pyramid's mask), while GDAL, reading RGB PNG tiles without the mask, sees opaque nodata white.
  // Never the other way round.
  assert.equal(d.onlyA, 0, JSON.stringify(d));
  assert.ok(d.onlyB <= 0.005 * w * h, JSON.stringify(d));
  assert.ok(d.both > 0.3 * w * h, JSON.stringify(d));
  assert.ok(d.mean < 1 && d.p99 <= 3, `mean ${d.mean}, p99 ${d.p99} grey levels from gdalwarp`);
  // No seam: the rows on both sides of the strip boundary differ from gdalwarp no more than the rest.
  const seam = await compareRows(ours, reference, 870, 877);
  assert.ok(seam.mean < 1.5 && seam.max <= 8, `rows 870-876: ${JSON.stringify(seam)}`);
});

/** Mean and max difference over rows [y0, y1) where both images have data. */
async function compareRows(a: string, b: string, y0: number, y1: number): Promise<{ mean: number; max: number }> {
  const script = `
import sys, json, numpy as np
from osgeo import gdal
y0, y1 = int(sys.argv[3]), int(sys.argv[4])
a, b = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
x = np.stack([a.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)[:, y0:y1]
y = np.stack([b.GetRasterBand(i + 1).ReadAsArray() for i in range(4)]).astype(int)[:, y0:y1]
both = (x[3] == 255) & (y[3] == 255)
d = np.abs(x[:3] - y[:3])[:, both]
print(json.dumps({'mean': float(d.mean()) if d.size else 0, 'max': int(d.max()) if d.size else 0}))
`;
  const { stdout } = await run(PYTHON, ['-c', script, a, b, String(y0), String(y1)]);
  return JSON.parse(stdout) as { mean: number; max: number };
}

test('capabilities: CRS list, lat-first EPSG:4326 BoundingBox, configured MaxWidth; valid against the OGC WMS 1.3.0 schema', {
  skip: skip || skipUnlessOgcXsd('wms/1.3.0/capabilities_1_3_0.xsd'),
}, async () => {
  const res = await fetch(`${s.url}/wms?SERVICE=WMS&REQUEST=GetCapabilities`);
  assert.equal(res.status, 200);
  const caps = await res.text();
  assert.match(caps, new RegExp(`<MaxWidth>${MAX_SIZE}</MaxWidth>`));
  const layer = caps.slice(caps.indexOf('<Name>w</Name>'));
  for (const crs of ['EPSG:3857', 'EPSG:4326', 'CRS:84', 'EPSG:2154']) assert.match(layer, new RegExp(`<CRS>${crs}</CRS>`));
  for (const f of ['application/json', 'text/html', 'text/plain']) assert.match(caps, new RegExp(`<Format>${f}</Format>`));
  const box = (crs: string) => {
    const m = new RegExp(`<BoundingBox CRS="${crs}" minx="([-\\d.e]+)" miny="([-\\d.e]+)"`).exec(layer);
    assert.ok(m, `BoundingBox ${crs}`);
    return [Number(m[1]), Number(m[2])];
  };
  // The data lies around 42.5° N, 8.8° E: latitude first for EPSG:4326, longitude first for CRS:84.
  assert.ok(box('EPSG:4326')[0] > 40 && box('EPSG:4326')[1] < 10, `EPSG:4326 ${box('EPSG:4326')}`);
  assert.ok(box('CRS:84')[0] < 10 && box('CRS:84')[1] > 40, `CRS:84 ${box('CRS:84')}`);
  const file = path.join(tmp, 'wms-caps.xml');
  await writeFile(file, caps);
  const report = path.join(tmp, 'wms-report.xml');
  await writeFile(
    report,
    await (await fetch(getMap({ LAYERS: 'nope', CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '1', HEIGHT: '1' }))).text(),
  );
  const lines = await validateXml([
    { file, xsd: 'wms/1.3.0/capabilities_1_3_0.xsd' },
    { file: report, xsd: 'wms/1.3.0/exceptions_1_3_0.xsd' },
  ]);
  assert.deepEqual(
    lines.map((l) => l.split(' ')[1]),
    ['valid', 'valid'],
    lines.join('\n'),
  );
});

test('GetFeatureInfo in JSON, HTML and text gives the same pixel; a point off the map is InvalidPoint', { skip }, async () => {
  const base = `${s.url}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=w&QUERY_LAYERS=w&STYLES=&CRS=EPSG:2154&BBOX=1160000,6130000,1200000,6230000&WIDTH=200&HEIGHT=500`;
  const json = (await (await fetch(`${base}&I=50&J=60&INFO_FORMAT=application/json`)).json()) as {
    features: Array<{ properties: { values: number[] } }>;
  };
  const values = json.features[0].properties.values;
  assert.equal(values.length, 3);
  const html = await fetch(`${base}&I=50&J=60&INFO_FORMAT=text/html`);
  assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  const htmlText = await html.text();
  for (const [b, v] of values.entries()) assert.match(htmlText, new RegExp(`<th>band_${b + 1}</th><td>${v}</td>`));
  const text = await (await fetch(`${base}&I=50&J=60&INFO_FORMAT=text/plain`)).text();
  for (const [b, v] of values.entries()) assert.match(text, new RegExp(`band_${b + 1}: ${v}\\n`));
  const off = await fetch(`${base}&I=200&J=60&INFO_FORMAT=text/plain`);
  assert.equal(off.status, 400);
  assert.match(await off.text(), /code="InvalidPoint"/);
  const badFormat = await fetch(`${base}&I=5&J=6&INFO_FORMAT=application/xml`);
  assert.equal(badFormat.status, 400);
  assert.match(await badFormat.text(), /code="InvalidFormat"/);
});

test('TRANSPARENT=FALSE draws BGCOLOR where there is no data (opaque PNG); TRANSPARENT=TRUE leaves it transparent', { skip }, async () => {
  // Half on the data, half west of it (Lambert-93 x below 1,150,000 has none).
  const params = { CRS: 'EPSG:2154', BBOX: '1100000,6150000,1200000,6200000', WIDTH: '100', HEIGHT: '50' };
  const opaque = await fetch(getMap({ ...params, TRANSPARENT: 'FALSE', BGCOLOR: '0xFF0000' }));
  assert.equal(opaque.status, 200);
  const o = await sharp(Buffer.from(await opaque.arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.equal(o.info.channels, 3);
  assert.deepEqual([...o.data.subarray(0, 3)], [255, 0, 0], 'west edge: background');
  const east = (25 * 100 + 90) * 3;
  assert.notDeepEqual([...o.data.subarray(east, east + 3)], [255, 0, 0], 'east: data');
  const t = await sharp(Buffer.from(await (await fetch(getMap({ ...params, TRANSPARENT: 'TRUE' }))).arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.equal(t.info.channels, 4);
  assert.equal(t.data[3], 0);
  assert.equal(t.data[(25 * 100 + 90) * 4 + 3], 255);
});

test('maps drawn at once are bounded: beyond the gate and its queue a GetMap is refused with 503, not drawn', { skip }, async () => {
  const layers = new LayerRegistry();
  layers.publish(await openLayer({ name: 'w', title: 'w', pyramids: [locationOfRecord(record as never)] }, storeOf(s)));
  // One map at a time, nobody waiting: the second request, made while the first draws, is refused.
  const ctx = { layers, wms: { maxSize: 4096, gate: new MapGate(1, 0) } };
  const req = {
    method: 'GET',
    path: '/wms',
    params: {},
    headers: {},
    baseUrl: 'http://127.0.0.1',
    query: { SERVICE: 'WMS', VERSION: '1.3.0', REQUEST: 'GetMap', LAYERS: 'w', STYLES: '', CRS: 'EPSG:2154', FORMAT: 'image/png' },
  };
  const map = { ...req, query: { ...req.query, BBOX: '1160000,6130000,1200000,6230000', WIDTH: '400', HEIGHT: '1000' } };
  const [first, second] = await Promise.all([wmsKvp(map, ctx), wmsKvp(map, ctx)]);
  assert.equal(first.status, 200);
  assert.equal(second.status, 503);
  assert.match(String(second.body), /<ServiceExceptionReport version="1\.3\.0"[\s\S]*retry later/);
  // Once the first is done, the gate is free again.
  assert.equal((await wmsKvp(map, ctx)).status, 200);
});

test('maps are drawn in the worker pool, byte for byte the map the calling thread draws', { skip }, async () => {
  const layer = await openLayer({ name: 'w', title: 'w', pyramids: [locationOfRecord(record as never)] }, storeOf(s));
  assert.ok(layer.source, 'a FILE layer can be opened by worker threads');
  const pool = new PiscinaPool({ threads: 1 });
  try {
    // Over the layer's west edge: data and nodata in one map.
    const [w, south, e, n] = layer.wgs84Bbox;
    const bbox: [number, number, number, number] = [w - (e - w) / 4, south, (w + e) / 2, n];
    const grid = { crs: 'EPSG:4326', bbox, width: 300, height: 450 };
    for (const look of [
      { format: 'image/png' as const, transparent: true, bg: [255, 255, 255] as [number, number, number] },
      { format: 'image/jpeg' as const, transparent: false, bg: [0, 128, 255] as [number, number, number] },
    ]) {
      const here = await drawOnThisThread([layer], grid, look);
      const inPool = await drawInPool(pool)([layer], grid, look);
      assert.ok(here.length > 1000);
      assert.ok(here.equals(inPool), `${look.format}: the worker's bytes differ`);
    }
    // The worker opened the layer itself; a layer opened again (a switch) is a new one for it.
    const again = await openLayer({ name: 'w', title: 'w', pyramids: [locationOfRecord(record as never)] }, storeOf(s));
    assert.notEqual(again.source?.key, layer.source?.key);
  } finally {
    await pool.destroy();
  }
});
