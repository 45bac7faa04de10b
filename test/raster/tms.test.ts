import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sharedDir, skipUnlessShared } from '../helpers/env.js';
import {
  BUILT_IN_TMS_NAMES,
  bottomLevelFor,
  builtInTms,
  clampRange,
  isQuadTree,
  levelsSortedByResolution,
  loadTms,
  pixelInTile,
  round15,
  slabBbox,
  slabOfTile,
  slabRangeOfBbox,
  tileMatrix,
  tileOfPoint,
  tileRangeOfBbox,
  TmsError,
  topLevel,
  type TileMatrixSet,
} from '../../src/raster/tms.js';

/** Deep equality where numbers may differ by 1e-9 relative (the files round to 15 digits). */
function assertClose(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', where);
    const a = actual as number;
    assert.ok(Math.abs(a - expected) <= 1e-9 * Math.abs(expected), `${where}: ${a} vs ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${where}: length`);
    for (const [i, e] of expected.entries()) assertClose((actual as unknown[])[i], e, `${where}[${i}]`);
    return;
  }
  if (expected && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const [k, v] of Object.entries(expected)) assertClose((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
    return;
  }
  assert.equal(actual, expected, where);
}

test('the four built-in TMS equal ROK4 files (numbers within 1e-9 relative)', { skip: skipUnlessShared() }, async () => {
  let exactNumbers = 0;
  let numbers = 0;
  for (const name of ['PM', '4326', 'LAMB93_10cm', 'LAMB93_50cm']) {
    const expected = JSON.parse(await readFile(path.join(sharedDir()!, 'tms', `${name}.json`), 'utf8')) as TileMatrixSet;
    const actual = builtInTms(name)!;
    assertClose(actual, expected, name);
    expected.tileMatrices.forEach((tm, i) => {
      for (const k of ['cellSize', 'scaleDenominator'] as const) {
        numbers++;
        if (actual.tileMatrices[i][k] === tm[k]) exactNumbers++;
      }
    });
  }
  // Only one number (PM level 11 cellSize, last digit) differs from the file's rounding.
  assert.equal(numbers - exactNumbers, 1);
});

test('round15 rounds like C %.15g (ties to even)', () => {
  assert.equal(round15(4.291534423828125e-5), 4.29153442382812e-5);
  assert.equal(round15((2 * Math.PI * 6378137) / 256), 156543.033928041);
  assert.equal(round15(0), 0);
});

test('loadTms reads every ROK4 file', { skip: skipUnlessShared() }, async () => {
  const dir = path.join(sharedDir()!, 'tms');
  const names = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  assert.ok(names.length >= 70);
  for (const name of names) {
    const tms = await loadTms(name, [dir]);
    assert.ok(tms.tileMatrices.length > 0, name);
  }
  // keyed by file name, not internal id (rok4.md §2.1)
  assert.equal((await loadTms('2154_1M_MNT', [dir])).id, 'EPSG2154_1m_MNT');
});

test('isQuadTree: built-ins are, *_MNT ones are not', { skip: skipUnlessShared() }, async () => {
  for (const name of BUILT_IN_TMS_NAMES) assert.ok(isQuadTree(builtInTms(name)!), name);
  const dir = path.join(sharedDir()!, 'tms');
  assert.equal(isQuadTree(await loadTms('LAMB93_1M_MNT', [dir])), false);
  assert.equal(isQuadTree(await loadTms('LAMB93', [dir])), false);
});

test('loadTms: built-ins without folders, clear errors otherwise', async () => {
  assert.equal((await loadTms('PM', [])).tileMatrices.length, 22);
  await assert.rejects(
    loadTms('NOPE', ['/nonexistent']),
    (e: unknown) => e instanceof TmsError && e.code === 'TMS_NOT_FOUND' && /NOPE/.test(e.message),
  );
  await assert.rejects(loadTms('../etc/passwd', []), TmsError);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tms-'));
  try {
    await writeFile(path.join(dir, 'bad.json'), '{"id":"bad"');
    await assert.rejects(
      loadTms('bad', [dir]),
      (e: unknown) => e instanceof TmsError && e.code === 'TMS_INVALID' && /bad\.json/.test(e.message),
    );
    const tms = builtInTms('PM')!;
    (tms.tileMatrices[3] as unknown as Record<string, unknown>).matrixWidth = 0;
    await writeFile(path.join(dir, 'broken.json'), JSON.stringify(tms));
    await assert.rejects(loadTms('broken', [dir]), /tileMatrices\[3\]\.matrixWidth/);
    // a file in a folder overrides the built-in of the same name
    const custom = builtInTms('PM')!;
    custom.tileMatrices = custom.tileMatrices.slice(0, 3);
    await writeFile(path.join(dir, 'PM.json'), JSON.stringify(custom));
    assert.equal((await loadTms('PM', [dir])).tileMatrices.length, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('§2.3 arithmetic on PM level 15 with 16x16 slabs', () => {
  const pm = builtInTms('PM')!;
  const tm = tileMatrix(pm, '15');
  const slab = { tilesPerWidth: 16, tilesPerHeight: 16 };
  // Paris (EPSG:3857): XYZ tile 15/16598/11273
  const x = 261848.15,
    y = 6250566.72;
  assert.deepEqual(tileOfPoint(tm, x, y), { col: 16598, row: 11273 });
  assert.deepEqual(slabOfTile(16598, 11273, slab), { slabCol: 1037, slabRow: 704, index: 9 * 16 + 6 });
  const [xmin, ymin, xmax, ymax] = slabBbox(tm, 1037, 704, slab);
  const span = 16 * 256 * tm.cellSize;
  assert.ok(Math.abs(xmin - (-20037508.3427892 + 1037 * span)) < 1e-6);
  assert.ok(Math.abs(ymax - (20037508.3427892 - 704 * span)) < 1e-6);
  assert.ok(Math.abs(xmax - xmin - span) < 1e-6 && Math.abs(ymax - ymin - span) < 1e-6);
  assert.ok(xmin <= x && x < xmax && ymin < y && y <= ymax);
  // a bbox exactly equal to a slab extent pulls one extra slab column and row (ROK4 truncation)
  assert.deepEqual(slabRangeOfBbox(tm, [xmin, ymin, xmax, ymax], slab), { colMin: 1037, colMax: 1038, rowMin: 704, rowMax: 705 });
  assert.deepEqual(slabRangeOfBbox(tm, [xmin + 1, ymin + 1, xmax - 1, ymax - 1], slab), {
    colMin: 1037,
    colMax: 1037,
    rowMin: 704,
    rowMax: 704,
  });
  const tiles = tileRangeOfBbox(tm, [xmin + 1, ymin + 1, xmax - 1, ymax - 1]);
  assert.deepEqual(tiles, { colMin: 1037 * 16, colMax: 1037 * 16 + 15, rowMin: 704 * 16, rowMax: 704 * 16 + 15 });
  const { px, py } = pixelInTile(tm, -20037508.3427892 + 3.5 * tm.cellSize, 20037508.3427892 - 300.5 * tm.cellSize);
  assert.deepEqual([px, py], [3, 44]);
  assert.deepEqual(clampRange({ colMin: -3, colMax: 5, rowMin: 2, rowMax: 99 }, 3, 10), { colMin: 0, colMax: 3, rowMin: 2, rowMax: 10 });
  assert.equal(clampRange({ colMin: 5, colMax: 9, rowMin: 0, rowMax: 0 }, 3, 10), undefined);
});

test('levels sorted, top level and bottom level choice (§8.2)', () => {
  const pm = builtInTms('PM')!;
  const sorted = levelsSortedByResolution(pm);
  assert.equal(sorted[0].id, '21');
  assert.equal(topLevel(pm).id, '0');
  // level 18 cellSize ≈ 0.597: a 0.5 m image gives ratio 0.84 → 18 (17 would be 0.42, 19 gives 1.67)
  assert.equal(bottomLevelFor(pm, 0.5)?.id, '18');
  // 0.3 m → level 19 (ratio 1.005)
  assert.equal(bottomLevelFor(pm, 0.3)?.id, '19');
  const l93 = builtInTms('LAMB93_50cm')!;
  assert.equal(bottomLevelFor(l93, 0.5)?.id, '18');
  assert.equal(bottomLevelFor(l93, 0.7)?.id, '18'); // 1.4 is the only ratio in range
  assert.equal(bottomLevelFor(l93, 0.9)?.id, '17'); // 0.9 (17) beats 1.8 (18, out of range)
  assert.equal(bottomLevelFor(l93, 0.01), undefined); // finer than the finest level
});
