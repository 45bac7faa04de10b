import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '../../src/config.js';
import { writeFile } from 'node:fs/promises';
import { startServer, type RunningServer } from '../../src/server.js';
import { testStorageSection } from './test-storage.js';
import { startRedis, type TestRedis } from './redis.js';
import { startWorker, type WorkerProcess } from './workers.js';

export interface TestServer extends RunningServer {
  /** Temp folder holding jobs, storage and inputs of this server. */
  dir: string;
  /** The folder `file:` hrefs may be read from. */
  inputRoot: string;
  config: Config;
  /** With the bullmq manager: its redis-server and worker processes. */
  redis?: TestRedis;
  workers?: WorkerProcess[];
  stop(): Promise<void>;
}

/**
 * The manager of test servers that do not name one: `DALLAGE_TEST_MANAGER=bullmq` runs a suite against a
 * server + 2 real `dallage worker` processes on a real redis-server (test/manager/bullmq-suites.test.ts
 * runs the OGC suites so: the same tests, not copies).
 */
export function testManager(): 'lowdb' | 'memory' | 'bullmq' {
  const m = process.env.DALLAGE_TEST_MANAGER;
  return m === 'bullmq' || m === 'memory' ? m : 'lowdb';
}

/**
 * Starts the real server on port 0 with a fresh temp data folder (e2e tests talk HTTP to it).
 * `yaml` is merged over the default test config (extra processes, limits, security).
 */
export async function startTestServer(
  options: {
    yaml?: string;
    processes?: Record<string, unknown>;
    dir?: string;
    limits?: Record<string, unknown>;
    security?: Record<string, unknown>;
    manager?: 'lowdb' | 'memory' | 'bullmq';
    /** bullmq: worker processes (default 2) and the manager's settings. */
    workers?: number;
    /** bullmq: jobs at once per worker (default 2). */
    workerConcurrency?: number;
    /** bullmq: threads of each worker's pool (default 1). */
    workerThreads?: number;
    bullmq?: { attempts?: number; stalled_seconds?: number; split_slabs?: number; split_parts?: number };
    /** bullmq: a redis-server shared with other test servers (kept at stop), instead of one of its own. */
    redis?: TestRedis;
    cors?: Record<string, unknown>;
    /** The storage section (default FILE in the temp folder); `path` defaults to the temp folder's store/. */
    storage?: Record<string, unknown>;
    /** Named storages (issue 13), instead of `storage`; with {@link defaultStorage}. */
    storages?: Record<string, Record<string, unknown>>;
    defaultStorage?: string;
    /** A resolver the server uses instead of real DNS (security tests). */
    resolve?: (hostname: string) => Promise<string[]>;
  } = {},
): Promise<TestServer> {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'dallage-test-')));
  const inputRoot = path.join(dir, 'inputs');
  await mkdir(inputRoot, { recursive: true });
  const managerName = options.manager ?? testManager();
  const redis = managerName === 'bullmq' ? (options.redis ?? (await startRedis())) : undefined;
  const ownRedis = redis && !options.redis ? redis : undefined;
  const manager = redis
    ? { name: 'bullmq', connection: redis.url, prefix: 'test', ...(options.bullmq ?? {}) }
    : { name: managerName, connection: path.join(dir, 'jobs') };
  const raw = JSON.stringify({
    server: {
      host: '127.0.0.1',
      port: 0,
      limits: { max_running_jobs: 2, ...(options.limits ?? {}) },
      ...(options.cors ? { cors: options.cors } : {}),
    },
    manager,
    ...(options.storages
      ? { storages: options.storages, ...(options.defaultStorage ? { default_storage: options.defaultStorage } : {}) }
      : { storage: { type: 'file', path: path.join(dir, 'store'), ...(options.storage ?? (await testStorageSection())) } }),
    pool: { threads: 2 },
    processes: options.processes ?? { echo: 'echo', 'hello-world': 'hello-world' },
    security: { input_roots: [inputRoot], allowed_hosts: [], allow_internal: false, ...(options.security ?? {}) },
    logging: { enabled: !!process.env.DALLAGE_TEST_LOGS },
  });
  const config = parseConfig(raw, {}, 'test config');
  if (options.resolve) config.security.resolve = options.resolve;
  const workers: WorkerProcess[] = [];
  let server: RunningServer | undefined;
  try {
    server = await startServer(config);
    if (redis) {
      // Workers log (JSON lines, kept in WorkerProcess.output()): tests read which jobs each one ran.
      const file = path.join(dir, 'worker-config.yml');
      await writeFile(file, JSON.stringify({ ...JSON.parse(raw), logging: { enabled: true } })); // JSON is YAML
      for (let i = 0; i < (options.workers ?? 2); i++) {
        const tmpDir = path.join(dir, `worker-${i}-tmp`);
        await mkdir(tmpDir, { recursive: true });
        workers.push(
          await startWorker(file, redis.url, 'test', {
            tmpDir,
            ...(options.workerConcurrency ? { concurrency: options.workerConcurrency } : {}),
            ...(options.workerThreads ? { threads: options.workerThreads } : {}),
          }),
        );
      }
    }
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await server?.close();
    await ownRedis?.dispose();
    throw err;
  }
  const running = server;
  return {
    ...running,
    dir,
    inputRoot,
    config,
    ...(redis ? { redis, workers } : {}),
    async stop() {
      await running.close();
      await Promise.all(workers.map((w) => w.stop()));
      await ownRedis?.dispose();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A status, progress and message a job went through (consecutive repeats left out). */
export interface JobStep {
  status: string;
  progress?: number;
  message?: string;
}

/**
 * The one way tests wait for a job: polls `GET /jobs/{id}` until it leaves accepted/running and returns
 * the final status document. `seen`, when given, collects every distinct status/progress/message on the
 * way (tests of progress read it); `onStatus` sees each polled document (tests that act while it runs).
 */
export async function waitForJob(
  baseUrl: string,
  jobId: string,
  options: {
    timeoutMs?: number;
    /** Time between two status requests (default 15 ms: tests wait as little as they can). */
    intervalMs?: number;
    seen?: JobStep[];
    onStatus?: (status: Record<string, unknown>) => void;
  } = {},
): Promise<Record<string, unknown>> {
  const { timeoutMs = 180_000, intervalMs = 15, seen, onStatus } = options;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}/jobs/${jobId}`);
    const body = (await res.json()) as Record<string, unknown>;
    onStatus?.(body);
    if (seen) {
      const step: JobStep = {
        status: body.status as string,
        progress: body.progress as number | undefined,
        message: body.message as string | undefined,
      };
      const last = seen.at(-1);
      if (!last || last.status !== step.status || last.progress !== step.progress || last.message !== step.message) seen.push(step);
    }
    if (body.status !== 'accepted' && body.status !== 'running') return body;
    if (Date.now() > end) throw new Error(`job ${jobId} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Submits an asynchronous execution; asserts 201 and returns the job id. */
export async function submitJob(baseUrl: string, processId: string, inputs: Record<string, unknown>): Promise<string> {
  const res = await execute(baseUrl, processId, { inputs }, { Prefer: 'respond-async' });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`expected 201 for ${processId}, got ${res.status}: ${text}`);
  return (JSON.parse(text) as { jobID: string }).jobID;
}

/** A job run to its end: its id, its final status document and the steps seen on the way. */
export interface JobRun {
  jobID: string;
  final: Record<string, unknown>;
  seen: JobStep[];
}

/** Submits an asynchronous execution and waits for its end (whatever the end). */
export async function submitAndWait(
  baseUrl: string,
  processId: string,
  inputs: Record<string, unknown>,
  timeoutMs?: number,
): Promise<JobRun> {
  const jobID = await submitJob(baseUrl, processId, inputs);
  const seen: JobStep[] = [];
  const final = await waitForJob(baseUrl, jobID, { timeoutMs, seen });
  return { jobID, final, seen };
}

/** POST an execute request; returns the fetch Response. */
export function execute(baseUrl: string, processId: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/processes/${processId}/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Runs `fn` against a fresh test server, stopped afterwards whatever happens. */
export async function withServer(options: Parameters<typeof startTestServer>[0], fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startTestServer(options);
  try {
    await fn(s);
  } finally {
    await s.stop();
  }
}
