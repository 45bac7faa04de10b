/**
 * Footprint proofs (issue 12, cog.md §7–§8): IoU ≥ 0.98 against gdal.Polygonize of the same validity
 * mask, valid for GEOS, RFC 7946 rings (closed, exterior counter-clockwise, holes clockwise) in CRS84;
 * the tracer's topology on hand-made masks (pinches, holes, islands in holes); bbox when asked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  footprint,
  ringArea,
  traceRings,
  conflictingRings,
  simplifyRings,
  type FootprintGeometry,
  type ValidityGrid,
} from '../../src/cog/footprint.js';
import { readValidityGrid } from '../../src/cog/validity-grid.js';
import { writeCog } from '../../src/cog/cog-writer.js';
import { resolveCrs } from '../../src/raster/crs.js';
import { describeRaster } from '../../src/raster/geotiff-source.js';
import { PiscinaPool } from '../../src/workers/pool.js';
import { makeSyntheticMap, prng } from '../fixtures/synthetic-raster.js';
import { skipUnlessCommands } from '../helpers/env.js';

const gdal = skipUnlessCommands('gdalinfo', '/usr/bin/python3');
const CHECK = path.resolve('test', 'cog', 'check_cog.py');

function polygons(g: FootprintGeometry): number[][][][] {
  return g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
}

/** RFC 7946 §3.1.6: closed rings of ≥ 4 positions, exteriors counter-clockwise, holes clockwise; CRS84 ranges. */
function assertRfc7946(g: FootprintGeometry): void {
  for (const poly of polygons(g)) {
    poly.forEach((ring, k) => {
      assert.ok(ring.length >= 4, 'a ring has at least 4 positions');
      assert.deepEqual(ring[0], ring[ring.length - 1], 'rings are closed');
      let a = 0;
      for (let i = 0; i + 1 < ring.length; i++) a += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
      assert.ok(k === 0 ? a > 0 : a < 0, k === 0 ? 'exterior counter-clockwise' : 'hole clockwise');
      for (const [lon, lat] of ring) assert.ok(Math.abs(lon) <= 180 && Math.abs(lat) <= 90);
    });
  }
}

function grid(mask: Uint8Array, width: number, height: number): ValidityGrid {
  return {
    mask,
    width,
    height,
    factor: 1,
    imageWidth: width,
    imageHeight: height,
    geoTransform: [500000, 10, 0, 5000000, 0, -10],
    crs: resolveCrs('EPSG:32631'),
  };
}

function maskOf(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0].length,
    height = rows.length;
  const mask = new Uint8Array(width * height);
  for (const [y, r] of rows.entries()) {
    for (const [x, ch] of [...r].entries()) mask[y * width + x] = ch === '#' ? 255 : 0;
  }
  return { mask, width, height };
}

describe('footprint tracer', () => {
  test('one pixel: one exterior ring of area 1', () => {
    const rings = traceRings(new Uint8Array([255]), 1, 1);
    assert.equal(rings.length, 1);
    assert.equal(ringArea(rings[0]), 1);
  });

  test('a ring with a hole and an island in the hole; pinches give rings that do not touch', () => {
    const m = maskOf(['#######..', '#.....#..', '#.###.#..', '#.....#..', '#######..', '.......#.', '........#']);
    const rings = traceRings(m.mask, m.width, m.height);
    const areas = rings.map(ringArea).sort((a, b) => a - b);
    // Exteriors: the frame (35 px), the island (3), and two single pixels on the diagonal (pinches,
    // 4-connected like GDAL), each with a corner cut; one hole (15 px).
    assert.equal(areas.filter((a) => a > 0).length, 4);
    assert.equal(areas.filter((a) => a < 0).length, 1);
    assert.equal(areas[0], -15);
    assert.equal(conflictingRings(rings).size, 0, 'no ring meets another');
    const g = footprint(grid(m.mask, m.width, m.height), { minRingArea: 0, simplify: 0 })!;
    assert.equal(g.type, 'MultiPolygon');
    assertRfc7946(g);
    const withHole = polygons(g).find((p) => p.length === 2);
    assert.ok(withHole, 'the frame keeps its hole; the island is its own polygon');
  });

  test('simplification never makes rings meet (random masks)', () => {
    const rand = prng(7);
    for (let n = 0; n < 20; n++) {
      const w = 40,
        h = 30;
      const mask = new Uint8Array(w * h);
      for (let i = 0; i < mask.length; i++) mask[i] = rand() < 0.55 ? 255 : 0;
      const rings = traceRings(mask, w, h);
      assert.equal(conflictingRings(rings).size, 0);
      assert.equal(conflictingRings(simplifyRings(rings, 1.5)).size, 0);
    }
  });

  test('no mask, polygonize false, nothing valid', () => {
    const g = grid(new Uint8Array(6).fill(255), 3, 2);
    const box = footprint({ ...g, mask: undefined })!;
    assert.equal(box.type, 'Polygon');
    assertRfc7946(box);
    assert.deepEqual(footprint(g, { polygonize: false }), box);
    assert.equal(footprint({ ...g, mask: new Uint8Array(6) }), null);
  });
});

describe('footprint against gdal.Polygonize', { skip: gdal }, () => {
  let dir: string;
  let pool: PiscinaPool;
  let map: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'footprint-test-'));
    pool = new PiscinaPool({ threads: 2 });
    map = path.join(dir, 'map.tif');
    await makeSyntheticMap({ width: 1500, height: 1100, pixelSize: 50, path: map, nodataTag: true });
  });
  after(async () => {
    await pool.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function score(g: FootprintGeometry, name: string): { iou: number; valid: boolean } {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ type: 'Feature', properties: {}, geometry: g }));
    return JSON.parse(execFileSync('/usr/bin/python3', [CHECK, '--footprint', file, map], { encoding: 'utf8' })) as {
      iou: number;
      valid: boolean;
    };
  }

  test('full resolution and reduced grids: IoU ≥ 0.98, valid, RFC 7946', async () => {
    const info = await describeRaster(map);
    for (const maxSide of [4096, 400]) {
      const g = await readValidityGrid(info, pool, { maxSide });
      assert.equal(g.factor, maxSide === 4096 ? 1 : 4);
      const fp = footprint(g)!;
      assertRfc7946(fp);
      const s = score(fp, `grid-${maxSide}`);
      assert.ok(s.valid, 'GEOS IsValid');
      assert.ok(s.iou >= 0.98, `IoU ${s.iou} at factor ${g.factor}`);
    }
  });

  test('the grid the COG writer returns gives the same footprint', async () => {
    const info = await describeRaster(map);
    const r = await writeCog(info, { compression: 'jpeg', blockSize: 256 }, { path: path.join(dir, 'c.tif') }, { pool });
    const fromCog = footprint(r.grid)!;
    const fromSource = footprint(await readValidityGrid(info, pool))!;
    assert.deepEqual(fromCog, fromSource);
    assert.ok(score(fromCog, 'cog').iou >= 0.98);
  });
});
