/**
 * tiling process end to end (issue 12 Proof, the process part): a real server on port 0 over HTTP,
 * GDAL as the oracle of every COG it writes (validator, pixels, overviews, mask) and of its footprints
 * (IoU against gdal.Polygonize). Two rasters and a bad file into a new catalog with attributes; then a
 * second job into the existing catalog; refusals before any work.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import { skipUnlessCommands } from '../helpers/env.js';
import type { CatalogItem } from '../../src/catalog/catalog-item.js';
import { hrefOf, keysUnder, makeInput, storedData } from '../helpers/pyramids.js';

const skip = skipUnlessCommands('gdalinfo', 'gdal_translate', '/usr/bin/python3');
const CHECK = path.resolve('test', 'cog', 'check_cog.py');

const CONFIG = {
  idAttribute: 'gid',
  geometryAttribute: 'geometry',
  attributes: [
    { attributeName: 'name', subType: 'String', alias: 'Name' },
    { attributeName: 'dateofimage', subType: 'DateTime' },
    { attributeName: 'cloud', subType: 'Double' },
  ],
};

async function submit(s: TestServer, inputs: Record<string, unknown>): Promise<Response> {
  return execute(s.url, 'tiling', { inputs, response: 'document' }, { Prefer: 'respond-async' });
}

/** Every item of a catalog, from the server's item store. */
function itemsOf(s: TestServer, catalogId: string): CatalogItem[] {
  return s.runtime.catalogItems.query(catalogId, { limit: 10_000, offset: 0 }).items;
}

async function results(s: TestServer, jobID: string): Promise<Record<string, any>> {
  const res = await fetch(`${s.url}/jobs/${jobID}/results`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as Record<string, any>;
  // results.yaml: output id → the value itself or { value } (qualified)
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, v && typeof v === 'object' && 'value' in v ? v.value : v]));
}

test('tiling: two rasters and a bad file into a new catalog, then two jobs adding to it at once, then a failing one', {
  skip,
  timeout: 300_000,
}, async () => {
  const s = await startTestServer({ processes: { tiling: 'tiling' } });
  try {
    // A nodata collar makes the footprint a traced polygon, not the bbox.
    const a = await makeInput(s, 'a.tif', { nodataTag: true });
    const b = await makeInput(s, 'b.tif', { seed: 2, part: 'north' });
    const bad = path.join(s.inputRoot, 'bad.tif');
    await writeFile(bad, 'this is not a raster');

    const res = await submit(s, {
      files: [{ href: a.href }, { href: hrefOf(bad) }, { href: b.href }],
      target: { serviceName: 'landsat', createNewService: true, attributesConfiguration: CONFIG },
      attributes: { name: 'Landsat-8', dateofimage: '2023-12-08T12:00:00+00:00', cloud: 0.25 },
      polygonize: true,
      compression: 'deflate',
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { jobID } = (await res.json()) as { jobID: string };
    const status = await waitForJob(s.url, jobID, { timeoutMs: 240_000 });
    assert.equal(status.status, 'successful', JSON.stringify(status));
    // The task's progress shape as extra members of the status (cog.md §1.3).
    assert.equal(status.inputObjectCount, 3);
    assert.equal(status.outputObjectCount, 2);
    assert.equal(status.errorCount, 1);
    const [step] = status.stepResults as Array<Record<string, any>>;
    assert.equal(step.batchErrors.length, 1);
    assert.equal(step.batchErrors[0].index, 1);
    assert.match(step.batchErrors[0].file, /bad\.tif/);
    assert.ok(step.resultDetails['Tiles created'] > 0);
    assert.ok(step.startedTime && step.endedTime);

    const out = await results(s, jobID);
    assert.equal(out.items.length, 2);
    assert.equal(out.summary.catalog.name, 'landsat');
    const [catalog] = await storedData(s, '?type=RASTER-CATALOG');
    assert.equal(catalog.status, 'READY');
    assert.equal((catalog.type_infos as any).itemCount, 2);
    const items = itemsOf(s, catalog._id as string);
    assert.equal(items.length, 2);
    for (const [i, item] of items.entries()) {
      const source = i === 0 ? a.path : b.path;
      assert.deepEqual(item.attributes, { name: 'Landsat-8', dateofimage: '2023-12-08T12:00:00+00:00', cloud: 0.25 });
      assert.equal(item.mediaType, 'image/tiff; application=geotiff; profile=cloud-optimized');
      assert.equal(item.datetime, '2023-12-08T12:00:00.000Z', "the catalog's DateTime attribute, in UTC");
      const cog = path.join(s.dir, 'store', item.key);
      assert.equal(path.dirname(item.key), `catalogs/landsat/${jobID}`, "under the job's own folder");
      const check = JSON.parse(execFileSync('/usr/bin/python3', [CHECK, cog, source], { encoding: 'utf8', maxBuffer: 1 << 26 }));
      assert.deepEqual(check.validator.errors, [], `${item.key}: GDAL's COG validator`);
      assert.equal(check.full.max, 0, 'DEFLATE is lossless: IFD 0 equals the source');
      assert.equal(check.mask_agreement, 1);
      const geojson = path.join(s.dir, `footprint-${i}.json`);
      await writeFile(geojson, JSON.stringify(item.geometry));
      const fp = JSON.parse(execFileSync('/usr/bin/python3', [CHECK, '--footprint', geojson, source], { encoding: 'utf8' }));
      assert.ok(fp.iou >= 0.98, `footprint IoU ${fp.iou} against gdal.Polygonize`);
    }

    // Into the existing catalog, two jobs at once: every item of both kept, and the first ones.
    const adds = await Promise.all(
      ['second', 'third'].map((name) =>
        submit(s, { files: [{ href: b.href }], target: { serviceName: 'landsat' }, attributes: { name }, compression: 'jpeg' }),
      ),
    );
    for (const again of adds) {
      assert.equal(again.status, 201, await again.clone().text());
      const done = await waitForJob(s.url, ((await again.json()) as { jobID: string }).jobID, { timeoutMs: 240_000 });
      assert.equal(done.status, 'successful', JSON.stringify(done));
    }
    const [after] = await storedData(s, '?type=RASTER-CATALOG');
    const all = itemsOf(s, after._id as string);
    assert.deepEqual(all.map((it) => it.attributes.name).sort(), ['Landsat-8', 'Landsat-8', 'second', 'third']);
    assert.equal((after.type_infos as any).itemCount, 4);
    assert.equal(
      after.size,
      all.reduce((n, it) => n + it.bytes, 0),
    );

    // A job into it whose every file fails leaves no file and no item.
    const failing = await submit(s, { files: [{ href: hrefOf(bad) }], target: { serviceName: 'landsat' } });
    const failedJob = ((await failing.json()) as { jobID: string }).jobID;
    assert.equal((await waitForJob(s.url, failedJob)).status, 'failed');
    assert.deepEqual(await keysUnder(s, `catalogs/landsat/${failedJob}`), []);
    assert.equal(itemsOf(s, after._id as string).length, 4);
    assert.deepEqual(s.runtime.catalogItems.pendingWrites(), []);

    // Deleting the catalog removes its folder and its items.
    assert.equal((await fetch(`${s.url}/stored_data/${after._id}`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await keysUnder(s, 'catalogs/landsat'), []);
    assert.equal(itemsOf(s, after._id as string).length, 0);
  } finally {
    await s.stop();
  }
});

test('tiling: refusals before any work (400 naming the input), and a job whose every file fails', { skip, timeout: 120_000 }, async () => {
  const s = await startTestServer({ processes: { tiling: 'tiling' } });
  try {
    const a = await makeInput(s, 'a.tif');
    const target = { serviceName: 'cat', createNewService: true, attributesConfiguration: CONFIG };
    const refused = async (inputs: Record<string, unknown>, pattern: RegExp) => {
      const res = await submit(s, inputs);
      const body = await res.text();
      assert.equal(res.status, 400, body);
      assert.match(body, pattern);
    };
    await refused({ files: [{ href: a.href }], target, attributes: { cloud: 'high' } }, /attribute 'cloud' must be a number/);
    await refused({ files: [{ href: a.href }], target, attributes: { dateofimage: 'yesterday' } }, /attribute 'dateofimage'/);
    await refused({ files: [{ href: a.href }], target, attributes: { colour: 'red' } }, /attribute 'colour' is not an attribute/);
    await refused({ files: [{ href: a.href }], target: { serviceName: 'nothing' } }, /no raster catalog named 'nothing'/);
    const jobs = (await (await fetch(`${s.url}/jobs`)).json()) as { jobs: unknown[] };
    assert.equal(jobs.jobs.length, 0, 'no job was created');
    assert.equal((await storedData(s)).length, 0, 'no stored data was created');

    const bad = path.join(s.inputRoot, 'bad.tif');
    await writeFile(bad, 'not a raster');
    const res = await submit(s, { files: [{ href: hrefOf(bad) }], target });
    assert.equal(res.status, 201);
    const status = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID);
    assert.equal(status.status, 'failed');
    assert.equal(status.errorCount, 1);
    assert.equal(status.outputObjectCount, 0);
    const [record] = await storedData(s, '?type=RASTER-CATALOG');
    assert.ok(!record || record.status === 'FAILED', 'a catalog whose every file failed is not READY');
    assert.deepEqual(await keysUnder(s, 'catalogs/cat'), [], 'and has no file');
  } finally {
    await s.stop();
  }
});

test('tiling: useCog false indexes the file as delivered: the same bytes in the catalog, its footprint, media type and size', {
  skip,
  timeout: 120_000,
}, async () => {
  const s = await startTestServer({ processes: { tiling: 'tiling' } });
  try {
    const a = await makeInput(s, 'delivered.tif', { nodataTag: true });
    const res = await submit(s, {
      files: [{ href: a.href, type: 'image/tiff; application=geotiff' }],
      target: { serviceName: 'asis', createNewService: true, attributesConfiguration: CONFIG },
      useCog: false,
    });
    assert.equal(res.status, 201, await res.clone().text());
    const status = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID, { timeoutMs: 60_000 });
    assert.equal(status.status, 'successful', JSON.stringify(status));
    const [record] = await storedData(s, '?type=RASTER-CATALOG&name=asis');
    const [item] = itemsOf(s, record._id as string);
    assert.equal(item.cog, false);
    assert.equal(item.mediaType, 'image/tiff; application=geotiff', "the href's declared media type");
    assert.match(item.key, /^catalogs\/asis\/.+\.tif$/);
    const original = await readFile(a.path);
    assert.equal(item.bytes, original.length);
    assert.ok((await s.runtime.storage.read(item.key)).equals(original), 'the stored file is the delivered one, byte for byte');
    assert.ok(item.geometry.type === 'Polygon' || item.geometry.type === 'MultiPolygon');
    assert.ok(item.bbox[0] < item.bbox[2] && item.bbox[1] < item.bbox[3]);
  } finally {
    await s.stop();
  }
});
