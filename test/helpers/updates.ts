/**
 * Shared tools of the update e2e tests (issue 4): a server running both update workflows, a job runner
 * for any process, list and tree inspection (roots, references, bytes), geometry computed with GDAL's
 * osr (independent of the product's CRS code), and pixel comparisons of pyramid levels tile by tile.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { execute, startTestServer, submitJob, waitForJob, type TestServer } from './server.js';
import { gdalEnv, gdalPathOf, pyramidKey, pyramidResult, python, storeOf, treeDir } from './pyramids.js';
import { SlabList } from '../../src/rok4/list.js';
import { slabOfListPath } from '../../src/rok4/list-path.js';
import type { FileStorage } from '../../src/storage/file.js';
import type { Rok4Reader } from '../../src/rok4/reader.js';
import type { TileMatrix } from '../../src/raster/tms.js';

/** A server running raster-to-pyramid and pyramids-to-pyramid (and echo). */
export function startUpdateServer(limits?: Record<string, unknown>): Promise<TestServer> {
  return startTestServer({
    processes: { 'raster-to-pyramid': 'raster-to-pyramid', 'pyramids-to-pyramid': 'pyramids-to-pyramid', echo: 'echo' },
    limits,
  });
}

/** Submits an async execution; asserts 201 and returns the job id. */
export function submit(s: TestServer, processId: string, inputs: Record<string, unknown>): Promise<string> {
  return submitJob(s.url, processId, inputs);
}

export async function jobStatus(s: TestServer, jobID: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${s.url}/jobs/${jobID}`)).json()) as Record<string, unknown>;
}

/** Runs a job that must succeed; returns its final status and the `pyramid` stored data record. */
export async function run(
  s: TestServer,
  processId: string,
  inputs: Record<string, unknown>,
): Promise<{ jobID: string; final: Record<string, unknown>; record: Record<string, unknown> }> {
  const jobID = await submit(s, processId, inputs);
  const final = await waitForJob(s.url, jobID);
  assert.equal(final.status, 'successful', JSON.stringify(final));
  return { jobID, final, record: await pyramidResult(s, jobID) };
}

/** POST that must be refused at once with a 400 problem; returns the problem. */
export async function refused(s: TestServer, processId: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await execute(s.url, processId, { inputs }, { Prefer: 'respond-async' });
  const text = await res.text();
  assert.equal(res.status, 400, text);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function listOf(s: TestServer, name: string): Promise<SlabList> {
  return SlabList.parse((await storeOf(s).read(pyramidKey(name, '.list'))).toString('utf8'));
}

/** `level/col/row` of a list path — FILE `DATA/<level>/<b36>`, S3 `DATA_<level>_<col>_<row>` — (undefined for masks). */
export function dataSlabKey(listPath: string): string | undefined {
  const slab = slabOfListPath(listPath);
  if (!slab || slab.kind !== 'DATA') return undefined;
  return `${slab.level}/${slab.col}/${slab.row}`;
}

/** Data slabs of a list: `level/col/row` → root path that holds the original. */
export function dataSlabs(list: SlabList): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of list.entries()) {
    const k = dataSlabKey(e.path);
    if (k) out.set(k, list.roots.get(e.rootIndex)!);
  }
  return out;
}

/**
 * Snapshot of a pyramid through the server's storage: every object of its folder (tree, list, descriptor)
 * → 'link:<target key>' for a reference, 'file:<sha1>' otherwise.
 */
export async function pyramidSnapshot(s: TestServer, name: string): Promise<Map<string, string>> {
  const storage = storeOf(s);
  const folder = `pyramids/${name}/`;
  const out = new Map<string, string>();
  for await (const key of storage.list(folder)) {
    const target = await storage.linkTarget(key);
    out.set(
      key.slice(folder.length),
      target !== undefined
        ? `link:${target}`
        : `file:${createHash('sha1')
            .update(await storage.read(key))
            .digest('hex')}`,
    );
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Checks every list line of a pyramid against the storage (rok4.md §6, §7): root 0 lines are real slabs in
 * the pyramid's tree; other lines are references in the tree whose target is the real slab `<root>/<path>`
 * of the pyramid named by the root index (never a reference: no chains) — relative symbolic links on FILE
 * (as BE4 writes them, §7.2), `SYMLINK#` objects on S3. Nothing else is in the tree. Returns the counts.
 */
export async function checkReferences(s: TestServer, name: string): Promise<{ own: number; links: number; owners: Set<string> }> {
  const storage = storeOf(s);
  const list = await listOf(s, name);
  const tree = treeDir(s, name);
  assert.equal(list.roots.get(0), tree);
  const rootKey = (root: string) => {
    assert.ok(root.startsWith(`${storage.root}/`), `${name}: list root ${root} outside the storage ${storage.root}`);
    return root.slice(storage.root.length + 1);
  };
  const treeKey = rootKey(tree);
  let own = 0,
    links = 0;
  const owners = new Set<string>();
  for (const e of list.entries()) {
    const key = `${treeKey}/${e.path}`;
    const target = await storage.linkTarget(key);
    if (e.rootIndex === 0) {
      assert.equal(target, undefined, `${name}: ${e.path} is listed 0/ but is a reference`);
      assert.ok(await storage.exists(key), `${name}: ${e.path} is listed 0/ but does not exist`);
      own++;
      continue;
    }
    const root = list.roots.get(e.rootIndex)!;
    assert.ok(target !== undefined, `${name}: ${e.path} is listed ${e.rootIndex}/ but is not a reference`);
    assert.equal(target, `${rootKey(root)}/${e.path}`, `${name}: ${e.path} points to ${target}, not to its listed root ${root}`);
    assert.equal(await storage.linkTarget(target), undefined, `${name}: ${e.path} → ${target} is a reference (reference chain)`);
    assert.ok(await storage.exists(target), `${name}: ${e.path} → ${target} does not exist`);
    if (storage.type === 'FILE') {
      const at = (storage as FileStorage).path(key);
      const link = await readlink(at);
      assert.ok(!path.isAbsolute(link), `${name}: ${e.path} → ${link} is not relative (BE4 writes relative links, §7.2)`);
      assert.equal(await realpath(at), (storage as FileStorage).path(target));
      assert.ok((await lstat((storage as FileStorage).path(target))).isFile());
    }
    owners.add(path.basename(root));
    links++;
  }
  // Nothing in the tree that the list does not name.
  let inTree = 0;
  for await (const key of storage.list(`${treeKey}/`)) if (key) inTree++;
  assert.equal(inTree, own + links, `${name}: objects in the tree and list lines differ`);
  return { own, links, owners };
}

/**
 * Every slab (data and mask) of a pyramid opened by GDAL at its original (`<root>/<path>` of its list line: on FILE
 * the file, on S3 `/vsis3/<bucket>/<object>`, which GDAL reads by ranged GETs): returns how many were read.
 */
export async function gdalReadsSlabs(s: TestServer, name: string): Promise<number> {
  const storage = storeOf(s);
  const list = await listOf(s, name);
  const paths = [...list.entries()].map((e) => gdalPathOf(storage, `${list.roots.get(e.rootIndex)}/${e.path}`));
  const out = python(
    `
import sys, json
from osgeo import gdal
gdal.UseExceptions()
n = 0
for p in json.load(sys.stdin):
    ds = gdal.Open(p)
    b = ds.GetRasterBand(1)
    b.ReadRaster(0, 0, ds.RasterXSize, ds.RasterYSize)
    assert ds.RasterXSize % 256 == 0 and ds.RasterYSize % 256 == 0
    n += 1
print(n)
`,
    { input: JSON.stringify(paths), env: gdalEnv(storage) },
  );
  return Number(out.trim());
}

/**
 * Extents in the TMS CRS (EPSG:3857) computed by GDAL/osr, densified along the edges: the full raster's
 * rows [r0, r1) of a Lambert-93 raster with top-left (x0, y0) and square pixels.
 */
export function rowsExtent3857(
  x0: number,
  y0: number,
  width: number,
  pixelSize: number,
  r0: number,
  r1: number,
): [number, number, number, number] {
  const out = python(
    `
import sys
from osgeo import osr
x0, y0, w, ps, r0, r1 = map(float, sys.argv[1:7])
a = osr.SpatialReference(); a.ImportFromEPSG(2154); a.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
b = osr.SpatialReference(); b.ImportFromEPSG(3857); b.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
t = osr.CoordinateTransformation(a, b)
X0, X1, Y1, Y0 = x0, x0 + w * ps, y0 - r0 * ps, y0 - r1 * ps
pts = []
for i in range(101):
    f = i / 100
    pts += [(X0 + f * (X1 - X0), Y0), (X0 + f * (X1 - X0), Y1), (X0, Y0 + f * (Y1 - Y0)), (X1, Y0 + f * (Y1 - Y0))]
q = [t.TransformPoint(x, y) for x, y in pts]
print(min(p[0] for p in q), min(p[1] for p in q), max(p[0] for p in q), max(p[1] for p in q))
`,
    ...[x0, y0, width, pixelSize, r0, r1].map(String),
  );
  return out.trim().split(/\s+/).map(Number) as [number, number, number, number];
}

/** Slabs (col, row) of a level touched by a bbox, by the truncation formula of rok4.md §2.3. */
export function slabsOfBbox(tm: TileMatrix, bbox: [number, number, number, number], tiles: number): Set<string> {
  const span = tm.cellSize * tm.tileWidth * tiles;
  const spanY = tm.cellSize * tm.tileHeight * tiles;
  const [X0, Y0] = tm.pointOfOrigin;
  const out = new Set<string>();
  for (let c = Math.floor((bbox[0] - X0) / span); c <= Math.floor((bbox[2] - X0) / span); c++) {
    for (let r = Math.floor((Y0 - bbox[3]) / spanY); r <= Math.floor((Y0 - bbox[1]) / spanY); r++) out.add(`${tm.id}/${c}/${r}`);
  }
  return out;
}

/** Decoded tile and mask (mask 0 everywhere when the tile is absent). */
async function tileOf(
  reader: Rok4Reader,
  level: string,
  col: number,
  row: number,
  size: number,
  channels: number,
): Promise<{ px: Uint8Array; mask: Uint8Array }> {
  const tile = await reader.readTile(level, col, row);
  if (!tile) return { px: new Uint8Array(size * channels), mask: new Uint8Array(size) };
  const mask = (await reader.readMaskTile(level, col, row)) ?? new Uint8Array(size).fill(255);
  return { px: tile.pixels as Uint8Array, mask };
}

export interface LevelDiff {
  /** Pixels compared (kept by the filter, data in the expected or the actual pyramid). */
  compared: number;
  /** Pixels whose data/nodata state differs. */
  maskMismatch: number;
  /** Data pixels with at least one sample different. */
  differing: number;
  maxAbs: number;
  /** Sum of squared sample differences over data pixels (for PSNR). */
  se: number;
}

export const psnrOf = (d: LevelDiff, channels = 3): number =>
  d.se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (d.se / Math.max(1, d.compared * channels)));

/**
 * Compares a level of `actual` with what it should be: `expected` is a priority list of pyramids — at
 * each pixel the first one whose mask is non-zero gives the value, none = nodata (mask 0). `keep(x, y)`
 * (centre of the pixel in the TMS CRS) selects the pixels compared. Tiles: the union of all tile_limits.
 */
export async function compareLevel(
  actual: Rok4Reader,
  expected: Rok4Reader[],
  tm: TileMatrix,
  keep: (x: number, y: number, half: number) => boolean = () => true,
): Promise<LevelDiff> {
  const level = tm.id;
  const limits = [actual, ...expected].flatMap((r) => (r.levels.some((l) => l.id === level) ? [r.tileLimits(level)] : []));
  const cMin = Math.min(...limits.map((l) => l.min_col)),
    cMax = Math.max(...limits.map((l) => l.max_col));
  const rMin = Math.min(...limits.map((l) => l.min_row)),
    rMax = Math.max(...limits.map((l) => l.max_row));
  const C = actual.descriptor.raster_specifications.channels;
  const tw = tm.tileWidth,
    th = tm.tileHeight,
    res = tm.cellSize;
  const [X0, Y0] = tm.pointOfOrigin;
  const d: LevelDiff = { compared: 0, maskMismatch: 0, differing: 0, maxAbs: 0, se: 0 };
  for (let row = rMin; row <= rMax; row++) {
    for (let col = cMin; col <= cMax; col++) {
      const a = await tileOf(actual, level, col, row, tw * th, C);
      const e = await Promise.all(
        expected.map((r) =>
          r.levels.some((l) => l.id === level)
            ? tileOf(r, level, col, row, tw * th, C)
            : Promise.resolve({ px: new Uint8Array(tw * th * C), mask: new Uint8Array(tw * th) }),
        ),
      );
      for (let y = 0; y < th; y++) {
        const cy = Y0 - (row * th + y + 0.5) * res;
        for (let x = 0; x < tw; x++) {
          const cx = X0 + (col * tw + x + 0.5) * res;
          if (!keep(cx, cy, res / 2)) continue;
          const p = y * tw + x;
          const src = e.find((t) => t.mask[p] !== 0);
          const aData = a.mask[p] !== 0;
          if (!src && !aData) continue;
          d.compared++;
          if (!src || !aData) {
            d.maskMismatch++;
            continue;
          }
          let diff = 0;
          for (let c = 0; c < C; c++) {
            const v = Math.abs(a.px[p * C + c] - src.px[p * C + c]);
            d.se += v * v;
            if (v > diff) diff = v;
          }
          if (diff) d.differing++;
          if (diff > d.maxAbs) d.maxAbs = diff;
        }
      }
    }
  }
  return d;
}

/** Levels of a reader, bottom (finest) first. */
export function levelIds(reader: Rok4Reader): string[] {
  return reader.levels.map((l) => l.id).reverse();
}
