import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Datastore } from '../../src/records/stored-data.js';
import { MemoryRecordStore } from '../../src/records/stores/memory.js';
import { ApiError } from '../../src/errors.js';
import { reservePyramid, writePyramid } from '../../src/pyramid/life-cycle.js';
import { fileLevelStorage, type PyramidDescriptor } from '../../src/rok4/descriptor.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { FileStorage } from '../../src/storage/file.js';

async function withStore(
  fn: (ctx: { storage: FileStorage; datastore: Datastore; jobId: string; signal: AbortSignal }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pyramid-life-'));
  try {
    const datastore = new Datastore(new MemoryRecordStore());
    await fn({ storage: new FileStorage(dir), datastore, jobId: 'job-1', signal: new AbortController().signal });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const skeleton = (name: string): PyramidDescriptor =>
  ({
    tile_matrix_set: 'PM',
    format: 'TIFF_RAW_UINT8',
    raster_specifications: { channels: 1, nodata: '0', photometric: 'gray', interpolation: 'nn' },
    levels: [
      {
        id: '1',
        tiles_per_width: 2,
        tiles_per_height: 2,
        tile_limits: { min_col: 0, max_col: 1, min_row: 0, max_row: 1 },
        storage: fileLevelStorage(name, '1'),
      },
    ],
  }) as PyramidDescriptor;

test('a reservation holds the name against a second one and the inputs against deletion, until released', async () => {
  await withStore(async (ctx) => {
    const input = await ctx.datastore.create({ name: 'IN', type: 'ROK4-PYRAMID-RASTER', status: 'READY' });
    const r = await reservePyramid(ctx, 'OUT', [input._id]);
    await assert.rejects(
      reservePyramid(ctx, 'OUT', []),
      (err) => err instanceof ApiError && err.status === 400 && /'name'/.test(err.detail),
    );
    await assert.rejects(reservePyramid(ctx, 'IN', []), /already exists/);
    assert.match((await ctx.datastore.deletionBlocker(input._id)) ?? '', /submitted job/);
    r.release();
    r.release();
    assert.equal(await ctx.datastore.deletionBlocker(input._id), undefined);
    (await reservePyramid(ctx, 'OUT', [])).release();
  });
});

test('a committed pyramid in the storage that no record knows (the command line wrote it there) is refused, never removed', async () => {
  await withStore(async (ctx) => {
    await ctx.storage.write('pyramids/CLI/CLI.json', '{}');
    await ctx.storage.write('pyramids/CLI/CLI/DATA/1/00/00/00.tif', 'slab');
    await assert.rejects(reservePyramid(ctx, 'CLI', []), /already in the storage/);
    // The name is free again after the refusal (the reservation was released).
    assert.ok(await ctx.datastore.reserveName('CLI'));
    const left: string[] = [];
    for await (const k of ctx.storage.list('pyramids/CLI')) left.push(k);
    assert.deepEqual(left.sort(), ['pyramids/CLI/CLI.json', 'pyramids/CLI/CLI/DATA/1/00/00/00.tif']);
  });
});

test('writePyramid: READY after the commit; a failing run removes its own folder only and ends FAILED', async () => {
  await withStore(async (ctx) => {
    const ok = await writePyramid(ctx, await reservePyramid(ctx, 'SAME', []), 'failed', async (location) => {
      const writer = new Rok4PyramidWriter(ctx.storage, location.name, skeleton(location.name), { folder: location.folder });
      await writer.writeSlab('1', 0, 0, 'DATA', new Uint8Array(16));
      return { writer, ready: { size: 16, use: [], type_infos: {} } };
    });
    assert.equal(ok.status, 'READY');
    assert.equal(ok.storage.key, 'pyramids/SAME/SAME.json');
    assert.ok(await ctx.storage.exists('pyramids/SAME/SAME.json'));

    await assert.rejects(
      writePyramid(ctx, await reservePyramid(ctx, 'SAME.json', []), 'pyramid generation failed', async (location) => {
        const writer = new Rok4PyramidWriter(ctx.storage, location.name, skeleton(location.name), { folder: location.folder });
        await writer.writeSlab('1', 0, 0, 'DATA', new Uint8Array(16));
        throw new Error('disk on fire');
      }),
      /^Error: pyramid generation failed: disk on fire$/,
    );
    assert.equal((await ctx.datastore.findByName('SAME.json'))?.status, 'FAILED');
    const left: string[] = [];
    for await (const k of ctx.storage.list('')) left.push(k);
    assert.deepEqual(left.sort(), ['pyramids/SAME/SAME.json', 'pyramids/SAME/SAME.list', 'pyramids/SAME/SAME/DATA/1/00/00/00.tif']);
  });
});
