/**
 * A split execution's parent must not wait forever for a part that has ended: its ends come through
 * BullMQ QueueEvents, and the parent also looks the parts up in Redis (bullmq-parts.ts, PART_CHECK_MS).
 * Here the parent's QueueEvents are closed before the parts run, so no end event ever reaches it: it still
 * gets every part's result (and a failed part's reason) from the jobs in Redis. Real redis-server, real
 * BullMQ worker side (PartWorker) with a real thread pool. A part gone from Redis fails its run, naming it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { silentLogger } from '../../src/log.js';
import { BullmqParts, PartWorker } from '../../src/manager/bullmq-parts.js';
import { FileStorage } from '../../src/storage/file.js';
import { PiscinaPool } from '../../src/workers/pool.js';
import { skipUnlessRedis, startRedis } from '../helpers/redis.js';

const skip = skipUnlessRedis();
const MODULE = 'test/manager/part-fixture.js';

test('parts that ended are settled from Redis when their QueueEvents never come', { skip, timeout: 90_000 }, async () => {
  const redis = await startRedis();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'dallage-parts-'));
  const settings = { connection: redis.url, prefix: 'parts-ended', attempts: 1, stalled_seconds: 5, split_slabs: 1, split_parts: 2 };
  const parts = new BullmqParts(settings, silentLogger);
  const pool = new PiscinaPool({ threads: 1 });
  const worker = new PartWorker(settings, { storage: new FileStorage(tmp), pool, log: silentLogger, name: 'w1', concurrency: 2 });
  try {
    await parts.open();
    // The parent hears nothing from now on.
    await (parts as unknown as { events: { close(): Promise<void> } }).events.close();
    await worker.start();
    const signal = new AbortController().signal;
    const results = await parts.run<number>(
      'parent-ok',
      [2, 5].map((n) => ({ module: MODULE, fn: 'double', args: { n }, weight: 1 })),
      { signal, progress: () => {} },
    );
    assert.deepEqual(results, [4, 10]);
    await assert.rejects(
      parts.run('parent-bad', [{ module: MODULE, fn: 'missing', args: {}, weight: 1 }], { signal, progress: () => {} }),
      /has no function 'missing'/,
    );
  } finally {
    await worker.close();
    await parts.close();
    await pool.destroy();
    await redis.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
});

test('a part gone from Redis fails its run, naming the part, instead of being waited for', { skip, timeout: 90_000 }, async () => {
  const redis = await startRedis();
  const settings = { connection: redis.url, prefix: 'parts-gone', attempts: 1, stalled_seconds: 5, split_slabs: 1, split_parts: 1 };
  const parts = new BullmqParts(settings, silentLogger);
  // No worker takes parts: the part waits in the queue until it is removed behind the parent's back.
  const queue = new Queue('parts', { connection: { url: redis.url }, prefix: settings.prefix });
  try {
    await parts.open();
    const running = parts.run('parent-gone', [{ module: MODULE, fn: 'double', args: { n: 1 }, weight: 1 }], {
      signal: new AbortController().signal,
      progress: () => {},
    });
    running.catch(() => {});
    let id: string | undefined;
    while (!id) {
      id = (await queue.getJobs(['waiting'])).find((j) => j?.data.parent === 'parent-gone')?.id;
      await new Promise((r) => setTimeout(r, 20));
    }
    await queue.remove(id);
    await assert.rejects(running, new RegExp(`part ${id} is no longer in the queue`));
  } finally {
    await queue.close();
    await parts.close();
    await redis.dispose();
  }
});
