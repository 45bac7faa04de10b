import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { lockFolders } from './folder-lock.js';
import { createRuntime, type Runtime } from './runtime.js';
import { relaunchWithAllocatorSettings } from './allocator.js';

export interface RunningServer {
  url: string;
  port: number;
  runtime: Runtime;
  http: Server;
  /** Stops accepting, stops the jobs (failed, partial output removed), writes the stores, frees the port and the locks. */
  close(): Promise<void>;
}

/**
 * The folders a server writes and therefore locks: its job store (lowdb) and the folder of each of its storages
 * (the default one first; named storages, issue 13). None with the
 * bullmq manager (issue 14): there, servers and workers share the storage by design and the stores are in Redis.
 */
export function dataFolders(config: Config): string[] {
  if (config.manager.name === 'bullmq') return [];
  const storages = [config.storage.path, ...Object.values(config.storages ?? {}).map((s) => s.path)];
  return [...(config.manager.name === 'lowdb' ? [config.manager.connection] : []), ...new Set(storages)];
}

/** The reason a listen failed, in words an operator acts on (the Node error text names no address). */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (err.code === 'EADDRINUSE') return new Error(`address in use: ${where} (another server listens there; set server.port or PORT)`);
  if (err.code === 'EACCES') return new Error(`permission denied to listen on ${where} (ports below 1024 need privileges)`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`address not available: ${where} (server.host is not an address of this machine)`);
  return new Error(`cannot listen on ${where}: ${err.message}`);
}

/**
 * Starts a server, in this order (issue 9): lock the data folders (a second server on them stops
 * here, having changed nothing) → open the stores → bind the port (an address in use stops here, still
 * having changed nothing) → recover what a killed previous process left → serve. Connections that
 * arrive while recovery runs wait for it. Port 0 = any free port, as the e2e tests use.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  const unlock = lockFolders(dataFolders(config), 'server');
  let url = '';
  let runtime: Runtime | undefined;
  let http: Server | undefined;
  try {
    runtime = await createRuntime(config, { baseUrl: () => config.server.url || url });
    const app = createApp(runtime);
    let open!: () => void;
    const recovered = new Promise<void>((resolve) => (open = resolve));
    http = createServer((req, res) => void recovered.then(() => app(req, res)));
    const bound = http;
    await new Promise<void>((resolve, reject) => {
      bound.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, config.server.host, config.server.port)));
      bound.listen(config.server.port, config.server.host, () => resolve());
    });
    http.keepAliveTimeout = 65_000;
    await runtime.recover();
    open();
  } catch (err) {
    await closeHttp(http);
    await runtime?.close().catch(() => {});
    unlock();
    throw err;
  }
  const rt = runtime;
  const server = http;
  const port = (server.address() as AddressInfo).port;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
  url = `http://${host}:${port}`;
  // A process that exits without close() (a second signal, a timed-out shutdown) leaves no lock behind.
  process.once('exit', unlock);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    runtime: rt,
    http: server,
    close() {
      closing ??= (async () => {
        await closeHttp(server);
        await rt.close();
        process.off('exit', unlock);
        unlock();
      })();
      return closing;
    },
  };
}

/** Stops accepting connections and ends the open ones (a synchronous execution's request is aborted). */
async function closeHttp(http: Server | undefined): Promise<void> {
  if (!http?.listening) return;
  await new Promise<void>((resolve) => {
    http.close(() => resolve());
    http.closeAllConnections();
  });
}

/**
 * Runs a server until SIGTERM/SIGINT: the first stops it gracefully (see {@link RunningServer.close}),
 * bounded by `server.shutdown_timeout` seconds after which the process exits anyway (what did not
 * finish is repaired at the next start); a second signal exits at once.
 */
export async function runServer(config: Config): Promise<RunningServer> {
  const server = await startServer(config);
  const log = server.runtime.log;
  log.info('listening', { url: server.url, processes: server.runtime.registry.all().map((p) => p.description.id) });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (stopping) {
      log.warn('second signal: exiting now', { signal });
      process.exit(code);
    }
    stopping = true;
    const timeout = config.server.shutdown_timeout;
    log.info('shutting down', { signal, timeoutSeconds: timeout });
    setTimeout(() => {
      log.error('shutdown timed out; exiting (unfinished jobs are failed at the next start)', { timeoutSeconds: timeout });
      process.exit(1);
    }, timeout * 1000);
    server.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error('shutdown failed', { error: err instanceof Error ? err.stack : String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return server;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dallage: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  try {
    await runServer(config);
  } catch (err) {
    process.stderr.write(`dallage: cannot start: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!relaunchWithAllocatorSettings()) void main();
}
