import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { skipUnlessRedis } from '../helpers/redis.js';

/**
 * The OGC API – Processes suites against the bullmq manager (issue 14): the same test files, run again
 * with DALLAGE_TEST_MANAGER=bullmq, so that every server they start (test/helpers/server.ts) is a server
 * on a real redis-server with 2 real `dallage worker` processes running the jobs. Tests about the embedded
 * manager's own internals pin `manager: 'lowdb'` and run as they are. Not copies: one suite, two managers.
 */
const SUITES = [
  'dist/test/api/jobs.e2e.test.js', // async jobs, status, progress, dismiss, paging and filters of /jobs
  'dist/test/api/execute-sync.e2e.test.js', // sync execution: raw/document, value/reference
  'dist/test/api/callbacks-hrefs.e2e.test.js', // subscriber callbacks, href inputs
  'dist/test/api/schemas.test.js', // every answer validated against the OGC schemas and our OpenAPI
  'dist/test/processes/echo/echo.test.js',
  'dist/test/api/stored-data.test.js', // pyramids made by workers, listed by the server (records in Redis)
  'dist/test/processes/raster-to-pyramid/golden.test.js', // a worker's pyramid against GDAL, byte level
  'dist/test/uploads/upload-checks.e2e.test.js', // a close's checks run by two workers at once, one upload record
  'dist/test/uploads/upload-pyramid.e2e.test.js', // a worker reads a delivery, read-locked in Redis
  'dist/test/processes/tiling.test.js', // catalogs filled by workers, items served by the server (shared SQLite)
  'dist/test/api/features.e2e.test.js', // OGC API – Features over a catalog a worker filled
];

test('the OGC suites pass against a server + 2 worker processes on Redis (DALLAGE_TEST_MANAGER=bullmq)', {
  skip: skipUnlessRedis(),
}, async (t) => {
  // A test run of its own: without NODE_TEST_CONTEXT, which would make it a silent no-op (node:test's recursion guard).
  const env: NodeJS.ProcessEnv = { ...process.env, DALLAGE_TEST_MANAGER: 'bullmq' };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...SUITES], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const summary = out.split('\n').filter((l) => /^ℹ (tests|pass|fail|skipped)/.test(l));
  for (const line of summary) t.diagnostic(line);
  assert.equal(code, 0, `the suites failed with the bullmq manager:\n${out.slice(-20_000)}`);
  assert.match(out, /ℹ fail 0/);
});
