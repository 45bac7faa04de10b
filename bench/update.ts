/**
 * bench:update — what the two update workflows cost compared with generating the whole pyramid
 * (issue 4 "Benchmark"), on the project's synthetic rasters and their north/south halves (10 % overlap),
 * in one run on one machine.
 *
 * Usage: npm run bench:update -- [--size M] [--slab 16] [--threads 2] [--dir DIR] [--keep]
 *   default size M; DIR defaults to $DALLAGE_BENCH_DIR or .bench/ (inputs made in DIR/rasters when absent,
 *   the same files as bench:pyramid and bench/make-rasters.ts).
 *
 * Rows (all raster-to-pyramid runs: tms PM, jpg90, bicubic, mask, nodata 255, levels 0..Z, `--slab`
 * tiles per slab side, `--threads` worker threads):
 *  - full: the pyramid of the whole raster (the reference of the ratios);
 *  - north, south: the halves' pyramids (inputs of the next rows, not part of the ratios);
 *  - merge: pyramids-to-pyramid [north, south];
 *  - update: raster-to-pyramid with stored_data = north and images = south (chaining).
 * The runs share one in-process runtime (the same code path as `dallage execute`; the CLI keeps stored data
 * in memory per process, so chained runs need one process). Wall time = submission to the job's end.
 * Goals: merge ≤ 25 % and update ≤ 65 % of the full pyramid's wall time.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { LowdbRecordStore } from '../src/records/stores/lowdb.js';
import { createRuntime, type Runtime } from '../src/runtime.js';
import { SYNTHETIC_SIZES, type SyntheticPart, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';
import { NATIVE_ZOOM, syntheticInput } from './lib/inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOALS = { merge: 0.25, update: 0.65 };

interface Args {
  size: SyntheticSizeName;
  slab: number;
  threads: number;
  dir: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { size: 'M', slab: 16, threads: 2, dir: process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench'), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size') {
      const s = argv[++i] ?? '';
      if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
      args.size = s as SyntheticSizeName;
    } else if (a === '--slab') args.slab = Number(argv[++i]);
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--dir') args.dir = path.resolve(argv[++i]);
    else if (a === '--keep') args.keep = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run bench:update -- [--size M] [--slab 16] [--threads 2] [--dir DIR] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.slab) || args.slab < 2) throw new Error('--slab takes an integer ≥ 2');
  if (!Number.isInteger(args.threads) || args.threads < 1) throw new Error('--threads takes an integer ≥ 1');
  return args;
}

/** The input file of a size and part, made when absent. */
function input(dir: string, size: SyntheticSizeName, part: SyntheticPart): Promise<string> {
  return syntheticInput(dir, size, part === 'full' ? {} : { variant: part, part });
}

interface Timed {
  label: string;
  wallS: number;
  record: Record<string, unknown>;
}

/** Runs one process to its end through the job manager (as `dallage execute` does); returns its wall time. */
async function timed(rt: Runtime, label: string, processId: string, inputs: Record<string, unknown>): Promise<Timed> {
  const proc = rt.registry.get(processId);
  if (!proc) throw new Error(`no process ${processId}`);
  const t0 = performance.now();
  const execution = await rt.manager.execute(proc, { inputs, response: 'document' }, { prefer: 'respond-async' });
  if (execution.mode !== 'async') throw new Error(`${processId} did not run as a job`);
  const { job } = execution;
  let status = await rt.manager.get(job.jobID);
  while (status && (status.status === 'accepted' || status.status === 'running')) {
    await new Promise((r) => setTimeout(r, 50));
    status = await rt.manager.get(job.jobID);
  }
  const wallS = (performance.now() - t0) / 1000;
  if (status?.status !== 'successful') throw new Error(`${label} ${status?.status}: ${status?.message}`);
  const { bytes } = await rt.manager.result(job.jobID, 'pyramid');
  const out = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  const record = (out.value ?? out) as Record<string, unknown>;
  console.log(`  ${label.padEnd(34)} wall ${wallS.toFixed(1).padStart(7)} s`);
  return { label, wallS, record };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rasters = path.join(args.dir, 'rasters');
  mkdirSync(rasters, { recursive: true });
  const files = {
    full: await input(rasters, args.size, 'full'),
    north: await input(rasters, args.size, 'north'),
    south: await input(rasters, args.size, 'south'),
  };
  const work = path.join(args.dir, `update-${args.size}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const config = parseConfig(
    JSON.stringify({
      server: { limits: { max_running_jobs: 1 } },
      manager: { name: 'memory', connection: path.join(work, 'jobs') },
      storage: { type: 'file', path: path.join(work, 'store') },
      pool: { threads: args.threads },
      processes: { 'raster-to-pyramid': 'raster-to-pyramid', 'pyramids-to-pyramid': 'pyramids-to-pyramid' },
      security: { input_roots: [rasters], allowed_hosts: [], allow_internal: false },
      logging: { enabled: false },
    }),
    {},
    'bench:update',
  );
  const rt = await createRuntime(config, { log: silentLogger, records: new LowdbRecordStore(work) });
  const z = NATIVE_ZOOM[args.size];
  const { width, height } = SYNTHETIC_SIZES[args.size];
  console.log(`=== ${args.size}: ${width}×${height} px, zoom 0–${z}, jpg90, ${args.slab}×${args.slab}-tile slabs, ${args.threads} threads`);
  const options = {
    tms: 'PM',
    compression: 'jpg90',
    interpolation: 'bicubic',
    mask: true,
    nodata: 255,
    bottom: String(z),
    top: '0',
    width: args.slab,
    height: args.slab,
  };
  const href = (f: string) => ({ href: pathToFileURL(f).href });
  try {
    // Warm-up (worker threads, libvips, JIT) so that the first timed run does not pay it.
    await timed(rt, 'warm-up (not counted)', 'raster-to-pyramid', {
      ...options,
      bottom: String(z - 4),
      images: [href(files.north)],
      name: 'WARMUP',
    });
    const full = await timed(rt, 'full pyramid', 'raster-to-pyramid', { ...options, images: [href(files.full)], name: 'FULL' });
    const north = await timed(rt, 'north pyramid (input)', 'raster-to-pyramid', { ...options, images: [href(files.north)], name: 'NORTH' });
    const south = await timed(rt, 'south pyramid (input)', 'raster-to-pyramid', { ...options, images: [href(files.south)], name: 'SOUTH' });
    const merge = await timed(rt, 'merge [north, south]', 'pyramids-to-pyramid', {
      stored_data: [north.record._id, south.record._id],
      name: 'MERGED',
    });
    const update = await timed(rt, 'chained update north + south images', 'raster-to-pyramid', {
      stored_data: north.record._id,
      images: [href(files.south)],
      name: 'UPDATED',
    });

    const fullSlabs = (full.record.type_infos as { slabs: number }).slabs;
    const m = (merge.record.type_infos as { merge: { referenced: number; recomputed: number } }).merge;
    const u = (update.record.type_infos as { update: { referenced: number; recomputed: number } }).update;
    const share = (ref: number, rec: number) => `${((100 * ref) / Math.max(1, ref + rec)).toFixed(1)} %`;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    const rMerge = merge.wallS / full.wallS,
      rUpdate = update.wallS / full.wallS;
    console.log('\n| run | wall s | / full | data slabs: referenced / recomputed (share referenced) |');
    console.log('|---|---:|---:|---|');
    console.log(`| full pyramid | ${full.wallS.toFixed(1)} | 1.00 | ${fullSlabs} written |`);
    console.log(`| north pyramid (input) | ${north.wallS.toFixed(1)} | ${(north.wallS / full.wallS).toFixed(2)} | |`);
    console.log(`| south pyramid (input) | ${south.wallS.toFixed(1)} | ${(south.wallS / full.wallS).toFixed(2)} | |`);
    console.log(
      `| merge | ${merge.wallS.toFixed(1)} | ${rMerge.toFixed(2)} | ${m.referenced} / ${m.recomputed} (${share(m.referenced, m.recomputed)}) |`,
    );
    console.log(
      `| chained update | ${update.wallS.toFixed(1)} | ${rUpdate.toFixed(2)} | ${u.referenced} / ${u.recomputed} (${share(u.referenced, u.recomputed)}) |`,
    );
    console.log(`\nGoals (issue 4, size ${args.size}${args.size === 'M' ? '' : ' — the goals are set on M'}):`);
    console.log(`  ${verdict(rMerge <= GOALS.merge)} merge ≤ ${GOALS.merge * 100} % of the full pyramid (${(100 * rMerge).toFixed(1)} %)`);
    console.log(
      `  ${verdict(rUpdate <= GOALS.update)} chained update ≤ ${GOALS.update * 100} % of the full pyramid (${(100 * rUpdate).toFixed(1)} %)`,
    );
  } finally {
    await rt.close();
    if (!args.keep) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
