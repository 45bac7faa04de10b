/**
 * bench:upload — deliveries (issue 11 "Benchmark"), one run on the same disk and machine:
 *  - upload of M (8,000×16,000 RGB, stored uncompressed: ≈ 384 MB) by PUT (`curl -T`) and by multipart
 *    (`curl -F file=@`) to a real server process, against `cp` of the same file on the same disk
 *    (goals: PUT ≥ 0.7× cp's throughput, multipart ≥ 0.5×), and `dd bs=1M` (the same copy through user
 *    space: cp copies inside the kernel), with the server's peak RSS over its idle RSS;
 *  - the raster check of that upload (the check-raster job: every block decoded) against
 *    `gdalinfo -checksum` of the same file (goal: ≤ 0.5× its time; both read every block).
 * The file is in the page cache for every reader (each run reads it once before).
 *
 * Usage: npm run bench:upload -- [--size S|M|L] [--dir DIR]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYNTHETIC_SIZES, type SyntheticSizeName } from '../test/fixtures/synthetic-raster.js';
import { serverFolder, spawnServer } from '../test/helpers/server-process.js';
import { measure } from './lib/measure.js';
import { syntheticInput } from './lib/inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOALS = { put: 0.7, multipart: 0.5, check: 0.5 };

function parseArgs(argv: string[]): { size: SyntheticSizeName; dir: string } {
  const args = { size: 'M' as SyntheticSizeName, dir: process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size') {
      const s = argv[++i];
      if (!(s in SYNTHETIC_SIZES)) throw new Error(`unknown size ${s} (T S M L)`);
      args.size = s as SyntheticSizeName;
    } else if (a === '--dir') args.dir = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${a}; usage: npm run bench:upload -- [--size M] [--dir DIR]`);
  }
  return args;
}

/** Resident memory of one process now, MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Samples the RSS of `pid` every 50 ms while `work` runs; the peak, MB. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 50);
  try {
    const result = await work();
    return { result, peakMb: Math.max(peak, rssMb(pid)) };
  } finally {
    clearInterval(timer);
  }
}

const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Stored blocks (deflate level 0): the size of the pixels, ≈ 384 MB for M, still one zlib stream per block.
  const input = await syntheticInput(path.join(args.dir, 'rasters'), args.size, { variant: 'stored', deflateLevel: 0 });
  const bytes = statSync(input).size;
  const mb = bytes / 1e6;
  const work = path.join(args.dir, `work-upload-${args.size}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('cat', [input], { stdio: ['ignore', 'ignore', 'ignore'] }); // into the page cache
  console.log(`=== ${args.size}: ${path.basename(input)}, ${fmt(mb, 1)} MB`);

  const cp = await measure('cp', 'cp', [input, path.join(work, 'copy.tif')]);
  const cpRate = mb / cp.wallS;
  console.log(`  cp                        ${fmt(cp.wallS).padStart(7)} s  ${fmt(cpRate, 0).padStart(5)} MB/s`);
  rmSync(path.join(work, 'copy.tif'), { force: true });
  // cp moves the bytes inside the kernel (copy_file_range: no read/write through a process), which no HTTP
  // server can do; dd with 1 MiB read()/write() is the copy through user space that a server's work resembles.
  const dd = await measure('dd', 'dd', [`if=${input}`, `of=${path.join(work, 'dd.tif')}`, 'bs=1M', 'status=none']);
  const ddRate = mb / dd.wallS;
  console.log(`  dd bs=1M (user space)     ${fmt(dd.wallS).padStart(7)} s  ${fmt(ddRate, 0).padStart(5)} MB/s`);
  rmSync(path.join(work, 'dd.tif'), { force: true });

  const folder = await serverFolder(path.join(work, 'server'), { limits: { max_running_jobs: 2 } });
  const server = await spawnServer(folder);
  if (!server.url) throw new Error(`the server did not start:\n${server.output()}`);
  try {
    const api = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${server.url}${p}`, {
        method,
        ...(body ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const upload = await api('POST', '/uploads', { name: 'bench', type: 'RASTER', srs: 'EPSG:2154' });
    const id = upload._id as string;
    const idle = rssMb(server.pid);
    const rows: Array<{ label: string; wallS: number; rate: number; peakMb: number; goal: number }> = [];
    for (const [label, argv, goal] of [
      ['PUT (curl -T)', ['-sS', '-f', '-T', input, `${server.url}/uploads/${id}/data?path=put.tif`], GOALS.put],
      [
        'multipart (curl -F)',
        ['-sS', '-f', '-F', `file=@${input}`, `${server.url}/uploads/${id}/data?path=multipart.tif`],
        GOALS.multipart,
      ],
    ] as const) {
      const { result, peakMb } = await peakRss(server.pid, () => measure(label, 'curl', [...argv]));
      if (result.code !== 0) throw new Error(`${label} failed: ${result.stderr}`);
      rows.push({ label, wallS: result.wallS, rate: mb / result.wallS, peakMb, goal });
    }
    for (const r of rows)
      console.log(
        `  ${r.label.padEnd(25)} ${fmt(r.wallS).padStart(7)} s  ${fmt(r.rate, 0).padStart(5)} MB/s  ${fmt(r.rate / cpRate)}× cp (goal ≥ ${r.goal}), ${fmt(r.rate / ddRate)}× dd  server RSS peak ${fmt(r.peakMb, 0)} MB (idle ${fmt(idle, 0)}, +${fmt(r.peakMb - idle, 0)})`,
      );

    // One image for the check: the multipart copy goes.
    execFileSync('curl', ['-sS', '-f', '-X', 'DELETE', `${server.url}/uploads/${id}/data?path=multipart.tif`]);
    await api('POST', `/uploads/${id}/close`);
    let u: Record<string, unknown>;
    for (;;) {
      u = await api('GET', `/uploads/${id}`);
      if (u.status !== 'CHECKING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const checks = u.checks as Array<{ check: { _id: string }; _id: string; status: string }>;
    const raster = checks.find((c) => c.check._id === 'check-raster')!;
    const job = await api('GET', `/jobs/${raster._id}`);
    const checkS = (Date.parse(job.finished as string) - Date.parse(job.started as string)) / 1000;
    const gdal = await measure('gdalinfo -checksum', 'gdalinfo', ['-checksum', input], { env: { ...process.env, GDAL_CACHEMAX: '512' } });
    if (gdal.code !== 0) throw new Error(`gdalinfo failed: ${gdal.stderr}`);
    console.log(`  raster check (job)        ${fmt(checkS).padStart(7)} s  upload ${u.status}`);
    console.log(
      `  gdalinfo -checksum        ${fmt(gdal.wallS).padStart(7)} s  check/gdalinfo ${fmt(checkS / gdal.wallS)} (goal ≤ ${GOALS.check})`,
    );
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
