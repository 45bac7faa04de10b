import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { skipUnlessCommands } from './env.js';

/** A redis-server of a test: its URL, and how to stop it (its folder removed). */
export interface TestRedis {
  url: string;
  port: number;
  /** Kills it (SIGKILL when `hard`), waits for its exit; `restart` brings it back on the same port and folder. */
  stop(options?: { hard?: boolean }): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** For `test(name, { skip: skipUnlessRedis() }, …)`: skip outside CI when redis-server is missing, fail under CI. */
export function skipUnlessRedis(): string | false {
  return skipUnlessCommands('redis-server');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Starts a real redis-server (Debian package) on a free 127.0.0.1 port, its data (AOF, as the
 * documented deployment has it) in a temp folder. Nothing else of the machine is touched.
 */
export async function startRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      port ||= await freePort();
      const c = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--protected-mode', 'yes'],
        { stdio: 'ignore' },
      );
      let exited = false;
      c.once('exit', () => (exited = true));
      for (let i = 0; i < 200 && !exited; i++) {
        if (await reachable(port)) {
          child = c;
          return;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      c.kill('SIGKILL');
      port = 0; // taken meanwhile by someone else: another port
    }
    throw new Error('redis-server did not start');
  };
  const stop = async (options: { hard?: boolean } = {}) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(options.hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  await launch();
  return {
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop({ hard: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
