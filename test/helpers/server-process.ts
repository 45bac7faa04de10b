/**
 * A real server process (`node dist/src/server.js`) on a data folder of the test's choosing, for the
 * tests of the server's own life: lock, signals, crashes. Its TMPDIR is a folder of its own under
 * the data folder, so that the temp folders it leaves can be counted without looking at other users'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const SERVER_JS = path.resolve('dist/src/server.js');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Base URL, once it listens (undefined when it exited first). */
  url?: string;
  /** Its stderr and stdout (log lines) so far. */
  output(): string;
  /** Resolves when it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a line of its output matches. */
  waitFor(pattern: RegExp): Promise<void>;
}

export interface ServerFolder {
  dir: string;
  config: string;
  tmp: string;
  inputs: string;
}

/** Writes `<dir>/config.yml` for a server on `dir` (jobs, store, inputs, tmp below it). */
export async function serverFolder(
  dir: string,
  options: { port?: number; processes?: Record<string, unknown>; limits?: Record<string, unknown>; shutdownTimeout?: number } = {},
): Promise<ServerFolder> {
  const inputs = path.join(dir, 'inputs');
  const tmp = path.join(dir, 'tmp');
  await mkdir(inputs, { recursive: true });
  await mkdir(tmp, { recursive: true });
  const config = {
    server: {
      host: '127.0.0.1',
      port: options.port ?? 0,
      shutdown_timeout: options.shutdownTimeout ?? 10,
      limits: { max_running_jobs: 2, ...(options.limits ?? {}) },
    },
    manager: { name: 'lowdb', connection: path.join(dir, 'jobs') },
    storage: { type: 'file', path: path.join(dir, 'store') },
    pool: { threads: 1 },
    processes: options.processes ?? { echo: 'echo' },
    security: { input_roots: [inputs], allowed_hosts: [], allow_internal: false },
    logging: { enabled: true },
  };
  const file = path.join(dir, 'config.yml');
  await writeFile(file, JSON.stringify(config)); // JSON is YAML
  return { dir, config: file, tmp, inputs };
}

/**
 * Starts `node dist/src/server.js` on the folder; resolves once it listens or exits. `relaunch` keeps
 * the allocator relaunch (src/allocator.ts): the pid is then the parent's.
 */
export async function spawnServer(folder: ServerFolder, options: { relaunch?: boolean } = {}): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, DALLAGE_CONFIG: folder.config, TMPDIR: folder.tmp };
  if (!options.relaunch) env.DALLAGE_NO_RELAUNCH = '1';
  const child = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(text)) return resolve();
      waiters.push({ pattern, resolve });
      void exited.then(() => {
        if (!pattern.test(text)) reject(new Error(`server exited before ${pattern}:\n${text}`));
      });
    });
  const server: ServerProcess = { child, pid: child.pid!, output: () => text, exited, waitFor };
  const listening = waitFor(/"msg":"listening"/).then(
    () => true,
    () => false,
  );
  if (await Promise.race([listening, exited.then(() => false)])) {
    server.url = /"url":"([^"]+)"/.exec(text)![1];
  }
  return server;
}

/** POSTs an async execute request; resolves to the status and the job id of a 201. */
export async function submitAsync(
  url: string,
  processId: string,
  inputs: Record<string, unknown>,
): Promise<{ status: number; jobID?: string }> {
  const res = await fetch(`${url}/processes/${processId}/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ inputs }),
  });
  const body = (await res.json().catch(() => ({}))) as { jobID?: string };
  return { status: res.status, jobID: res.status === 201 ? body.jobID : undefined };
}

/** GET /jobs/{id} as JSON. */
export async function jobStatus(url: string, id: string): Promise<{ status: string; message?: string; progress?: number }> {
  return (await (await fetch(`${url}/jobs/${id}`)).json()) as { status: string; message?: string; progress?: number };
}

/** Polls until `check` is true (no time assertion: the test's own timeout bounds it). */
export async function until(check: () => Promise<boolean> | boolean, everyMs = 50): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, everyMs));
}
