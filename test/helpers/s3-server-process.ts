/**
 * The child process of {@link startS3Server} (test/helpers/s3-server.ts): a real S3-compatible server
 * (npm s3rver) on 127.0.0.1 only. Arguments: data directory, port (0 = any free one). Prints
 * `{"port": N}` on its first stdout line once it listens; stops when killed.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// s3rver ships no type declarations; only its constructor and run() are used.
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<{ port: number }> };

const [directory, port] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port ?? 0), silent: true, directory });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
