/**
 * Raster catalogs as OGC API – Features (issue 12), end to end on a real server: a catalog made by the
 * tiling process (two rasters far apart, then one more with other attributes), then /conformance,
 * /collections, the collection, items with bbox / datetime / attribute filters and paging by next links,
 * one item, its thumbnail, HTML renderings, OpenAPI paths and the 400/404 problems. Items are checked as
 * STAC 1.1 Items with the projection extension (geometry in CRS84 inside the raster's bbox, proj:code,
 * proj:shape, proj:transform = the source's geotransform read by GDAL).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { skipUnlessCommands } from '../helpers/env.js';
import { makeInput } from '../helpers/pyramids.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';

const execFileAsync = promisify(execFile);
const skip = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
const COG = 'image/tiff; application=geotiff; profile=cloud-optimized';
const GEOJSON = 'application/geo+json';
const CONFIG = {
  titleAttribute: 'name',
  attributes: [
    { attributeName: 'name', subType: 'String' },
    { attributeName: 'dateofimage', subType: 'DateTime' },
    { attributeName: 'cloud', subType: 'Double' },
    { attributeName: 'clear', subType: 'Boolean' },
  ],
};

let s: TestServer;
const sources: Record<string, string> = {};

async function tiling(inputs: Record<string, unknown>): Promise<void> {
  const res = await execute(s.url, 'tiling', { inputs, response: 'document' }, { Prefer: 'respond-async' });
  assert.equal(res.status, 201, await res.clone().text());
  const status = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID, { timeoutMs: 240_000 });
  assert.equal(status.status, 'successful', JSON.stringify(status));
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(path.startsWith('http') ? path : `${s.url}${path}`, { headers });
}

async function json(path: string, type = 'application/json'): Promise<Record<string, any>> {
  const res = await get(path);
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  assert.equal(res.headers.get('content-type'), type, path);
  return (await res.json()) as Record<string, any>;
}

const names = (fc: Record<string, any>) => (fc.features as Array<Record<string, any>>).map((f) => f.properties.name).sort();

before(async () => {
  if (skip) return;
  s = await startTestServer({ processes: { tiling: 'tiling' } });
  // Corsica (EPSG:2154 near 9°E 42°N) and the same map 400 km north-west: two disjoint footprints.
  const corsica = await makeInput(s, 'corsica.tif', { width: 200, height: 400, pixelSize: 500 });
  const north = await makeInput(s, 'north.tif', { width: 200, height: 400, pixelSize: 500, seed: 3, origin: { x: 850000, y: 6600000 } });
  sources.corsica = corsica.path;
  sources.north = north.path;
  await tiling({
    files: [{ href: corsica.href }, { href: north.href }],
    target: { serviceName: 'landsat', createNewService: true, attributesConfiguration: CONFIG },
    attributes: { name: 'first', dateofimage: '2023-12-08T12:00:00+00:00', cloud: 0.25, clear: true },
    compression: 'deflate',
  });
  await tiling({
    files: [{ href: corsica.href }],
    target: { serviceName: 'landsat' },
    attributes: { name: 'later', dateofimage: '2024-06-01T00:00:00Z', cloud: 0.5, clear: false },
    compression: 'jpeg',
  });
});

after(async () => {
  await s?.stop();
});

test('Features: conformance, landing link, collections with the catalog, the collection and its extent', { skip }, async () => {
  const conf = await json('/conformance');
  for (const c of ['core', 'geojson', 'html', 'oas30'])
    assert.ok(conf.conformsTo.includes(`http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/${c}`), c);
  const landing = await json('/');
  // One `data` link, to /collections (OGC API – Common): Features clients follow the first one (QGIS 3.22's
  // OAPIF provider crashed on a `data` link to /stored_data).
  assert.deepEqual(
    landing.links.filter((l: any) => l.rel === 'data').map((l: any) => l.href),
    [`${s.url}/collections`],
  );

  const collections = await json('/collections');
  const c = collections.collections.find((x: any) => x.id === 'landsat');
  assert.ok(c, 'the catalog is a collection');
  assert.equal(c.links.find((l: any) => l.rel === 'items').href, `${s.url}/collections/landsat/items`);
  assert.equal(c.links.find((l: any) => l.rel === 'items').type, GEOJSON);

  const one = await json('/collections/landsat');
  assert.equal(one.type, 'Collection');
  assert.equal(one.stac_version, '1.1.0');
  assert.equal(typeof one.description, 'string');
  assert.equal(typeof one.license, 'string');
  assert.deepEqual(one.crs, ['http://www.opengis.net/def/crs/OGC/1.3/CRS84']);
  const items = (await json('/collections/landsat/items?limit=100', GEOJSON)).features as Array<Record<string, any>>;
  const union = items.reduce(
    (b, f) => [Math.min(b[0], f.bbox[0]), Math.min(b[1], f.bbox[1]), Math.max(b[2], f.bbox[2]), Math.max(b[3], f.bbox[3])],
    [180, 90, -180, -90],
  );
  assert.deepEqual(one.extent.spatial.bbox, [union]);
  assert.deepEqual(one.extent.temporal.interval, [['2023-12-08T12:00:00.000Z', '2024-06-01T00:00:00.000Z']]);
  assert.equal((await get('/collections/nope')).status, 404);
});

test('Features: items are STAC Items with footprint, proj: fields and the COG and thumbnail assets', { skip }, async () => {
  const fc = await json('/collections/landsat/items', GEOJSON);
  assert.equal(fc.type, 'FeatureCollection');
  assert.equal(fc.numberMatched, 3);
  assert.equal(fc.numberReturned, 3);
  assert.ok(!Number.isNaN(Date.parse(fc.timeStamp)));
  for (const f of fc.features as Array<Record<string, any>>) {
    assert.equal(f.type, 'Feature');
    assert.equal(f.stac_version, '1.1.0');
    assert.deepEqual(f.stac_extensions, ['https://stac-extensions.github.io/projection/v2.0.0/schema.json']);
    assert.equal(f.collection, 'landsat');
    assert.equal(f.geometry.type, 'Polygon');
    const ring = f.geometry.coordinates[0] as number[][];
    assert.deepEqual(ring[0], ring[ring.length - 1], 'closed ring');
    for (const [x, y] of ring) assert.ok(x >= f.bbox[0] && x <= f.bbox[2] && y >= f.bbox[1] && y <= f.bbox[3]);
    assert.ok(f.bbox[0] > 2 && f.bbox[2] < 11 && f.bbox[1] > 40 && f.bbox[3] < 47, `CRS84 lon/lat over France: ${f.bbox}`);
    assert.equal(f.properties.title, f.properties.name, 'titleAttribute');
    assert.equal(f.properties['proj:code'], 'EPSG:2154');
    assert.deepEqual(f.properties['proj:shape'], [400, 200]);
    assert.equal(typeof f.properties.datetime, 'string');
    assert.equal(f.assets.data.type, COG);
    assert.deepEqual(f.assets.data.roles, ['data']);
    assert.equal(f.assets.data.href, `${s.url}/collections/landsat/items/${f.id}/data`);
    assert.equal(f.assets.thumbnail.type, 'image/png');
    assert.deepEqual(f.assets.thumbnail.roles, ['thumbnail']);
    for (const rel of ['self', 'collection', 'root', 'parent'])
      assert.ok(
        f.links.some((l: any) => l.rel === rel),
        rel,
      );
  }
  // proj:transform is the source's geotransform (GDAL's order reordered, cog.md §6).
  const corsica = (fc.features as Array<Record<string, any>>).find((f) => f.properties.name === 'first' && f.bbox[0] > 8)!;
  const gt = JSON.parse(execFileSync('gdalinfo', ['-json', sources.corsica], { encoding: 'utf8' })).geoTransform as number[];
  assert.deepEqual(corsica.properties['proj:transform'], [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]]);

  const one = await json(`/collections/landsat/items/${corsica.id}`, GEOJSON);
  assert.deepEqual(one, corsica);
  const missing = await get('/collections/landsat/items/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('content-type'), 'application/problem+json');

  const thumb = await get(corsica.assets.thumbnail.href);
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get('content-type'), 'image/png');
  const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! <= 256 && meta.height! <= 256 && meta.height! > meta.width!, `${meta.width}×${meta.height}`);
});

test('Features: bbox, datetime and attribute filters, paging by next links, refusals naming the parameter', { skip }, async () => {
  const q = (query: string) => json(`/collections/landsat/items?${query}`, GEOJSON);
  assert.deepEqual(names(await q('bbox=8,41,10,43.5')), ['first', 'later'], 'the two Corsica items');
  assert.deepEqual(names(await q('bbox=2,44,7,47')), ['first'], 'the item to the north-west');
  assert.deepEqual(names(await q('bbox=-10,0,-5,10')), []);
  assert.deepEqual(names(await q('datetime=2024-01-01T00:00:00Z/..')), ['later']);
  assert.deepEqual(names(await q('datetime=../2023-12-31')), ['first', 'first']);
  assert.deepEqual(names(await q('datetime=2023-12-08')), ['first', 'first'], 'a date is the whole day');
  assert.deepEqual(names(await q('datetime=2023-12-08T12:00:00Z')), ['first', 'first']);
  assert.deepEqual(names(await q('name=later')), ['later']);
  assert.deepEqual(names(await q('cloud=0.25')), ['first', 'first'], 'numbers compared as numbers');
  assert.deepEqual(names(await q('clear=false')), ['later']);
  assert.deepEqual(names(await q('name=first&bbox=8,41,10,43.5')), ['first']);

  const page1 = await q('limit=2');
  assert.equal(page1.numberReturned, 2);
  assert.equal(page1.numberMatched, 3);
  const next = page1.links.find((l: any) => l.rel === 'next');
  assert.ok(next, 'a next link');
  assert.equal(next.type, GEOJSON);
  const page2 = await json(next.href, GEOJSON);
  assert.equal(page2.numberReturned, 1);
  assert.equal(
    page2.links.find((l: any) => l.rel === 'next'),
    undefined,
    'no next after the last page',
  );
  assert.ok(page2.links.some((l: any) => l.rel === 'prev'));
  const ids = new Set([...page1.features, ...page2.features].map((f: any) => f.id));
  assert.equal(ids.size, 3, 'the pages together hold every item once');

  const refused: Array<[string, string]> = [
    ['bbox=1,2,3', 'bbox'],
    ['bbox=0,50,10,40', 'bbox'],
    ['bbox=a,b,c,d', 'bbox'],
    ['datetime=yesterday', 'datetime'],
    ['datetime=2024-01-01/2023-01-01', 'datetime'],
    ['limit=0', 'limit'],
    ['cloud=high', 'cloud'],
    ['clear=maybe', 'clear'],
    ['colour=red', 'colour'],
    ['bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326', 'bbox-crs'],
  ];
  for (const [query, parameter] of refused) {
    const res = await get(`/collections/landsat/items?${query}`);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 400, query);
    assert.equal(res.headers.get('content-type'), 'application/problem+json', query);
    assert.match(String(body.detail), new RegExp(parameter.replace(/[-]/g, '\\-')), query);
  }
  assert.equal((await get('/collections/nope/items')).status, 404);
});

test('Features: HTML renderings and OpenAPI operations', { skip }, async () => {
  const fc = await json('/collections/landsat/items', GEOJSON);
  const id = fc.features[0].id as string;
  for (const p of ['/collections', '/collections/landsat', '/collections/landsat/items', `/collections/landsat/items/${id}`]) {
    const res = await get(`${p}?f=html`);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, p);
    const html = await res.text();
    assert.match(html, /landsat/, p);
  }
  const byAccept = await get('/collections/landsat/items', { Accept: 'text/html' });
  assert.match(byAccept.headers.get('content-type') ?? '', /^text\/html/);
  const api = await json('/api', 'application/vnd.oai.openapi+json;version=3.0');
  for (const p of [
    '/collections',
    '/collections/{collectionId}',
    '/collections/{collectionId}/items',
    '/collections/{collectionId}/items/{featureId}',
    '/collections/{collectionId}/items/{featureId}/data',
    '/collections/{collectionId}/items/{featureId}/thumbnail',
  ])
    assert.ok(api.paths[p]?.get, p);
  const items = api.paths['/collections/{collectionId}/items'].get;
  for (const name of ['bbox', 'datetime', 'limit', 'offset'])
    assert.ok(
      items.parameters.some((x: any) => x.name === name),
      name,
    );
});

const VSICURL_COMPARE = `
import json, sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
gdal.SetConfigOption('GDAL_DISABLE_READDIR_ON_OPEN', 'EMPTY_DIR')
remote = gdal.Open('/vsicurl/' + sys.argv[1])
local = gdal.Open(sys.argv[2])
def bands(ds):
    out = []
    for i in range(1, ds.RasterCount + 1):
        b = ds.GetRasterBand(i)
        out.append(b.ReadAsArray())
        for o in range(b.GetOverviewCount()):
            out.append(b.GetOverview(o).ReadAsArray())
        out.append(b.GetMaskBand().ReadAsArray())
    return out
r, l = bands(remote), bands(local)
print(json.dumps({
  'arrays': len(r),
  'equal': len(r) == len(l) and all(np.array_equal(a, b) for a, b in zip(r, l)),
  'size': [remote.RasterXSize, remote.RasterYSize, remote.RasterCount],
  'geotransform_equal': remote.GetGeoTransform() == local.GetGeoTransform(),
  'layout': remote.GetMetadataItem('LAYOUT', 'IMAGE_STRUCTURE'),
}))
`;

test("COG href: range requests (206, 416, If-Range, 304) and GDAL's /vsicurl/ reads the same pixels as the file", { skip }, async () => {
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const fc = await json('/collections/landsat/items?limit=100', GEOJSON);
  for (const f of fc.features as Array<Record<string, any>>) {
    const catalog = (await json('/stored_data?type=RASTER-CATALOG')).stored_data[0] as { _id: string };
    const item = s.runtime.catalogItems.get(catalog._id, f.id)!;
    const file = path.join(s.dir, 'store', item.key);
    const bytes = await readFile(file);
    const href = f.assets.data.href as string;

    const head = await fetch(href, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    assert.equal(Number(head.headers.get('content-length')), bytes.length);
    assert.equal(head.headers.get('content-type'), COG);
    const etag = head.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/, 'a strong entity tag');

    const whole = await get(href);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes), 'the whole file');
    const part = await get(href, { Range: 'bytes=16-1039' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 16-1039/${bytes.length}`);
    assert.equal(Number(part.headers.get('content-length')), 1024);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(16, 1040)));
    const tail = await get(href, { Range: 'bytes=-100' });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 100)));
    const beyond = await get(href, { Range: `bytes=${bytes.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
    assert.equal(beyond.headers.get('content-type'), 'application/problem+json');
    const same = await get(href, { Range: 'bytes=0-3', 'If-Range': etag });
    assert.equal(same.status, 206);
    const changed = await get(href, { Range: 'bytes=0-3', 'If-Range': '"an-older-version"' });
    assert.equal(changed.status, 200, 'If-Range that no longer matches: the whole file');
    assert.equal(Number(changed.headers.get('content-length')), bytes.length);
    await changed.arrayBuffer();
    assert.equal((await get(href, { 'If-None-Match': etag })).status, 304);

    // Asynchronously: the server answering GDAL runs in this process.
    const { stdout } = await execFileAsync('/usr/bin/python3', ['-c', VSICURL_COMPARE, href, file], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const out = JSON.parse(stdout);
    assert.equal(out.equal, true, `${f.id}: every band, overview and mask read through /vsicurl/ equals the file (${JSON.stringify(out)})`);
    assert.ok(out.arrays >= 3);
    assert.deepEqual(out.size, [200, 400, 3]);
    assert.equal(out.geotransform_equal, true);
    assert.equal(out.layout, 'COG');
  }
  assert.equal((await get('/collections/landsat/items/nope/data')).status, 404);
});
