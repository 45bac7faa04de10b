/**
 * The child process of {@link startS3Server} (test/helpers/s3-server.ts): a real S3-compatible server
 * (npm s3rver) on 127.0.0.1 only. Arguments: data directory, port (0 = any free one). Prints
 * `{"port": N}` on its first stdout line once it listens; stops when killed.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
// s3rver ships no type declarations; only its constructor and run() are used.
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<{ port: number }> };

const [directory, port] = process.argv.slice(2);

/**
 * s3rver writes an object's bytes, then its metadata file; killed between the two, or in the middle of the
 * second (what `stop()` does, an outage), it leaves a metadata file that does not parse, and from then on
 * every LIST over it answers InternalError (seen once in CI, 2026-12-06: the S3 outage test of
 * copy-stored-data). A real S3 shows nothing of an interrupted PUT: such leftovers are removed at start.
 */
function removeInterruptedPuts(dir: string): void {
  const SUFFIX = '._S3rver_metadata.json';
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) removeInterruptedPuts(file);
    else if (entry.name.endsWith(SUFFIX)) {
      try {
        JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        rmSync(file, { force: true });
        rmSync(`${file.slice(0, -SUFFIX.length)}._S3rver_object`, { force: true });
        rmSync(`${file.slice(0, -SUFFIX.length)}._S3rver_object.md5`, { force: true });
      }
    }
  }
}
try {
  removeInterruptedPuts(directory);
} catch {
  // A first start: the folder may not exist yet.
}
const server = new S3rver({ address: '127.0.0.1', port: Number(port ?? 0), silent: true, directory });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
