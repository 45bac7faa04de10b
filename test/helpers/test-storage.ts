/**
 * The storage the e2e tests run on (issue 13: the pyramid, update and merge tests run on FILE and on S3,
 * the same tests): `DALLAGE_TEST_STORAGE=s3` makes every test server that does not choose its storage
 * keep its products in a fresh bucket of one real S3 server (s3rver on 127.0.0.1, started once per test
 * process, killed when the process exits). Unset or `file`: the FILE storage of the test's temp folder.
 * test/storage/s3-e2e.test.ts runs the pyramid/update/merge test files again with it set.
 */
import { randomBytes } from 'node:crypto';
import { startS3Server, s3StorageSection, type S3TestServer } from './s3-server.js';

export type TestStorageKind = 'FILE' | 'S3';

/** The storage kind of this test process. */
export const testStorageKind: TestStorageKind = (process.env.DALLAGE_TEST_STORAGE ?? 'file').toLowerCase() === 's3' ? 'S3' : 'FILE';

let shared: Promise<S3TestServer> | undefined;

/** The S3 server of this test process (started on first use). */
export function testS3Server(): Promise<S3TestServer> {
  shared ??= startS3Server().then((server) => {
    process.once('exit', () => void server.stop());
    return server;
  });
  return shared;
}

/** The storage section a test server gets by default: {} (FILE) or a new bucket of the shared S3 server. */
export async function testStorageSection(): Promise<Record<string, unknown>> {
  if (testStorageKind === 'FILE') return {};
  return s3StorageSection(await testS3Server(), `t-${randomBytes(6).toString('hex')}`);
}
