/**
 * Shared tools of the raster-to-pyramid end-to-end tests: a test server with the process, inputs made
 * with the project's synthetic map generator (and variants made by GDAL), running a job while watching its
 * progress, mosaicking a pyramid level from our ROK4 reader, and comparing it with a GDAL reference the
 * way ../shared/bench/psnr.py does (pixels valid in both, PSNR over RGB, IoU of the valid masks).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticMap, type SyntheticMapOptions, type SyntheticMapResult } from '../fixtures/synthetic-raster.js';
import { gdalRead } from '../rok4/gdal-oracle.js';
import { startTestServer, submitAndWait, type JobRun, type TestServer } from './server.js';

export type { JobRun };
import type { Storage } from '../../src/storage/storage.js';
import { S3Storage } from '../../src/storage/s3.js';
import { LOCK_FILE } from '../../src/folder-lock.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { loadTms, tileMatrix, type TileMatrix } from '../../src/raster/tms.js';

export const PYTHON = '/usr/bin/python3';

/** The small inputs of these tests: 60 km × 120 km at 100 m (PM level 10, 1–2 slabs of 4×4 tiles). */
export const SMALL = { width: 600, height: 1200, pixelSize: 100 } as const;

/** A server running raster-to-pyramid (and echo), with optional limits. */
export function startPyramidServer(options: { limits?: Record<string, unknown> } = {}): Promise<TestServer> {
  return startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid', echo: 'echo' }, limits: options.limits });
}

export async function withPyramidServer(
  fn: (s: TestServer) => Promise<void>,
  options: { limits?: Record<string, unknown> } = {},
): Promise<void> {
  const s = await startPyramidServer(options);
  try {
    await fn(s);
  } finally {
    await s.stop();
  }
}

/** Writes the synthetic map (or a half) under the server's input root; returns the file and its facts. */
export async function makeInput(
  s: TestServer,
  file: string,
  options: Partial<SyntheticMapOptions> = {},
): Promise<SyntheticMapResult & { path: string; href: string }> {
  const p = path.join(s.inputRoot, file);
  const r = await makeSyntheticMap({ ...SMALL, ...options, path: p });
  return { ...r, path: p, href: hrefOf(p) };
}

export const hrefOf = (file: string): string => `file://${file}`;

/**
 * Where a pyramid of a FILE test server lives: `<store>/pyramids/<name>/` holds `<name>.json`, `<name>.list`
 * and the `<name>/` tree. Keys relative to the storage (FILE or S3): {@link pyramidKey}.
 */
export const pyramidDir = (s: TestServer, name: string): string => path.join(s.dir, 'store', 'pyramids', name);
/**
 * The list root of a pyramid (rok4.md §6), whatever the storage: `<storage root>/pyramids/<name>/<name>` —
 * on FILE the absolute folder of its tree, on S3 `<bucket>/pyramids/<name>/<name>`.
 */
export const treeDir = (s: TestServer, name: string): string => `${storeOf(s).root}/pyramids/${name}/${name}`;
/** Storage key of a pyramid's descriptor (`.json`), list (`.list`) or tree (''). */
export const pyramidKey = (name: string, suffix: '' | '.json' | '.list' = ''): string => `pyramids/${name}/${name}${suffix}`;

/** The storage of a test server (where pyramids are written): FILE, or S3 under DALLAGE_TEST_STORAGE=s3. */
export function storeOf(s: TestServer): Storage {
  return s.runtime.storage;
}

/**
 * The path GDAL opens for `<storage root>/<key>` (a list root + a list path): the file on FILE;
 * `/vsis3/<bucket>/<object>` on S3, read with {@link gdalEnv}.
 */
export function gdalPathOf(storage: Storage, rooted: string): string {
  return storage.type === 'S3' ? `/vsis3/${rooted}` : rooted;
}

/**
 * The environment under which GDAL reads a storage: on S3 its /vsis3/ settings for our endpoint (plain
 * HTTP, path-style: AWS_VIRTUAL_HOSTING=FALSE) and credentials; no cached configuration files.
 */
export function gdalEnv(storage: Storage): NodeJS.ProcessEnv {
  if (!(storage instanceof S3Storage)) return process.env;
  const url = new URL(storage.settings.endpoint);
  return {
    ...process.env,
    AWS_S3_ENDPOINT: url.host,
    AWS_HTTPS: url.protocol === 'https:' ? 'YES' : 'NO',
    AWS_VIRTUAL_HOSTING: 'FALSE',
    AWS_ACCESS_KEY_ID: storage.settings.accessKey,
    AWS_SECRET_ACCESS_KEY: storage.settings.secretKey,
    AWS_REGION: storage.settings.region,
    AWS_NO_SIGN_REQUEST: 'NO',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    CPL_VSIL_CURL_CHUNK_SIZE: '65536',
    GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR',
  };
}

/** Submits a raster-to-pyramid job and waits for its end (whatever the end), with the steps seen. */
export function runJob(s: TestServer, inputs: Record<string, unknown>, timeoutMs = 120_000): Promise<JobRun> {
  return submitAndWait(s.url, 'raster-to-pyramid', inputs, timeoutMs);
}

/** The `pyramid` output (stored data record) of a successful job. */
export async function pyramidResult(s: TestServer, jobID: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/jobs/${jobID}/results`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const body = JSON.parse(text) as Record<string, unknown>;
  // One output: the raw value (OGC /req/core/job-results); a document holds it by id (maybe as {value}).
  const out = (typeof body._id === 'string' ? body : body.pyramid) as Record<string, unknown>;
  assert.ok(out, `no pyramid output in ${text.slice(0, 300)}`);
  return (out.value ?? out) as Record<string, unknown>;
}

/** Runs a generation that must succeed; returns the run and the stored data record. */
export async function generate(s: TestServer, inputs: Record<string, unknown>): Promise<JobRun & { record: Record<string, unknown> }> {
  const run = await runJob(s, inputs);
  assert.equal(run.final.status, 'successful', JSON.stringify(run.final));
  return { ...run, record: await pyramidResult(s, run.jobID) };
}

/**
 * Stored data records (GET /stored_data with filters). Without a `status` filter the API leaves
 * DELETED records out; this helper adds them (a second request with status=DELETED), so that tests
 * can follow a record whatever becomes of it. `listed: true` gives the API's default listing as is.
 */
export async function storedData(s: TestServer, query = '', options: { listed?: boolean } = {}): Promise<Array<Record<string, unknown>>> {
  const get = async (q: string) => {
    const res = await fetch(`${s.url}/stored_data${q}`, { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { stored_data: Array<Record<string, unknown>> }).stored_data;
  };
  const records = await get(query);
  if (options.listed || /[?&]status=/.test(query)) return records;
  return [...records, ...(await get(`${query}${query.includes('?') ? '&' : '?'}status=DELETED`))];
}

/** Every key under a prefix of the server's store (the server's folder lock is no key). */
export async function keysUnder(s: TestServer, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of storeOf(s).list(prefix)) if (k !== LOCK_FILE) keys.push(k);
  return keys.sort();
}

/** Every slab of a pyramid's tree, FILE or S3: its key below the tree → its bytes (references left out). */
export async function slabsOf(s: TestServer, name: string): Promise<Map<string, Buffer>> {
  const storage = storeOf(s);
  const tree = `${pyramidKey(name)}/`;
  const out = new Map<string, Buffer>();
  for (const key of await keysUnder(s, tree)) {
    if ((await storage.linkTarget(key)) !== undefined) continue;
    out.set(key.slice(tree.length), await storage.read(key));
  }
  return out;
}

/** One pyramid level as one raster: the tiles inside tile_limits, with the mask (0 = nodata). */
export interface LevelMosaic {
  level: string;
  tm: TileMatrix;
  width: number;
  height: number;
  channels: number;
  sampleType: 'uint8' | 'float32';
  /** Interleaved samples; tiles absent from the pyramid hold nodata. */
  pixels: Uint8Array | Float32Array;
  mask: Uint8Array;
  /** [xmin, ymin, xmax, ymax] in the TMS CRS (tile-aligned). */
  extent: [number, number, number, number];
  /** Tiles found / tiles inside tile_limits. */
  tilesFound: number;
  tilesInLimits: number;
}

/** Mosaics a level from our reader: only tiles inside tile_limits (rok4.md §3.4), masks from the mask slabs. */
export async function mosaicLevel(reader: Rok4Reader, levelId: string, tmsName: string): Promise<LevelMosaic> {
  const tm = tileMatrix(await loadTms(tmsName), levelId);
  const lim = reader.tileLimits(levelId);
  const cols = lim.max_col - lim.min_col + 1,
    rows = lim.max_row - lim.min_row + 1;
  const tw = tm.tileWidth,
    th = tm.tileHeight;
  const width = cols * tw,
    height = rows * th;
  const C = reader.descriptor.raster_specifications.channels;
  const sampleType = reader.formatInfo.sampleType;
  const nodata = reader.descriptor.raster_specifications.nodata.split(',').map(Number);
  const pixels = sampleType === 'float32' ? new Float32Array(width * height * C) : new Uint8Array(width * height * C);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < C; c++) pixels[p * C + c] = nodata[c];
  const mask = new Uint8Array(width * height);
  let tilesFound = 0;
  for (let row = lim.min_row; row <= lim.max_row; row++) {
    for (let col = lim.min_col; col <= lim.max_col; col++) {
      const tile = await reader.readTile(levelId, col, row);
      if (!tile) continue;
      tilesFound++;
      const tileMask = await reader.readMaskTile(levelId, col, row);
      const x0 = (col - lim.min_col) * tw,
        y0 = (row - lim.min_row) * th;
      for (let y = 0; y < th; y++) {
        const o = (y0 + y) * width + x0;
        (pixels as Uint8Array).set((tile.pixels as Uint8Array).subarray(y * tw * C, (y + 1) * tw * C), o * C);
        if (tileMask) mask.set(tileMask.subarray(y * tw, (y + 1) * tw), o);
        else mask.fill(255, o, o + tw);
      }
    }
  }
  const [X0, Y0] = tm.pointOfOrigin;
  const r = tm.cellSize;
  const extent: LevelMosaic['extent'] = [
    X0 + lim.min_col * tw * r,
    Y0 - (lim.max_row + 1) * th * r,
    X0 + (lim.max_col + 1) * tw * r,
    Y0 - lim.min_row * th * r,
  ];
  return { level: levelId, tm, width, height, channels: C, sampleType, pixels, mask, extent, tilesFound, tilesInLimits: cols * rows };
}

/** Opens a pyramid of the server's store with our reader. */
export function openPyramid(s: TestServer, name: string): Promise<Rok4Reader> {
  return Rok4Reader.open(storeOf(s), name, `pyramids/${name}/`);
}

/** The bottom level id of a reader (smallest cellSize = last level of the descriptor, rok4.md §3.1). */
export function bottomLevelId(reader: Rok4Reader): string {
  return reader.levels.at(-1)!.id;
}

/**
 * The GDAL reference of a level: `gdalwarp -r <kernel> -t_srs <crs> -te <extent> -ts W H -dstalpha` of the
 * source, with the white collar declared as nodata exactly as bench/psnr.py does (-srcnodata "255 255 255",
 * UNIFIED_SRC_NODATA=YES) when `srcNodata` is given. Returns the RGBA (or gray + alpha) pixels.
 */
export function gdalReference(
  src: string,
  out: string,
  m: Pick<LevelMosaic, 'extent' | 'width' | 'height'>,
  crs: string,
  options: { kernel?: string; srcNodata?: number; bands?: number } = {},
): ReturnType<typeof gdalRead> {
  const args = [
    '-q',
    '-overwrite',
    '-r',
    options.kernel ?? 'cubic',
    '-t_srs',
    crs,
    '-te',
    ...m.extent.map(String),
    '-ts',
    String(m.width),
    String(m.height),
    '-dstalpha',
  ];
  if (options.srcNodata !== undefined) {
    args.push(
      '-srcnodata',
      Array(options.bands ?? 3)
        .fill(String(options.srcNodata))
        .join(' '),
      '-wo',
      'UNIFIED_SRC_NODATA=YES',
    );
  }
  execFileSync('gdalwarp', [...args, src, out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return gdalRead(out);
}

export interface Quality {
  psnr: number;
  iou: number;
  compared: number;
  validOurs: number;
  validRef: number;
  maxAbsError: number;
}

/**
 * psnr.py's comparison of an RGB (or RGBA: alpha ignored, the mask says) level with a GDAL RGBA reference: a pixel counts when valid in both
 * (alpha / mask > 0 and, with `nodata`, not R=G=B=nodata); PSNR over the three bands, IoU of the valid sets.
 */
export function compareWithReference(m: LevelMosaic, ref: ReturnType<typeof gdalRead>, nodata?: number): Quality {
  assert.equal(ref.width, m.width);
  assert.equal(ref.height, m.height);
  assert.ok(m.channels >= 3, 'quality is compared on RGB(A) levels');
  assert.equal(ref.bands, 4, 'reference must be RGBA (-dstalpha)');
  const n = m.width * m.height;
  const C = m.channels;
  let se = 0,
    compared = 0,
    vo = 0,
    vr = 0,
    both = 0,
    any = 0,
    maxAbsError = 0;
  const a = m.pixels as Uint8Array,
    b = ref.bytes;
  for (let p = 0; p < n; p++) {
    const oursValid =
      m.mask[p] !== 0 && !(nodata !== undefined && a[C * p] === nodata && a[C * p + 1] === nodata && a[C * p + 2] === nodata);
    const refValid =
      b[4 * p + 3] !== 0 && !(nodata !== undefined && b[4 * p] === nodata && b[4 * p + 1] === nodata && b[4 * p + 2] === nodata);
    if (oursValid) vo++;
    if (refValid) vr++;
    if (oursValid || refValid) any++;
    if (!(oursValid && refValid)) continue;
    both++;
    for (let c = 0; c < 3; c++) {
      const d = a[C * p + c] - b[4 * p + c];
      se += d * d;
      if (Math.abs(d) > maxAbsError) maxAbsError = Math.abs(d);
    }
    compared++;
  }
  const mse = se / Math.max(1, 3 * compared);
  return {
    psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse),
    iou: both / Math.max(1, any),
    compared,
    validOurs: vo,
    validRef: vr,
    maxAbsError,
  };
}

/** Runs a small python (GDAL + numpy) script with arguments (and optionally stdin and environment); its stdout. */
export function python(script: string, ...args: Array<string | { input?: string; env?: NodeJS.ProcessEnv }>): string {
  const options = args.find((a) => typeof a !== 'string') as { input?: string; env?: NodeJS.ProcessEnv } | undefined;
  const strings = args.filter((a): a is string => typeof a === 'string');
  return execFileSync(PYTHON, ['-c', script, ...strings], {
    input: options?.input,
    env: options?.env ?? process.env,
    stdio: [options?.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  }).toString();
}

/**
 * Copies a GeoTIFF and overwrites the inside of one compressed block (column 1, row 2, in the middle of
 * the data) with garbage: the header stays valid, the decode of that block fails mid-run.
 */
export async function corruptBlock(source: string, dest: string): Promise<void> {
  const [offset, size] = python(
    `
import sys, shutil
from osgeo import gdal
shutil.copy(sys.argv[1], sys.argv[2])
ds = gdal.Open(sys.argv[2])
b = ds.GetRasterBand(1)
print(b.GetMetadataItem('BLOCK_OFFSET_1_2', 'TIFF'), b.GetMetadataItem('BLOCK_SIZE_1_2', 'TIFF'))
`,
    source,
    dest,
  )
    .trim()
    .split(' ')
    .map(Number);
  if (!(offset > 0 && size > 100)) throw new Error(`no block to corrupt in ${source}`);
  const fh = await open(dest, 'r+');
  try {
    await fh.write(Buffer.alloc(size - 8, 0xa5), 0, size - 8, offset + 4);
  } finally {
    await fh.close();
  }
}
