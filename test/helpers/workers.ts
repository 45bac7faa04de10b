import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';

export const DALLAGE_BIN = path.resolve('bin/dallage.js');

/** A real `dallage worker` process of a test. */
export interface WorkerProcess {
  child: ChildProcess;
  /** The pid of the process that runs the jobs (bin/dallage.js may relaunch itself: its child). */
  pid: number;
  /** Its name in job records and heartbeats (`host:pid`). */
  name: string;
  /** Its TMPDIR (execution temp folders), when given. */
  tmpDir?: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful) or SIGKILL, and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `dallage worker --config <file>` (the bullmq manager's worker) and waits for its heartbeat in Redis. */
export async function startWorker(
  configFile: string,
  redisUrl: string,
  prefix: string,
  options: { concurrency?: number; threads?: number; tmpDir?: string } = {},
): Promise<WorkerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(options.tmpDir ? { TMPDIR: options.tmpDir } : {}) };
  delete env.DALLAGE_REDIS_URL;
  const child = spawn(
    process.execPath,
    [
      DALLAGE_BIN,
      'worker',
      '--config',
      configFile,
      '--concurrency',
      String(options.concurrency ?? 2),
      '--threads',
      String(options.threads ?? 1),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  // bin/dallage.js may relaunch itself (allocator settings): the worker's pid is the one in its heartbeat.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let name = '';
  try {
    for (let i = 0; ; i++) {
      if (gone) throw new Error(`worker exited before it was ready: ${out}`);
      const keys = await redis.keys(`${prefix}:worker:*`);
      const values = keys.length ? await redis.mget(keys) : [];
      const mine = values.find((v) => v && isDescendant(JSON.parse(v) as { name: string }, child.pid!));
      if (mine) {
        name = (JSON.parse(mine) as { name: string }).name;
        break;
      }
      if (i > 2400) throw new Error(`worker not ready after 60 s: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    redis.disconnect();
  }
  return {
    child,
    pid: Number(name.split(':').at(-1)),
    name,
    ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}),
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (gone) return;
      // SIGKILL: both processes by pid (the relaunched child is not in a group we could signal). Another
      // signal goes to bin/dallage.js alone: it forwards it once (a second one would make the worker exit at once).
      if (signal === 'SIGKILL') killTree(child.pid!, signal);
      else child.kill(signal);
      await exited;
    },
  };
}

/** True when the worker named `host:pid` is `pid` itself or its child (bin/dallage.js relaunches once). */
function isDescendant(beat: { name: string }, pid: number): boolean {
  const workerPid = Number(beat.name.split(':').at(-1));
  return workerPid === pid || parentOf(workerPid) === pid;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const child of childrenOf(pid)) killTree(child, signal);
  try {
    process.kill(pid, signal);
  } catch {}
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The parts of a split job that worker processes logged (their JSON lines: `part started`, `part finished`,
 * with the part and its parent job), in log order, with the worker that logged each.
 */
export function partLines(workers: readonly WorkerProcess[], jobId: string, msg: string): Array<{ worker: string; part: string }> {
  const lines: Array<{ worker: string; part: string }> = [];
  for (const { worker, l } of loggedLines(workers))
    if (l.msg === msg && l.parent === jobId && typeof l.part === 'string') lines.push({ worker, part: l.part });
  return lines;
}

/** Every JSON log line of the worker processes, with the name of the worker that wrote it. */
function* loggedLines(workers: readonly WorkerProcess[]): Generator<{ worker: string; l: Record<string, unknown> }> {
  for (const w of workers)
    for (const line of w.output().split('\n'))
      if (line.startsWith('{')) yield { worker: w.name, l: JSON.parse(line) as Record<string, unknown> };
}

/**
 * What the worker processes logged about a job and its parts (time, worker, message, part), with every
 * warning and error they logged: the message of a test that waited too long for a split job, so that a
 * failure in CI tells which part was never retaken or never ended.
 */
export function jobTrace(workers: readonly WorkerProcess[], jobId: string): string {
  const lines: Array<{ time: string; text: string }> = [];
  for (const { worker, l } of loggedLines(workers)) {
    const mine = l.parent === jobId || l.jobId === jobId;
    if (!mine && l.level !== 'warn' && l.level !== 'error') continue;
    const detail = typeof l.error === 'string' ? ` ${l.error.split('\n')[0]}` : '';
    lines.push({ time: String(l.time ?? ''), text: `${worker} ${l.level} ${l.msg}${l.part ? ` ${l.part}` : ''}${detail}` });
  }
  return lines
    .sort((a, b) => a.time.localeCompare(b.time))
    .map((l) => `${l.time.slice(11, 23)} ${l.text}`)
    .join('\n');
}
