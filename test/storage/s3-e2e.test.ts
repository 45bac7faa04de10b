/**
 * The pyramid, update, merge and upload end-to-end tests on S3 storage (issue 13 "Proof"): the same test files as
 * on FILE, run again in a child test process with DALLAGE_TEST_STORAGE=s3 (test/helpers/test-storage.ts),
 * so that each of their servers keeps its products in a bucket of a real S3 server on 127.0.0.1. Nothing
 * is copied: a test added to these files runs on both storages.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const TESTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The e2e test files that write, update, merge, clean up and read pyramids, show a catalog as a layer, and
 * check and process deliveries (uploads kept on the storage, read by ranges on S3).
 */
export const STORAGE_PARAMETRIZED_TESTS = [
  'processes/raster-to-pyramid/golden.test.js',
  'processes/raster-to-pyramid/chained.test.js',
  'processes/raster-to-pyramid/chain-of-updates.test.js',
  'processes/raster-to-pyramid/failures.test.js',
  'processes/pyramids-to-pyramid/merge.test.js',
  'pyramid/cleanup.test.js',
  'services/catalog-layer.test.js',
  'uploads/upload-checks.e2e.test.js',
  'uploads/upload-pyramid.e2e.test.js',
  'uploads/upload-jp2.e2e.test.js',
];

test('the pyramid, update and merge e2e tests pass on S3 storage', { timeout: 40 * 60_000 }, async () => {
  const files = STORAGE_PARAMETRIZED_TESTS.map((f) => path.join(TESTS, f));
  const child = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', ...files], {
    // A test process of its own, not a subtest process of this run (node --test marks those with NODE_TEST_CONTEXT).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), DALLAGE_TEST_STORAGE: 's3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stderr.on('data', (d) => {
    out += String(d);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? -1);
  // Each failure with its YAML block (the error and where), which the tail of the output may not hold.
  const lines = out.split('\n');
  const failures: string[] = [];
  lines.forEach((l, i) => {
    if (!/^\s*not ok /.test(l)) return;
    const end = lines.findIndex((m, j) => j > i && /^\s*\.\.\.$/.test(m));
    failures.push(lines.slice(i, end < 0 ? i + 40 : Math.min(end + 1, i + 80)).join('\n'));
  });
  assert.equal(code, 0, `the tests failed on S3:\n${failures.join('\n')}\n${out.slice(-3000)}`);
  assert.equal(count('fail'), 0);
  assert.ok(count('pass') >= STORAGE_PARAMETRIZED_TESTS.length, `tests passed on S3: ${count('pass')}`);
});
