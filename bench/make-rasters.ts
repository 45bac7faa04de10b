/**
 * make-rasters — writes the project's synthetic "scanned map" inputs (see
 * test/fixtures/synthetic-raster.ts), the TypeScript counterpart of bench/make_rasters.sh in
 * ../shared, without GDAL.
 *
 * Usage: node dist/bench/make-rasters.js [--sizes "T S M"] [--force] [--nodata-tag] [--seed N] DIR
 *
 * For each size X (T 200×400 @ 500 m, S 2000×4000 @ 50 m, M 8000×16000 @ 12.5 m,
 * L 20000×40000 @ 5 m): DIR/X.tif, DIR/X_north.tif, DIR/X_south.tif, each written only when
 * absent (or with --force), through a `.part.tif` renamed at the end. Prints the time per file.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticMap, SYNTHETIC_SIZES, type SyntheticPart, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';

interface Args {
  sizes: SyntheticSizeName[];
  force: boolean;
  nodataTag: boolean;
  seed: number;
  dir: string;
}

const USAGE = 'usage: node dist/bench/make-rasters.js [--sizes "T S M L"] [--force] [--nodata-tag] [--seed N] DIR';

function parseArgs(argv: string[]): Args {
  const args: Partial<Args> = { sizes: ['T'], force: false, nodataTag: false, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sizes') {
      const list = (argv[++i] ?? '').split(/[\s,]+/).filter(Boolean);
      for (const s of list) if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
      args.sizes = list as SyntheticSizeName[];
    } else if (a === '--force') args.force = true;
    else if (a === '--nodata-tag') args.nodataTag = true;
    else if (a === '--seed') args.seed = Number(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else args.dir = a;
  }
  if (!args.dir) throw new Error(USAGE);
  if (!Number.isInteger(args.seed)) throw new Error('--seed takes an integer');
  return args as Args;
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await mkdir(args.dir, { recursive: true });
  for (const size of args.sizes) {
    const parts: [SyntheticPart, string][] = [
      ['full', `${size}.tif`],
      ['north', `${size}_north.tif`],
      ['south', `${size}_south.tif`],
    ];
    for (const [part, name] of parts) {
      const file = path.join(args.dir, name);
      if (!args.force && (await exists(file))) {
        console.log(`${name}: exists, kept`);
        continue;
      }
      const tmp = `${file}.part.tif`;
      const t0 = performance.now();
      try {
        const res = await makeSyntheticMap({ ...SYNTHETIC_SIZES[size], seed: args.seed, part, nodataTag: args.nodataTag, path: tmp });
        await rename(tmp, file);
        const s = (performance.now() - t0) / 1000;
        console.log(
          `${name}: ${res.width}x${res.height} px, ${(res.bytes / 1e6).toFixed(1)} MB${res.bigTiff ? ' (BigTIFF)' : ''} in ${s.toFixed(1)} s`,
        );
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
