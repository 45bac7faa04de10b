/**
 * JPEG 2000 everywhere images are read (issue 11), over HTTP on a real server, GDAL making the JP2s
 * (JP2OpenJPEG driver) and being the oracle: raster-to-pyramid from a lossless .jp2 by href equals the
 * pyramid from the GeoTIFF it was made from, slab for slab; an upload of a .jp2 + .j2w with the upload's
 * srs passes the raster check and makes the same pyramid; a truncated .jp2 makes the upload UNSTABLE
 * (the failed check names the file) and is a 400 naming the input by href; tiling turns a .jp2 into a
 * COG holding the same pixels.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { skipUnlessCommands } from '../helpers/env.js';
import { gdalEnv, gdalPathOf, generate, hrefOf, makeInput, slabsOf, storeOf } from '../helpers/pyramids.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import { checkExecution, checksOf, closeAndWait, createUpload, sendMultipart, sendPut } from './upload-helpers.js';

const skip = skipUnlessCommands('gdal_translate', 'gdalinfo', '/usr/bin/python3');
const common = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip' };
const CHECK = path.resolve('test', 'cog', 'check_cog.py');

async function assertSameSlabs(s: TestServer, a: string, b: string): Promise<void> {
  const x = await slabsOf(s, a);
  const y = await slabsOf(s, b);
  assert.ok(x.size > 4);
  assert.deepEqual([...x.keys()].sort(), [...y.keys()].sort());
  for (const [k, bytes] of x) assert.ok(bytes.equals(y.get(k)!), `slab ${k} of ${a} differs from ${b}'s`);
}

/** A lossless JP2 of `source` in tiles of 256 (georeferencing boxes as asked). */
function jp2Of(source: string, dest: string, boxes: { geojp2: boolean; gmljp2: boolean }): void {
  execFileSync('gdal_translate', [
    '-q',
    '-of',
    'JP2OpenJPEG',
    ...['-co', 'REVERSIBLE=YES', '-co', 'QUALITY=100', '-co', 'BLOCKXSIZE=256', '-co', 'BLOCKYSIZE=256'],
    ...['-co', `GeoJP2=${boxes.geojp2 ? 'YES' : 'NO'}`, '-co', `GMLJP2=${boxes.gmljp2 ? 'YES' : 'NO'}`],
    source,
    dest,
  ]);
}

test('JPEG 2000: pyramid by href and by upload (.jp2 + .j2w, upload srs) equal the GeoTIFF pyramid; truncated .jp2 → UNSTABLE / 400; tiling a .jp2', {
  skip,
  timeout: 300_000,
}, async () => {
  const s = await startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid', tiling: 'tiling' } });
  try {
    const geotiff = await makeInput(s, 'full.tif');
    const jp2 = path.join(s.inputRoot, 'full.jp2');
    jp2Of(geotiff.path, jp2, { geojp2: true, gmljp2: true });

    await generate(s, { ...common, images: [{ href: geotiff.href }], name: 'FROM_TIF' });
    const byHref = await generate(s, { ...common, images: [{ href: hrefOf(jp2) }], name: 'FROM_JP2' });
    assert.equal(byHref.record.status, 'READY');
    await assertSameSlabs(s, 'FROM_JP2', 'FROM_TIF');

    // The delivery: a JP2 without georeferencing boxes, its world file, the upload's srs.
    const scan = path.join(s.dir, 'scan.jp2');
    jp2Of(geotiff.path, scan, { geojp2: false, gmljp2: false });
    const gt = JSON.parse(execFileSync('gdalinfo', ['-json', geotiff.path], { encoding: 'utf8' })).geoTransform as number[];
    const j2w = path.join(s.dir, 'scan.j2w');
    await writeFile(j2w, [gt[1], gt[4], gt[2], gt[5], gt[0] + gt[1] / 2 + gt[2] / 2, gt[3] + gt[4] / 2 + gt[5] / 2].join('\n'));
    const id = await createUpload(s, 'jp2 scans', 'EPSG:2154');
    await sendMultipart(s, id, 'data/scan.jp2', scan);
    await sendPut(s, id, 'data/scan.j2w', j2w);
    assert.equal((await closeAndWait(s, id)).status, 'CLOSED');
    const checks = await checksOf(s, id);
    const raster = checks.passed.find((c) => c.check.name === 'raster')!;
    const logs = (await checkExecution(s, id, raster._id)).logs;
    assert.ok(
      logs.some((l) => /data\/scan\.jp2: 600x1200, 3 uint8 band\(s\), EPSG:2154 \(world file\), jpeg2000, every block decodes/.test(l)),
      logs.join('\n'),
    );
    await generate(s, { ...common, upload: [id], name: 'FROM_UPLOAD' });
    await assertSameSlabs(s, 'FROM_UPLOAD', 'FROM_TIF');

    // A truncated JP2: the upload is UNSTABLE, its raster check names the file.
    const cut = path.join(s.dir, 'cut.jp2');
    await copyFile(jp2, cut);
    await truncate(cut, Math.floor((await stat(cut)).size * 0.7));
    const bad = await createUpload(s, 'cut jp2');
    await sendPut(s, bad, 'data/cut.jp2', cut);
    assert.equal((await closeAndWait(s, bad)).status, 'UNSTABLE');
    const failed = (await checksOf(s, bad)).failed;
    assert.deepEqual(
      failed.map((c) => c.check.name),
      ['raster'],
    );
    const badLogs = (await checkExecution(s, bad, failed[0]._id)).logs;
    assert.ok(
      badLogs.some((l) => /^ERROR data\/cut\.jp2 is truncated/.test(l)),
      badLogs.join('\n'),
    );

    // The same file by href: a 400 problem naming the input and the file, no job.
    const cutHref = path.join(s.inputRoot, 'cut.jp2');
    await copyFile(cut, cutHref);
    const r = await execute(s.url, 'raster-to-pyramid', { inputs: { ...common, images: [{ href: hrefOf(cutHref) }], name: 'CUT' } });
    const problem = (await r.json()) as { type: string; detail: string };
    assert.equal(r.status, 400, JSON.stringify(problem));
    assert.match(problem.detail, /images\[0\].*cut\.jp2.*truncated/);

    // tiling: the JP2 becomes a COG with the same pixels (DEFLATE: lossless).
    const res = await execute(
      s.url,
      'tiling',
      {
        inputs: {
          files: [{ href: hrefOf(jp2) }],
          target: {
            serviceName: 'jp2cat',
            createNewService: true,
            attributesConfiguration: { idAttribute: 'gid', geometryAttribute: 'geometry', attributes: [] },
          },
          compression: 'deflate',
        },
        response: 'document',
      },
      { Prefer: 'respond-async' },
    );
    assert.equal(res.status, 201, await res.clone().text());
    const status = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID, { timeoutMs: 240_000 });
    assert.equal(status.status, 'successful', JSON.stringify(status));
    const [catalog] = s.runtime.catalogItems.query(
      ((await (await fetch(`${s.url}/stored_data?type=RASTER-CATALOG`)).json()) as { stored_data: Array<{ _id: string }> }).stored_data[0]
        ._id,
      { limit: 10, offset: 0 },
    ).items;
    const check = JSON.parse(
      execFileSync('/usr/bin/python3', [CHECK, gdalPathOf(storeOf(s), `${storeOf(s).root}/${catalog.key}`), geotiff.path], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
        env: gdalEnv(storeOf(s)),
      }),
    );
    assert.deepEqual(check.validator.errors, []);
    assert.equal(check.full.max, 0, 'the COG holds the pixels of the GeoTIFF the JP2 was made from');
  } finally {
    await s.stop();
  }
});
