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
import { generate, makeInput, PYTHON } from '../helpers/pyramids.js';
import { publishLayer } from '../helpers/publication.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('gdalwarp', PYTHON) || skipUnlessPythonModules('osgeo.gdal', 'numpy', 'owslib');
/** Asynchronous: the clients talk to a server in this very process. */
const run = promisify(execFile);

let s: TestServer;
let tmp: string;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dallage-wms-'));
  s = await startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid' } });
  // 60 km × 120 km at 100 m in Lambert-93 (x 1,150,000–1,210,000, y 6,120,000–6,240,000), into PM.
  const map = await makeInput(s, 'map.tif');
  const record = (
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
    [{ CRS: 'EPSG:3857', BBOX: '0,0,1,1', WIDTH: '5000', HEIGHT: '10' }, 400, /over the limit of 4096/],
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
