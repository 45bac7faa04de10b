/**
 * bench:cog — our COG writer and footprint against GDAL on the synthetic M raster (issue 12
 * "Benchmark"), one run each, same input and machine:
 *  - ours JPEG q90 + mask, 512 tiles, overviews  vs  gdal_translate -of COG COMPRESS=JPEG QUALITY=90
 *  - ours DEFLATE + predictor                    vs  gdal_translate -of COG COMPRESS=DEFLATE PREDICTOR=YES
 *  - our footprint (validity read in strips + tracing) vs gdal.Polygonize of the mask band (Python)
 * Both sides get 2 threads (NUM_THREADS=2). The input is M with GDAL_NODATA=255 (the white collar).
 * Peak RSS = summed RSS of the command's process tree (bench/lib/measure.ts). Ours runs with the C
 * allocator settings of the server and CLI (src/allocator.ts).
 *
 * Usage: npm run bench:cog -- [--size S|M|L] [--dir DIR] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYNTHETIC_SIZES, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';
import { ALLOCATOR_ENV } from '../src/allocator.js';
import { measure, type Measured } from './lib/measure.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOALS = { wallRatio: 0.8, footprintS: 1, rssMb: 600 };

function parseArgs(argv: string[]): { size: SyntheticSizeName; dir: string; keep: boolean } {
  const args = { size: 'M' as SyntheticSizeName, dir: process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench'), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size') {
      const s = argv[++i];
      if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
      args.size = s as SyntheticSizeName;
    } else if (a === '--dir') args.dir = path.resolve(argv[++i]);
    else if (a === '--keep') args.keep = true;
    else throw new Error(`unknown argument ${a}; usage: npm run bench:cog -- [--size M] [--dir DIR] [--keep]`);
  }
  return args;
}

const POLYGONIZE = `
import sys, time
from osgeo import gdal, ogr
gdal.UseExceptions()
ds = gdal.Open(sys.argv[1])
mask = ds.GetRasterBand(1).GetMaskBand()
mem = gdal.GetDriverByName('MEM').Create('', ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte)
mem.SetGeoTransform(ds.GetGeoTransform())
mem.GetRasterBand(1).WriteArray(mask.ReadAsArray())
band = mem.GetRasterBand(1)
store = ogr.GetDriverByName('GeoJSON').CreateDataSource(sys.argv[2])
layer = store.CreateLayer('footprint', srs=ds.GetSpatialRef())
layer.CreateField(ogr.FieldDefn('v', ogr.OFTInteger))
gdal.Polygonize(band, band, layer, 0)
store = None
`;
import { syntheticInput } from './lib/inputs.js';

const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const input = await syntheticInput(path.join(args.dir, 'rasters'), args.size, { variant: 'nodata', nodataTag: true });
  const work = path.join(args.dir, `work-cog-${args.size}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const { width, height } = SYNTHETIC_SIZES[args.size];
  console.log(`=== ${args.size}: ${width}×${height} px RGB, nodata 255, 512 tiles, 2 threads each`);
  const runner = path.join(ROOT, 'dist', 'bench', 'cog-run.js');
  const env = { ...process.env, GDAL_CACHEMAX: '512' };
  const rows: Array<Measured & { extra?: Record<string, number> }> = [];
  // Ours runs under the allocator settings the server and the CLI use (src/allocator.ts).
  const run = async (label: string, cmd: string, argv: string[]) => {
    const m = await measure(label, cmd, argv, { env: cmd === process.execPath ? { ...env, ...ALLOCATOR_ENV } : env });
    let extra: Record<string, number> | undefined;
    try {
      extra = JSON.parse(m.stdout.trim().split('\n').pop() ?? '') as Record<string, number>;
    } catch {
      extra = undefined;
    }
    const row = { ...m, extra };
    rows.push(row);
    console.log(
      `  ${label.padEnd(34)} wall ${fmt(m.wallS).padStart(7)} s  cpu ${fmt(m.cpuS).padStart(7)} s  peak RSS ${fmt(m.peakTreeRssMb, 0).padStart(5)} MB` +
        `${extra ? `  ${JSON.stringify(extra)}` : ''}${m.code !== 0 ? `  FAILED (exit ${m.code})\n${m.stderr.split('\n').slice(-8).join('\n')}` : ''}`,
    );
    return row;
  };
  const size = (f: string) => (existsSync(f) ? `${(statSync(f).size / 1e6).toFixed(1)} MB` : '-');

  const ourJpeg = await run('ours JPEG q90 + mask', process.execPath, [
    runner,
    'cog',
    input,
    path.join(work, 'ours-jpeg.tif'),
    'jpeg',
    '2',
  ]);
  const gdalJpeg = await run('gdal_translate COG JPEG q90', 'gdal_translate', [
    '-q',
    '-of',
    'COG',
    '-co',
    'COMPRESS=JPEG',
    '-co',
    'QUALITY=90',
    '-co',
    'BLOCKSIZE=512',
    '-co',
    'NUM_THREADS=2',
    input,
    path.join(work, 'gdal-jpeg.tif'),
  ]);
  const ourDeflate = await run('ours DEFLATE + predictor', process.execPath, [
    runner,
    'cog',
    input,
    path.join(work, 'ours-deflate.tif'),
    'deflate',
    '2',
  ]);
  const gdalDeflate = await run('gdal_translate COG DEFLATE pred.', 'gdal_translate', [
    '-q',
    '-of',
    'COG',
    '-co',
    'COMPRESS=DEFLATE',
    '-co',
    'PREDICTOR=YES',
    '-co',
    'BLOCKSIZE=512',
    '-co',
    'NUM_THREADS=2',
    input,
    path.join(work, 'gdal-deflate.tif'),
  ]);
  const ourFp = await run('ours footprint (read + trace)', process.execPath, [
    runner,
    'footprint',
    input,
    path.join(work, 'ours-footprint.json'),
    '2',
  ]);
  const gdalFp = await run('gdal.Polygonize of the mask', '/usr/bin/python3', [
    '-c',
    POLYGONIZE,
    input,
    path.join(work, 'gdal-footprint.json'),
  ]);
  console.log(
    `  sizes: ours JPEG ${size(path.join(work, 'ours-jpeg.tif'))}, GDAL JPEG ${size(path.join(work, 'gdal-jpeg.tif'))}, ` +
      `ours DEFLATE ${size(path.join(work, 'ours-deflate.tif'))}, GDAL DEFLATE ${size(path.join(work, 'gdal-deflate.tif'))}`,
  );
  let iou = NaN;
  if (ourFp.code === 0) {
    const check = path.join(ROOT, 'test', 'cog', 'check_cog.py');
    iou = (
      JSON.parse(
        execFileSync('/usr/bin/python3', [check, '--footprint', path.join(work, 'ours-footprint.json'), input], { encoding: 'utf8' }),
      ) as { iou: number }
    ).iou;
    console.log(`  footprint IoU vs gdal.Polygonize: ${iou.toFixed(5)}`);
  }

  console.log('\n| route | wall s | CPU s | peak RSS MB |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${fmt(r.peakTreeRssMb, 0)} |`);
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  console.log('\nGoals (issue 12):');
  const ratio = (a: Measured, b: Measured) => a.wallS / b.wallS;
  console.log(
    `  ${verdict(ratio(ourJpeg, gdalJpeg) <= GOALS.wallRatio)} JPEG wall ≤ ${GOALS.wallRatio}x GDAL (${fmt(ratio(ourJpeg, gdalJpeg))}x)`,
  );
  console.log(
    `  ${verdict(ratio(ourDeflate, gdalDeflate) <= GOALS.wallRatio)} DEFLATE wall ≤ ${GOALS.wallRatio}x GDAL (${fmt(ratio(ourDeflate, gdalDeflate))}x)`,
  );
  const trace = ourJpeg.extra?.traceS ?? NaN;
  console.log(
    `  ${verdict(trace <= GOALS.footprintS)} footprint ≤ ${GOALS.footprintS} s: tracing the grid the COG pass returns ${fmt(trace)} s; ` +
      `standalone (reading the raster too) ${fmt(ourFp.wallS)} s vs gdal.Polygonize ${fmt(gdalFp.wallS)} s, IoU ${fmt(iou, 5)}`,
  );
  const rss = Math.max(ourJpeg.peakTreeRssMb, ourDeflate.peakTreeRssMb);
  console.log(`  ${verdict(rss <= GOALS.rssMb)} peak RSS ≤ ${GOALS.rssMb} MB (${fmt(rss, 0)} MB)`);
  if (!args.keep) rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
