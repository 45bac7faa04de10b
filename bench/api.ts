/**
 * `npm run bench:api`: the API benchmark of issue 2 ("Benchmark"). Starts the real server (lowdb
 * job store, logging disabled) in a child process so that autocannon and the server do not share a
 * core, measures GET /processes, a synchronous echo, asynchronous submissions, and GET /jobs?limit=10
 * with 100 and with 10,000 jobs stored, then checks the issue's goals (PASS/MISS).
 * BENCH_SECONDS (default 6) sets each run's duration, BENCH_CONNECTIONS (default 16) the concurrency.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// autocannon ships no types; only the members used here are declared.
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<CannonResult>;

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

type ToChild = { type: 'prefill'; total: number } | { type: 'idle' } | { type: 'count' };
type FromChild = { type: 'listening'; url: string } | { type: 'done'; count?: number };

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
/** BENCH_LOGS=1: the server logs each request (to a file), to see what logging costs. */
const LOGS = process.env.BENCH_LOGS === '1';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

/** The pygeoapi figures of issue 2 (gunicorn, 2 workers, this machine), for comparison. */
const PYGEOAPI = { processes: 565, async: 35 };

// ---------------------------------------------------------------- child: the server under test
async function serve(dir: string): Promise<void> {
  const { parseConfig } = await import('../src/config.js');
  const { startServer } = await import('../src/server.js');
  const config = parseConfig(
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0 },
      manager: { name: 'lowdb', connection: path.join(dir, 'jobs') },
      storage: { type: 'file', path: path.join(dir, 'store') },
      processes: { echo: 'echo', 'hello-world': 'hello-world' },
      security: { input_roots: [path.join(dir, 'inputs')] },
      logging: { enabled: LOGS },
    }),
    {},
    'bench config',
  );
  const server = await startServer(config);
  const { store, manager } = server.runtime;
  const send = (m: FromChild) => process.send!(m);
  process.on('message', async (m: ToChild) => {
    if (m.type === 'prefill') {
      // Finished jobs written through the store, as a server that has run that many would hold.
      const missing = m.total - (await store.count());
      const t = Date.now() - missing * 1000;
      for (let i = 0; i < missing; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, missing - i) }, (_, k) => {
            const created = new Date(t + (i + k) * 1000).toISOString();
            return store.create({
              jobID: randomUUID(),
              processID: 'echo',
              type: 'process',
              status: 'successful',
              progress: 100,
              message: 'done',
              created,
              started: created,
              finished: created,
              updated: created,
              request: { outputs: { stringInput: { transmissionMode: 'value' } }, response: 'raw' },
            });
          }),
        );
      }
      send({ type: 'done', count: await store.count() });
    } else if (m.type === 'idle') {
      while (manager.stats().running + manager.stats().queued > 0) await new Promise((r) => setTimeout(r, 50));
      send({ type: 'done' });
    } else if (m.type === 'count') send({ type: 'done', count: await store.count() });
  });
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
  send({ type: 'listening', url: server.url });
}

// ---------------------------------------------------------------- child: a bare Node server
/** The floor we compare with: node:http sending fixed bytes and headers, nothing else. */
function serveBare(): void {
  process.once('message', (m: { headers: Record<string, string>; body: string }) => {
    const body = Buffer.from(m.body, 'base64');
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { ...m.headers, 'Content-Length': body.length });
      res.end(body);
    });
    server.keepAliveTimeout = 65_000;
    server.listen(0, '127.0.0.1', () =>
      process.send!({ type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- parent: the load generator
function ask(child: ChildProcess, m: ToChild): Promise<FromChild> {
  return new Promise((resolve) => {
    child.once('message', (r: FromChild) => resolve(r));
    child.send(m);
  });
}

interface Row {
  name: string;
  result: CannonResult;
}

async function measure(name: string, opts: Record<string, unknown>): Promise<Row> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  const bad = result.non2xx + result.errors + result.timeouts;
  process.stdout.write(
    `${name.padEnd(38)} ${result.requests.average.toFixed(0).padStart(7)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms${bad ? `  (${bad} non-2xx/errors!)` : ''}\n`,
  );
  return { name, result };
}

/** The same bytes and headers as our answer to `url`, from a bare node:http server in its own process. */
async function measureBare(url: string): Promise<Row> {
  const res = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  const body = Buffer.from(await res.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [k, v] of res.headers)
    if (!['content-length', 'connection', 'keep-alive', 'date', 'transfer-encoding'].includes(k)) headers[k] = v;
  const child = fork(fileURLToPath(import.meta.url), ['--bare'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const ready = new Promise<FromChild>((resolve) => child.once('message', resolve));
    child.send({ headers, body: body.toString('base64') });
    const hello = await ready;
    if (hello.type !== 'listening') throw new Error('bare server did not start');
    await measure('warm-up (bare Node server)', { url: hello.url, duration: 2 });
    return await measure('bare Node server, same bytes', { url: hello.url });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-bench-'));
  // With BENCH_LOGS=1 the request log lines go to a file, as a server run by systemd would write them.
  const out = LOGS ? openSync(path.join(dir, 'server.log'), 'w') : 'inherit';
  const child = fork(fileURLToPath(import.meta.url), ['--serve', dir], { stdio: ['ignore', out, 'inherit', 'ipc'] });
  try {
    const hello = await new Promise<FromChild>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    if (hello.type !== 'listening') throw new Error('unexpected first message');
    const url = hello.url;
    process.stdout.write(
      `dallage API benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${SECONDS} s per run, ${CONNECTIONS} connections, lowdb store, logs ${LOGS ? 'on (to a file)' : 'off'}\n\n`,
    );

    const echoBody = JSON.stringify({ inputs: { stringInput: 'teststring' }, outputs: { stringInput: { transmissionMode: 'value' } } });
    const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: echoBody };

    await measure('warm-up (GET /processes)', { url: `${url}/processes`, duration: 2 });
    const processes = await measure('GET /processes', { url: `${url}/processes` });
    const bare = await measureBare(`${url}/processes`);
    const ratio = processes.result.requests.average / bare.result.requests.average;
    process.stdout.write(`${''.padEnd(38)} ratio ${ratio.toFixed(2)}x a bare Node server sending the same bytes\n`);
    const sync = await measure('POST echo, synchronous', { url: `${url}/processes/echo/execution`, ...post });

    await ask(child, { type: 'prefill', total: 100 });
    await ask(child, { type: 'idle' });
    const jobs100 = await measure('GET /jobs?limit=10, 100 jobs stored', { url: `${url}/jobs?limit=10` });
    const filled = (await ask(child, { type: 'prefill', total: 10_000 })) as { count: number };
    await ask(child, { type: 'idle' });
    const jobs10k = await measure(`GET /jobs?limit=10, ${filled.count} jobs stored`, { url: `${url}/jobs?limit=10` });
    const asyncRow = await measure(`POST echo, async, ≥ ${filled.count} jobs stored`, {
      url: `${url}/processes/echo/execution`,
      ...post,
      headers: { ...post.headers, prefer: 'respond-async' },
    });
    const after = (await ask(child, { type: 'count' })) as { count: number };
    process.stdout.write(`(jobs stored after the async run: ${after.count}; the async jobs still run in the background)\n\n`);

    const goals: Array<[string, boolean, string]> = [
      [
        'GET /processes ≥ 3,000 req/s',
        processes.result.requests.average >= 3000,
        `${processes.result.requests.average.toFixed(0)} req/s (pygeoapi ~${PYGEOAPI.processes})`,
      ],
      [
        'GET /processes ≥ 0.5x a bare Node server',
        ratio >= 0.5,
        `${ratio.toFixed(2)}x (bare: ${bare.result.requests.average.toFixed(0)} req/s)`,
      ],
      [
        'async submissions ≥ 500/s with 10,000 jobs stored',
        asyncRow.result.requests.average >= 500 && asyncRow.result.non2xx === 0,
        `${asyncRow.result.requests.average.toFixed(0)}/s (pygeoapi ~${PYGEOAPI.async})`,
      ],
      [
        'GET /jobs p50 at 10k within 1.5x of at 100',
        jobs10k.result.latency.p50 <= 1.5 * jobs100.result.latency.p50 || jobs10k.result.latency.p50 <= jobs100.result.latency.p50 + 1,
        `${jobs10k.result.latency.p50} ms vs ${jobs100.result.latency.p50} ms`,
      ],
    ];
    for (const [goal, ok, detail] of goals) process.stdout.write(`${ok ? 'PASS' : 'MISS'}  ${goal}: ${detail}\n`);
    process.stdout.write(`      sync echo: ${sync.result.requests.average.toFixed(0)} req/s\n`);
    const bad = [processes, sync, jobs100, jobs10k, asyncRow].filter((r) => r.result.non2xx + r.result.errors > 0);
    if (bad.length) process.stdout.write(`WARNING: non-2xx answers or errors in: ${bad.map((r) => r.name).join(', ')}\n`);
    process.exitCode = goals.every((g) => g[1]) && !bad.length ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') void serve(process.argv[3]);
else if (process.argv[2] === '--bare') serveBare();
else void main();
