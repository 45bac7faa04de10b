/**
 * Issue 9, "Hostile rasters": the output size is estimated at submission; a job over
 * `server.limits.max_output_bytes` is a 400 naming the limit, one that would leave less than
 * `server.limits.min_free_bytes` on the storage a 507 — before any job or stored data exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { skipUnlessCommands } from '../helpers/env.js';
import { execute, type TestServer } from '../helpers/server.js';
import { assertProblem } from '../api/problem-assert.js';
import { hrefOf, keysUnder, makeInput, storedData, withPyramidServer } from '../helpers/pyramids.js';

const skip = skipUnlessCommands('gdal_create');

async function jobCount(s: TestServer): Promise<number> {
  return ((await (await fetch(`${s.url}/jobs`)).json()) as { jobs: unknown[] }).jobs.length;
}

async function assertRefusedBefore(s: TestServer, inputs: Record<string, unknown>, status: number, detail: RegExp): Promise<void> {
  const res = await execute(s.url, 'raster-to-pyramid', { inputs }, { Prefer: 'respond-async' });
  const body = await assertProblem(res, status);
  assert.match(String(body.detail), detail);
  assert.equal(await jobCount(s), 0, 'no job created');
  assert.deepEqual(await storedData(s), [], 'no stored data created');
  assert.deepEqual(await keysUnder(s, 'pyramids/'), [], 'nothing written');
}

test('a sparse 60,000² TIFF of a few hundred KB is refused at submission over max_output_bytes (400 naming the limit)', {
  skip,
}, async () => {
  await withPyramidServer(
    async (s) => {
      const sparse = path.join(s.inputRoot, 'sparse.tif');
      execFileSync('gdal_create', [
        '-q',
        '-of',
        'GTiff',
        '-outsize',
        '60000',
        '60000',
        '-bands',
        '3',
        '-ot',
        'Byte',
        '-a_srs',
        'EPSG:2154',
        '-a_ullr',
        '1150000',
        '6240000',
        '1180000',
        '6210000',
        '-co',
        'TILED=YES',
        '-co',
        'SPARSE_OK=TRUE',
        '-co',
        'COMPRESS=DEFLATE',
        sparse,
      ]);
      await assertRefusedBefore(
        s,
        { images: [{ href: hrefOf(sparse) }], name: 'SPARSE', tms: 'PM' },
        400,
        /input 'images'.*max_output_bytes/,
      );
    },
    { limits: { max_output_bytes: 4 * 1024 ** 3 } },
  );
});

test('an output that would leave less than min_free_bytes on the storage is a 507 naming the limit', async () => {
  await withPyramidServer(
    async (s) => {
      const map = await makeInput(s, 'map.tif');
      await assertRefusedBefore(s, { images: [{ href: map.href }], name: 'FULL', tms: 'PM' }, 507, /min_free_bytes/);
    },
    { limits: { min_free_bytes: 2 ** 62 } },
  );
});
