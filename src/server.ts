import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createRuntime, type Runtime } from './runtime.js';
import { relaunchWithAllocatorSettings } from './allocator.js';

export interface RunningServer {
  url: string;
  port: number;
  runtime: Runtime;
  http: Server;
  close(): Promise<void>;
}

/** Builds the runtime and listens (port 0 = any free port, as the e2e tests use). */
export async function startServer(config: Config): Promise<RunningServer> {
  let url = '';
  const runtime = await createRuntime(config, { baseUrl: () => config.server.url || url });
  const http = await new Promise<Server>((resolve, reject) => {
    const s = createServer(createApp(runtime)).listen(config.server.port, config.server.host, () => resolve(s));
    s.once('error', reject);
  });
  http.keepAliveTimeout = 65_000;
  const port = (http.address() as AddressInfo).port;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
  url = `http://${host}:${port}`;
  return {
    url,
    port,
    runtime,
    http,
    async close() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      await runtime.close();
    },
  };
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
  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (err) {
    process.stderr.write(`dallage: cannot start: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  server.runtime.log.info('listening', { url: server.url, processes: server.runtime.registry.all().map((p) => p.description.id) });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.runtime.log.info('shutting down', { signal });
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!relaunchWithAllocatorSettings()) void main();
}
