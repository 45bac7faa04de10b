/**
 * Bad input to raster-to-pyramid gets a 400 naming the input before any job exists (issue 3 "Proof"):
 * no job in /jobs, no stored data, nothing in the store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { skipUnlessCommands } from '../../helpers/env.js';
import { execute, type TestServer } from '../../helpers/server.js';
import { assertProblem } from '../../api/problem-assert.js';
import { generate, hrefOf, keysUnder, makeInput, startPyramidServer, storedData } from '../../helpers/pyramids.js';

const skip = skipUnlessCommands('gdal_translate');
let s: TestServer;
let map: Awaited<ReturnType<typeof makeInput>>;

before(async () => {
  if (skip) return;
  s = await startPyramidServer();
  map = await makeInput(s, 'map.tif', { width: 200, height: 400, pixelSize: 500 });
});

after(() => s?.stop());

const base = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2 };

async function jobsOf(server: TestServer): Promise<unknown[]> {
  const body = (await (await fetch(`${server.url}/jobs?processID=raster-to-pyramid`)).json()) as { jobs: Array<{ processID: string }> };
  return body.jobs.filter((j) => j.processID === 'raster-to-pyramid');
}

/** POSTs an async execution that must be refused with 400 naming `input`, leaving no job and no stored data. */
async function assertRefused(server: TestServer, inputs: Record<string, unknown>, input: string, detail?: RegExp): Promise<void> {
  const before = { jobs: (await jobsOf(server)).length, data: (await storedData(server)).length };
  const res = await execute(server.url, 'raster-to-pyramid', { inputs }, { Prefer: 'respond-async' });
  const body = await assertProblem(res, 400);
  const text = body.detail as string;
  assert.ok(text.includes(input), `detail should name ${input}: ${text}`);
  if (detail) assert.match(text, detail);
  assert.equal((await jobsOf(server)).length, before.jobs, 'no job created');
  assert.equal((await storedData(server)).length, before.data, 'no stored data created');
}

test('refused before any job: not a TIFF, truncated, no georeferencing, unknown CRS, band mismatch, jpg gray, tms, levels', {
  skip,
}, async () => {
  const root = s.inputRoot;
  const notTiff = path.join(root, 'not.tif');
  await writeFile(notTiff, 'this is not a TIFF file\n'.repeat(20));
  await assertRefused(s, { ...base, name: 'A', images: [{ href: hrefOf(notTiff) }] }, 'images[0]');

  const bytes = await readFile(map.path);
  const truncated = path.join(root, 'truncated.tif');
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assertRefused(s, { ...base, name: 'A', images: [{ href: hrefOf(truncated) }] }, 'images[0]');
  const header = path.join(root, 'header-only.tif');
  await writeFile(header, bytes.subarray(0, 12));
  await assertRefused(s, { ...base, name: 'A', images: [{ href: hrefOf(header) }] }, 'images[0]');

  const plain = path.join(root, 'plain.tif');
  execFileSync('gdal_translate', ['-q', '-co', 'PROFILE=BASELINE', map.path, plain]);
  await rm(`${plain}.aux.xml`, { force: true });
  await assertRefused(s, { ...base, name: 'A', images: [{ href: hrefOf(plain) }] }, 'images[0]', /georef|CRS|srs|world file|tfw/i);

  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }], srs: 'EPSG:999999' }, 'EPSG:999999');

  const gray = path.join(root, 'gray.tif');
  execFileSync('gdal_translate', ['-q', '-b', '1', '-co', 'TILED=YES', map.path, gray]);
  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }, { href: hrefOf(gray) }] }, 'images[1]', /band/);
  await assertRefused(s, { ...base, name: 'A', images: [{ href: hrefOf(gray) }], compression: 'jpg' }, 'compression', /RGB|band/);

  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }], tms: 'NO_SUCH_TMS' }, 'tms');
  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }], bottom: '99' }, 'bottom');
  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }], top: 'x' }, 'top');
  await assertRefused(s, { ...base, name: 'A', images: [{ href: map.href }], bottom: '5', top: '7' }, 'top');

  assert.deepEqual(await keysUnder(s, ''), [], 'nothing written to the store');
});

test('name taken: 400 naming `name`, the first pyramid untouched', { skip }, async () => {
  const first = await generate(s, { ...base, name: 'TAKEN', images: [{ href: map.href }] });
  const keys = await keysUnder(s, 'pyramids/TAKEN/');
  await assertRefused(s, { ...base, name: 'TAKEN', images: [{ href: map.href }] }, 'name', /TAKEN/);
  assert.deepEqual(await keysUnder(s, 'pyramids/TAKEN/'), keys);
  const record = (await (await fetch(`${s.url}/stored_data/${first.record._id}`)).json()) as Record<string, unknown>;
  assert.equal(record.status, 'READY');
});

test('pixel count over server.limits.max_pixels: 400 naming images', { skip }, async () => {
  const limited = await startPyramidServer({ limits: { max_pixels: 1000 } });
  try {
    const small = await makeInput(limited, 'map.tif', { width: 200, height: 400, pixelSize: 500 });
    await assertRefused(limited, { ...base, name: 'BIG', images: [{ href: small.href }] }, 'images', /80000 pixels.*1000/);
  } finally {
    await limited.stop();
  }
});
