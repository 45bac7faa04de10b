/**
 * HTTP load for the serving benchmarks (bench:tiles): N connections asking random paths for a while, with
 * the answers counted, their latency percentiles and the load generator's own CPU.
 *
 * Two clients. wrk (C, Debian's `wrk`) is the default: the servers measured share this machine's two cores
 * with the client, so a client's own cost is taken from them. autocannon (JavaScript: its HTTP parser is
 * http-parser-js) used about 22 µs of CPU per KiB received here (2026-12-06: 5.5 ms per 240 KiB map, a third
 * of what our server spends drawing that map; 0.14 ms per 7 KiB tile), and it charges that to the server
 * with the larger answers. wrk's CPU per request is printed beside each run so that this stays visible.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** What a run measured: answers per second count 2xx only (an error page sent fast is not a tile). */
export interface LoadResult {
  /** 2xx answers per second. */
  rate: number;
  ok: number;
  /** Non-2xx answers, socket errors and timeouts. */
  bad: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU the load generator itself used per answer, ms (NaN when unknown). */
  clientCpuMs: number;
  /** Mean bytes received per answer, headers included. */
  bytesPerAnswer: number;
}

export type LoadClient = 'wrk' | 'autocannon';

/** Whether Debian's wrk is on this machine. */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version prints its usage and exits 1: it is there.
    return (err as { status?: number }).status === 1;
  }
}

/**
 * `connections` connections asking random paths of `paths` against `url` for `seconds`. `scratch` is a
 * folder for wrk's script and path list.
 */
export async function load(
  client: LoadClient,
  opts: { url: string; paths: readonly string[]; seconds: number; connections: number; scratch: string },
): Promise<LoadResult> {
  return client === 'wrk' ? wrkLoad(opts) : autocannonLoad(opts);
}

/** A wrk script drawing a random path from the list file named by the PATHS environment variable. */
const WRK_SCRIPT = `local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
`;

async function wrkLoad(opts: {
  url: string;
  paths: readonly string[];
  seconds: number;
  connections: number;
  scratch: string;
}): Promise<LoadResult> {
  const script = path.join(opts.scratch, 'random-paths.lua');
  const list = path.join(opts.scratch, `paths-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(script, WRK_SCRIPT);
  writeFileSync(list, `${opts.paths.join('\n')}\n`);
  // One thread: it keeps all connections busy with epoll and leaves the cores to the servers.
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '10s', '--latency', '-s', script, opts.url];
  const child = spawn('wrk', args, { env: { ...process.env, PATHS: list }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  // Its CPU, sampled from /proc until it exits (the last sample misses at most 100 ms of its work).
  let cpu = 0;
  const sample = () => {
    try {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone
    }
  };
  const sampler = setInterval(sample, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${out}`);
  const done = out.match(/(\d+) requests in ([\d.]+)(ms|s|m)/);
  if (!done) throw new Error(`wrk printed no request count: ${out}`);
  const total = Number(done[1]);
  const seconds = Number(done[2]) * (done[3] === 'm' ? 60 : done[3] === 'ms' ? 0.001 : 1);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const read = out.match(/([\d.]+)([KMG]?B) read/);
  const bytes = read ? Number(read[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[read[2] as 'B'] : Number.NaN;
  const ok = total - non2xx;
  return {
    rate: ok / seconds,
    ok,
    bad: non2xx + errors,
    p50Ms: percentileMs(out, '50'),
    p99Ms: percentileMs(out, '99'),
    clientCpuMs: total ? (1000 * cpu) / total : Number.NaN,
    bytesPerAnswer: bytes / total,
  };
}

/** A latency percentile of wrk's `--latency` table, in ms. */
function percentileMs(out: string, p: string): number {
  const m = out.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm'));
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

interface CannonResult {
  '2xx': number;
  duration: number;
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  requests: { total: number };
  throughput: { total: number };
}

async function autocannonLoad(opts: { url: string; paths: readonly string[]; seconds: number; connections: number }): Promise<LoadResult> {
  // autocannon ships no types; only the members used here are declared. It runs in this process: its CPU
  // is this process's during the run.
  const autocannon = require('autocannon') as (o: Record<string, unknown>) => Promise<CannonResult>;
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      { setupRequest: (req: Record<string, unknown>) => ({ ...req, path: opts.paths[Math.floor(Math.random() * opts.paths.length)] }) },
    ],
  });
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: r['2xx'] / r.duration,
    ok: r['2xx'],
    bad: r.non2xx + r.errors + r.timeouts,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    clientCpuMs: r.requests.total ? (cpu.user + cpu.system) / 1000 / r.requests.total : Number.NaN,
    bytesPerAnswer: r.throughput.total / r.requests.total,
  };
}
