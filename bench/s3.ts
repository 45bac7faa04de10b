/**
 * bench:s3 — what S3 storage costs compared with FILE (issue 13 "Benchmark"), in one run on one machine:
 * the same pyramid written to a FILE storage and to a bucket of a local S3 server (npm s3rver on
 * 127.0.0.1, test/helpers/s3-server.ts — a Node server writing files: the S3 overhead measured includes
 * its own, which a production S3 service does not add to our CPU), the merge of the two halves on S3
 * against the full generation on S3, and tile reads through the publication service (XYZ route over
 * HTTP) from S3 and from FILE.
 *
 * Usage: npm run bench:s3 -- [--size M] [--slab 16] [--threads 2] [--tiles 2000] [--dir DIR]
 *   default size M; DIR defaults to $DALLAGE_BENCH_DIR or .bench/ (inputs made in DIR/rasters when absent,
 *   the same files as bench:pyramid and bench:update).
 *
 * Goals: S3 pyramid ≤ 1.3 × FILE's wall time; merge of the halves on S3 ≤ 25 % of the full generation on S3.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { SYNTHETIC_SIZES, type SyntheticPart, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';
import { s3StorageSection, startS3Server } from '../test/helpers/s3-server.js';
import { NATIVE_ZOOM, syntheticInput } from './lib/inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOALS = { s3VsFile: 1.3, merge: 0.25 };

interface Args {
  size: SyntheticSizeName;
  slab: number;
  threads: number;
  tiles: number;
  dir: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { size: 'M', slab: 16, threads: 2, tiles: 2000, dir: process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size') {
      const s = argv[++i] ?? '';
      if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
      args.size = s as SyntheticSizeName;
    } else if (a === '--slab') args.slab = Number(argv[++i]);
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--tiles') args.tiles = Number(argv[++i]);
    else if (a === '--dir') args.dir = path.resolve(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run bench:s3 -- [--size M] [--slab 16] [--threads 2] [--tiles 2000] [--dir DIR]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** The input file of a size and part, made when absent. */
function input(dir: string, size: SyntheticSizeName, part: SyntheticPart): Promise<string> {
  return syntheticInput(dir, size, part === 'full' ? {} : { variant: part, part });
}

/** Runs a job over HTTP to its end; its wall time and the `pyramid` record. */
async function timed(server: RunningServer, label: string, processId: string, inputs: Record<string, unknown>) {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/processes/${processId}/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ inputs }),
  });
  if (res.status !== 201) throw new Error(`${label}: ${res.status} ${await res.text()}`);
  const { jobID } = (await res.json()) as { jobID: string };
  let job: { status: string; message?: string };
  for (;;) {
    job = (await (await fetch(`${server.url}/jobs/${jobID}`)).json()) as { status: string; message?: string };
    if (job.status !== 'accepted' && job.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const wallS = (performance.now() - t0) / 1000;
  if (job.status !== 'successful') throw new Error(`${label} ${job.status}: ${job.message}`);
  const out = (await (await fetch(`${server.url}/jobs/${jobID}/results`)).json()) as Record<string, unknown>;
  const record = ((out._id ? out : out.pyramid) as Record<string, unknown>) ?? {};
  console.log(`  ${label.padEnd(30)} wall ${wallS.toFixed(1).padStart(7)} s`);
  return { wallS, record: (record.value ?? record) as Record<string, unknown> };
}

/** Publishes a pyramid and reads `count` tiles of its bottom level (XYZ route), 8 at a time; tiles per second. */
async function tileReads(server: RunningServer, layer: string, record: Record<string, unknown>, count: number): Promise<number> {
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${server.url}${p}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 201) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const c = await post('/configurations', {
    type: 'WMTS-TMS',
    name: layer,
    layer_name: layer,
    type_infos: { title: layer, used_data: [{ stored_data: record._id }] },
  });
  await post(`/configurations/${c._id}/offerings`, { open: true });
  const levels = (record.type_infos as { levels: Array<{ id: string; tile_limits: Record<string, number> }> }).levels;
  const bottom = levels.at(-1)!;
  const lim = bottom.tile_limits;
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const col = lim.min_col + ((i * 7919) % (lim.max_col - lim.min_col + 1));
    const row = lim.min_row + ((i * 104729) % (lim.max_row - lim.min_row + 1));
    urls.push(`${server.url}/xyz/${layer}/${bottom.id}/${col}/${row}.jpg`);
  }
  const t0 = performance.now();
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < urls.length) {
        const res = await fetch(urls[next++]);
        await res.arrayBuffer();
        if (res.status === 200 || res.status === 204 || res.status === 404) ok++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  if (ok !== count) throw new Error(`${layer}: ${count - ok} tile requests failed`);
  return count / s;
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
  const work = path.join(args.dir, `s3-${args.size}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const s3 = await startS3Server();
  const servers: RunningServer[] = [];
  const start = async (name: string, storage: Record<string, unknown>) => {
    const config = parseConfig(
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, limits: { max_running_jobs: 1 } },
        manager: { name: 'memory', connection: path.join(work, name, 'jobs') },
        storage: { path: path.join(work, name, 'store'), ...storage },
        pool: { threads: args.threads },
        processes: { 'raster-to-pyramid': 'raster-to-pyramid', 'pyramids-to-pyramid': 'pyramids-to-pyramid' },
        security: { input_roots: [rasters], allowed_hosts: [], allow_internal: false },
        logging: { enabled: false },
      }),
      {},
      'bench:s3',
    );
    const server = await startServer(config);
    servers.push(server);
    return server;
  };
  try {
    const file = await start('file', { type: 'file' });
    const onS3 = await start('s3', s3StorageSection(s3, 'bench'));
    const z = NATIVE_ZOOM[args.size];
    const { width, height } = SYNTHETIC_SIZES[args.size];
    console.log(
      `=== ${args.size}: ${width}×${height} px, zoom 0–${z}, jpg90, ${args.slab}×${args.slab}-tile slabs, ${args.threads} threads`,
    );
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
    const warm = { ...options, bottom: String(z - 4), images: [href(files.north)] };
    await timed(file, 'warm-up FILE (not counted)', 'raster-to-pyramid', { ...warm, name: 'WARMUP' });
    await timed(onS3, 'warm-up S3 (not counted)', 'raster-to-pyramid', { ...warm, name: 'WARMUP' });
    const fullFile = await timed(file, 'full pyramid on FILE', 'raster-to-pyramid', {
      ...options,
      images: [href(files.full)],
      name: 'FULL',
    });
    const fullS3 = await timed(onS3, 'full pyramid on S3', 'raster-to-pyramid', { ...options, images: [href(files.full)], name: 'FULL' });
    const north = await timed(onS3, 'north pyramid on S3 (input)', 'raster-to-pyramid', {
      ...options,
      images: [href(files.north)],
      name: 'NORTH',
    });
    const south = await timed(onS3, 'south pyramid on S3 (input)', 'raster-to-pyramid', {
      ...options,
      images: [href(files.south)],
      name: 'SOUTH',
    });
    const merge = await timed(onS3, 'merge [north, south] on S3', 'pyramids-to-pyramid', {
      stored_data: [north.record._id, south.record._id],
      name: 'MERGED',
    });
    const tilesFile = await tileReads(file, 'full_file', fullFile.record, args.tiles);
    const tilesS3 = await tileReads(onS3, 'full_s3', fullS3.record, args.tiles);

    const rS3 = fullS3.wallS / fullFile.wallS;
    const rMerge = merge.wallS / fullS3.wallS;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    console.log('\n| run | wall s | ratio |');
    console.log('|---|---:|---:|');
    console.log(`| full pyramid, FILE | ${fullFile.wallS.toFixed(1)} | 1.00 |`);
    console.log(`| full pyramid, S3 | ${fullS3.wallS.toFixed(1)} | ${rS3.toFixed(2)} × FILE |`);
    console.log(`| merge of the halves, S3 | ${merge.wallS.toFixed(1)} | ${rMerge.toFixed(2)} × full on S3 |`);
    console.log(`\n| tile reads (XYZ, bottom level, 8 at a time) | tiles/s |`);
    console.log('|---|---:|');
    console.log(`| FILE | ${tilesFile.toFixed(0)} |`);
    console.log(`| S3 | ${tilesS3.toFixed(0)} |`);
    console.log(`\nGoals (issue 13, size ${args.size}${args.size === 'M' ? '' : ' — the goals are set on M'}):`);
    console.log(`  ${verdict(rS3 <= GOALS.s3VsFile)} S3 pyramid ≤ ${GOALS.s3VsFile} × FILE (${rS3.toFixed(2)})`);
    console.log(
      `  ${verdict(rMerge <= GOALS.merge)} merge on S3 ≤ ${GOALS.merge * 100} % of the full generation on S3 (${(100 * rMerge).toFixed(1)} %)`,
    );
  } finally {
    for (const server of servers) await server.close();
    await s3.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
