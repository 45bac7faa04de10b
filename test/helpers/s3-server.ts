/**
 * A real S3-compatible server for the tests (issue 13): npm s3rver, run in a child process on 127.0.0.1
 * (never another address) on a free port, its objects in a temp folder. A child process and not an
 * in-process server, so that `stop()` is what an S3 outage is for our client (refused and reset
 * connections), and `start()` brings the same server (same port, same objects) back.
 *
 * s3rver knows one account (S3RVER/S3RVER) and refuses other access keys; it does not check V4 signatures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server-process.js');

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** Folder of the server's objects. */
  directory: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Kills the server (an outage: connections refused from now on). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same objects. */
  start(): Promise<void>;
  /** Stops it and removes its objects. */
  close(): Promise<void>;
}

/** s3rver's fixed credentials (it refuses any other signature). */
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

async function spawnServer(directory: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CHILD, directory, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const listening = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${stderr}`)));
    child.once('error', reject);
  });
  // The server does not keep the test process alive: a test process whose tests are done exits (and
  // kills it, see test-storage.ts) even when no test closed it.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  return { child, port: listening };
}

/** Starts a real S3 server on 127.0.0.1 and a free port, with an empty temp folder of objects. */
export async function startS3Server(): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'dallage-s3-'));
  let { child, port } = await spawnServer(directory, 0);
  let running: ChildProcess | undefined = child;
  const stop = async () => {
    const c = running;
    running = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // Held by the event loop again until it has exited (it was unref'd once listening).
    c.ref();
    c.kill('SIGKILL');
    await exited;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    accessKey: ACCESS_KEY,
    secretKey: SECRET_KEY,
    region: 'us-east-1',
    stop,
    async start() {
      if (running) return;
      ({ child, port } = await spawnServer(directory, port));
      running = child;
    },
    async close() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The config.yml storage section for a bucket of a test S3 server (made at start-up unless told otherwise). */
export function s3StorageSection(server: S3TestServer, bucket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 's3',
    endpoint: server.endpoint,
    bucket,
    access_key: server.accessKey,
    secret_key: server.secretKey,
    region: server.region,
    create_bucket: true,
    ...extra,
  };
}
