/**
 * bench:pyramid — times our raster-to-pyramid against GDAL's routes on the project's synthetic
 * rasters, in one run, on the same input and machine (issue 3 "Benchmark"; how the peers are run
 * follows ../shared/bench/anchors.sh, which this does not depend on).
 *
 * Usage: npm run bench:pyramid -- [--sizes "S M"] [--size L] [--dir DIR] [--only ours] [--no-psnr] [--keep]
 *   default size M; DIR defaults to $DALLAGE_BENCH_DIR or .bench/ (inputs are made there when absent).
 *
 * Rows:
 *  - ours: `dallage execute raster-to-pyramid` (the CLI, a child process), tms PM, jpg90, bicubic,
 *    mask, nodata 255, levels 0..Z, 2 worker threads. Tiles = tiles inside each level's tile_limits
 *    in the data slabs written (ROK4 has no per-tile files).
 *  - gdal2tiles: png, cubic, --processes=2, zoom 0..Z, xyz, on a VRT declaring nodata 255. Tiles = files.
 *  - COG: gdal_translate -of COG TILING_SCHEME=GoogleMapsCompatible JPEG q90 cubic (warps itself),
 *    2 threads. Tiles = blocks of the full level and its overviews.
 * Z = the finest zoom not finer than the source pixel (gdal2tiles' rule): S 11, M 13, L 14.
 * Peak RSS = the summed RSS of the command's process tree, sampled every 100 ms.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYNTHETIC_SIZES, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';
import { compareBottomLevel, countTiles, makeReference, type Quality } from './lib/quality.js';
import { measure, type Measured } from './lib/measure.js';
import { NATIVE_ZOOM, syntheticInput } from './lib/inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODATA = 255;
/**
 * Issue 3's goals, raised by issue 16: ≥ 350 tiles/s on M and ≥ 15x gdal2tiles (were 200 and 10x), L's
 * tiles/s ≥ 0.9x M's, bottom-level PSNR not below 38.7 dB (jpg90, M; was ≥ 34).
 */
const GOALS = { tilesPerS: 350, vsGdal2tiles: 15, vsCog: 3.5, rssMbM: 600, rssRatioL: 1.3, rateRatioL: 0.9, psnrDb: 38.7 };

interface Args {
  sizes: SyntheticSizeName[];
  dir: string;
  only?: RegExp;
  psnr: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: [], dir: process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench'), psnr: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sizes' || a === '--size') {
      for (const s of (argv[++i] ?? '').split(/[\s,]+/).filter(Boolean)) {
        if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
        if (!args.sizes.includes(s as SyntheticSizeName)) args.sizes.push(s as SyntheticSizeName);
      }
    } else if (a === '--dir') args.dir = path.resolve(argv[++i]);
    else if (a === '--only') args.only = new RegExp(argv[++i]);
    else if (a === '--no-psnr') args.psnr = false;
    else if (a === '--keep') args.keep = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run bench:pyramid -- [--sizes "S M"] [--size L] [--dir DIR] [--only REGEX] [--no-psnr] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (args.sizes.length === 0) args.sizes = ['M'];
  return args;
}

function hasCommand(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function countFiles(dir: string, pattern: RegExp): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countFiles(path.join(dir, e.name), pattern);
    else if (pattern.test(e.name)) n++;
  }
  return n;
}

/** Blocks of a tiled GeoTIFF: full level + overviews. */
function countBlocks(file: string): number {
  const info = JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8', maxBuffer: 64 << 20 })) as {
    size: [number, number];
    bands: Array<{ block: [number, number]; overviews?: Array<{ size: [number, number] }> }>;
  };
  const [bw, bh] = info.bands[0].block;
  const levels = [info.size, ...(info.bands[0].overviews ?? []).map((o) => o.size)];
  return levels.reduce((n, [w, h]) => n + Math.ceil(w / bw) * Math.ceil(h / bh), 0);
}

interface Row extends Measured {
  size: SyntheticSizeName;
  tiles: number;
  tilesNote: string;
}

const rows: Row[] = [];
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');

function report(r: Row): void {
  console.log(
    `  ${r.label.padEnd(28)} wall ${fmt(r.wallS).padStart(7)} s  cpu ${fmt(r.cpuS).padStart(7)} s  ${String(r.tiles).padStart(7)} tiles  ${fmt(r.tiles / r.wallS).padStart(7)} tiles/s  peak RSS ${fmt(r.peakTreeRssMb, 0).padStart(5)} MB${r.code !== 0 ? `  FAILED (exit ${r.code})` : ''}`,
  );
  if (r.code !== 0) console.log(r.stderr.split('\n').slice(-8).join('\n'));
}

async function benchSize(size: SyntheticSizeName, args: Args): Promise<{ quality?: Quality }> {
  const input = await syntheticInput(path.join(args.dir, 'rasters'), size);
  const z = NATIVE_ZOOM[size];
  const work = path.join(args.dir, `work-${size}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const vrt = path.join(work, 'in_nd.vrt');
  execFileSync('gdal_translate', ['-q', '-of', 'VRT', '-a_nodata', String(NODATA), input, vrt]);
  const { width, height } = SYNTHETIC_SIZES[size];
  console.log(`\n=== ${size}: ${width}×${height} px, zoom 0–${z}`);
  const want = (label: string) => !args.only || args.only.test(label);
  const result: { quality?: Quality } = {};

  if (want('ours')) {
    const out = path.join(work, 'ours');
    const name = `BENCH_${size}`;
    const m = await measure(
      'ours (dallage, jpg90)',
      process.execPath,
      [
        path.join(ROOT, 'bin', 'dallage.js'),
        'execute',
        'raster-to-pyramid',
        '--quiet',
        '--threads',
        '2',
        '--output-dir',
        out,
        '--input',
        `images=${input}`,
        '--input',
        `name=${name}`,
        '--input',
        'tms=PM',
        '--input',
        'compression=jpg90',
        '--input',
        'interpolation=bicubic',
        '--input',
        'mask=true',
        '--input',
        `nodata=${NODATA}`,
        '--input',
        `bottom=${z}`,
        '--input',
        'top=0',
      ],
      { cwd: work, env: { ...process.env, DALLAGE_CONFIG: '' } },
    ).catch((err: Error) => ({ label: 'ours', code: -1, wallS: NaN, cpuS: NaN, peakTreeRssMb: NaN, stdout: '', stderr: err.message }));
    let tiles = 0;
    // The CLI writes the pyramid in its storage's folder for it (src/pyramid/location.ts): pyramids/<name>/.
    const folder = path.join(out, 'pyramids', name);
    if (m.code === 0) tiles = (await countTiles(folder, name, (f) => existsSync(f))).tiles;
    const row: Row = { ...m, size, tiles, tilesNote: 'tiles in tile_limits of written slabs' };
    rows.push(row);
    report(row);
    if (m.code === 0 && args.psnr) {
      const ref = path.join(work, `ref_z${z}.tif`);
      await makeReference(input, ref, folder, name, String(z), NODATA);
      result.quality = await compareBottomLevel(folder, name, String(z), ref, NODATA);
      const q = result.quality;
      console.log(
        `  quality z${z} vs gdalwarp -r cubic: PSNR ${q.psnrRgbDb.toFixed(2)} dB, MAE ${q.mae.toFixed(2)}, err>16 ${(100 * q.shareErrGt16).toFixed(3)} %, mask IoU ${q.maskIou.toFixed(4)} (${q.pixelsCompared} px, ${q.slabs} slabs)`,
      );
    }
  }

  const g2t = hasCommand('gdal2tiles.py') ?? hasCommand('gdal2tiles');
  if (want('gdal2tiles') && g2t) {
    const out = path.join(work, 'g2t');
    const m = await measure(
      'gdal2tiles png cubic',
      g2t,
      ['-q', '--xyz', '-p', 'mercator', '-r', 'cubic', '-z', `0-${z}`, '--processes=2', '-w', 'none', vrt, out],
      { env: { ...process.env, GDAL_CACHEMAX: '512' } },
    );
    const row: Row = { ...m, size, tiles: existsSync(out) ? countFiles(out, /\.png$/) : 0, tilesNote: 'files' };
    rows.push(row);
    report(row);
  }

  if (want('cog')) {
    const out = path.join(work, 'cog_gm.tif');
    const m = await measure(
      'GDAL COG GoogleMaps JPEG q90',
      'gdal_translate',
      [
        '-q',
        '-of',
        'COG',
        '-co',
        'TILING_SCHEME=GoogleMapsCompatible',
        '-co',
        'ZOOM_LEVEL_STRATEGY=LOWER',
        '-co',
        'WARP_RESAMPLING=CUBIC',
        '-co',
        'RESAMPLING=CUBIC',
        '-co',
        'COMPRESS=JPEG',
        '-co',
        'QUALITY=90',
        '-co',
        'NUM_THREADS=2',
        vrt,
        out,
      ],
      { env: { ...process.env, GDAL_CACHEMAX: '512' } },
    );
    const row: Row = {
      ...m,
      size,
      tiles: existsSync(out) && statSync(out).size > 0 ? countBlocks(out) : 0,
      tilesNote: 'blocks (level + overviews)',
    };
    rows.push(row);
    report(row);
  }
  if (!args.keep) rmSync(work, { recursive: true, force: true });
  return result;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'cli.js'))) throw new Error('build first: npm run build');
  const quality: Partial<Record<SyntheticSizeName, Quality>> = {};
  for (const size of args.sizes) quality[size] = (await benchSize(size, args)).quality;

  console.log('\n| size | route | wall s | CPU s | tiles | tiles/s | peak RSS MB (tree) |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.size} | ${r.label} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${r.tiles} (${r.tilesNote}) | ${fmt(r.tiles / r.wallS)} | ${fmt(r.peakTreeRssMb, 0)} |`,
    );

  console.log('\nGoals (issues 3 and 16):');
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a ' : ok ? 'PASS' : 'MISS');
  for (const size of args.sizes) {
    const ours = rows.find((r) => r.size === size && r.label.startsWith('ours'));
    const g2t = rows.find((r) => r.size === size && r.label.startsWith('gdal2tiles'));
    const cog = rows.find((r) => r.size === size && r.label.startsWith('GDAL COG'));
    if (!ours || ours.code !== 0) continue;
    const rate = ours.tiles / ours.wallS;
    const rateOf = (r?: Row) => (r && r.code === 0 ? r.tiles / r.wallS : undefined);
    const vsG = rateOf(g2t) ? rate / rateOf(g2t)! : undefined;
    const vsC = rateOf(cog) ? rate / rateOf(cog)! : undefined;
    const wallG = g2t && g2t.code === 0 ? g2t.wallS / ours.wallS : undefined;
    const wallC = cog && cog.code === 0 ? cog.wallS / ours.wallS : undefined;
    console.log(
      `  ${size}: ${verdict(size === 'M' ? rate >= GOALS.tilesPerS : undefined)} ≥ ${GOALS.tilesPerS} tiles/s on M (${rate.toFixed(1)})`,
    );
    console.log(
      `  ${size}: ${verdict(vsG === undefined ? undefined : vsG >= GOALS.vsGdal2tiles)} ≥ ${GOALS.vsGdal2tiles}x gdal2tiles (tiles/s ratio ${vsG?.toFixed(2) ?? '-'}, wall ratio ${wallG?.toFixed(2) ?? '-'})`,
    );
    console.log(
      `  ${size}: ${verdict(vsC === undefined ? undefined : vsC >= GOALS.vsCog)} ≥ ${GOALS.vsCog}x GDAL COG route (tiles/s ratio ${vsC?.toFixed(2) ?? '-'}, wall ratio ${wallC?.toFixed(2) ?? '-'})`,
    );
    if (size === 'M')
      console.log(
        `  M: ${verdict(ours.peakTreeRssMb <= GOALS.rssMbM)} peak RSS ≤ ${GOALS.rssMbM} MB (${ours.peakTreeRssMb.toFixed(0)} MB)`,
      );
    if (size === 'L') {
      const m = rows.find((r) => r.size === 'M' && r.label.startsWith('ours'));
      const ratio = m ? ours.peakTreeRssMb / m.peakTreeRssMb : undefined;
      console.log(
        `  L: ${verdict(ratio === undefined ? undefined : ratio <= GOALS.rssRatioL)} peak RSS ≤ ${GOALS.rssRatioL}x M's (${ours.peakTreeRssMb.toFixed(0)} MB, ratio ${ratio?.toFixed(2) ?? '- (run M too)'})`,
      );
      const rateRatio = m && m.code === 0 ? rate / (m.tiles / m.wallS) : undefined;
      console.log(
        `  L: ${verdict(rateRatio === undefined ? undefined : rateRatio >= GOALS.rateRatioL)} tiles/s ≥ ${GOALS.rateRatioL}x M's (ratio ${rateRatio?.toFixed(2) ?? '- (run M too)'})`,
      );
    }
    const q = quality[size];
    if (q)
      console.log(
        `  ${size}: ${verdict(q.psnrRgbDb >= GOALS.psnrDb && q.maskIou >= 0.99)} bottom level vs gdalwarp cubic ≥ ${GOALS.psnrDb} dB (jpg90), IoU ≥ 0.99 (${q.psnrRgbDb.toFixed(2)} dB, IoU ${q.maskIou.toFixed(4)})`,
      );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
