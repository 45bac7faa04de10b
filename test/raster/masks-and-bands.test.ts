// The word-wise mask helpers (nodata → mask, mask → 8×8 blocks) against per-pixel definitions, and
// the banded reader against direct window reads of a real GeoTIFF (each block row decoded once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  maskFromNodata,
  openRasterWindows,
  describeRaster,
  type RasterWindow,
  type RasterWindowReader,
  type WindowRequest,
} from '../../src/raster/geotiff-source.js';
import { BandedWindowReader, bandHeightFor } from '../../src/raster/banded-reader.js';
import { maskBlocks } from '../../src/raster/warp-loops.js';
import { makeSyntheticMap, prng } from '../fixtures/synthetic-raster.js';

test('maskFromNodata (RGB, word-wise) equals the per-pixel rule, at any offset and length', () => {
  const random = prng(11);
  for (const nodata of [
    [255, 255, 255],
    [0, 0, 0],
    [7, 7, 7],
    [10, 20, 30],
  ]) {
    for (const pixels of [1, 5, 1000, 4099]) {
      // Runs of nodata pixels, pixels with one or two nodata bytes, and random ones.
      const buffer = new Uint8Array(pixels * 3 + 8);
      for (let p = 0; p < pixels; p++) {
        const kind = random();
        for (let c = 0; c < 3; c++)
          buffer[4 + p * 3 + c] = kind < 0.4 ? nodata[c] : kind < 0.7 && random() < 0.5 ? nodata[c] : Math.floor(random() * 256);
      }
      for (const offset of [0, 4, 1]) {
        const data = buffer.subarray(offset, offset + pixels * 3);
        const mask = maskFromNodata(data, 3, nodata);
        for (let p = 0; p < pixels; p++) {
          const expected = data[3 * p] === nodata[0] && data[3 * p + 1] === nodata[1] && data[3 * p + 2] === nodata[2] ? 0 : 255;
          assert.equal(mask[p], expected, `nodata ${nodata} pixel ${p}/${pixels} offset ${offset}`);
        }
      }
    }
  }
});

test('maskBlocks marks every 8×8 block holding a zero (and at most its word neighbours), for any width and offset', () => {
  const random = prng(5);
  for (const [W, H] of [
    [1, 1],
    [7, 3],
    [8, 8],
    [13, 17],
    [64, 9],
    [101, 33],
  ]) {
    for (const offset of [0, 1, 4]) {
      const buffer = new Uint8Array(W * H + 8).fill(255);
      const mask = buffer.subarray(offset, offset + W * H);
      // Sparse zeros (alpha-like values elsewhere: only 0 counts as masked).
      for (let i = 0; i < mask.length; i++) mask[i] = random() < 0.02 ? 0 : 1 + Math.floor(random() * 255);
      const blocks = maskBlocks(mask, W, H);
      const bw = Math.ceil(W / 8),
        bh = Math.ceil(H / 8);
      // Exact: blocks with a zero. Loose: blocks with a zero within 3 pixels on the same row (a word).
      const exact = new Uint8Array(bw * bh),
        loose = new Uint8Array(bw * bh);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          if (mask[y * W + x] === 0) exact[(y >> 3) * bw + (x >> 3)] = 1;
          for (let d = -3; d <= 3; d++) if (x + d >= 0 && x + d < W && mask[y * W + x + d] === 0) loose[(y >> 3) * bw + (x >> 3)] = 1;
        }
      if (exact.every((v) => v === 0)) {
        assert.equal(blocks, undefined);
        continue;
      }
      assert.equal(blocks!.width, bw);
      for (let b = 0; b < bw * bh; b++) {
        if (exact[b]) assert.equal(blocks!.bad[b], 1, `${W}x${H} offset ${offset}: block ${b} has a zero`);
        if (!loose[b]) assert.equal(blocks!.bad[b], 0, `${W}x${H} offset ${offset}: block ${b} has none near`);
      }
    }
  }
  assert.equal(maskBlocks(new Uint8Array(100).fill(255), 10, 10), undefined);
});

test('bandHeightFor: whole blocks of about 256 rows', () => {
  assert.equal(bandHeightFor(256), 256);
  assert.equal(bandHeightFor(512), 512);
  assert.equal(bandHeightFor(16), 256);
  assert.equal(bandHeightFor(1), 256);
  assert.equal(bandHeightFor(100), 300);
  assert.equal(bandHeightFor(16000), 256);
});

test('BandedWindowReader returns the same windows as direct reads, decoding each band once', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-bands-'));
  try {
    const file = path.join(dir, 'map.tif');
    await makeSyntheticMap({ width: 300, height: 700, path: file, nodataTag: true });
    const info = await describeRaster(file);
    assert.equal(info.mask, 'nodata');
    const direct = openRasterWindows(info);
    const requests: WindowRequest[] = [];
    const reused: RasterWindow[] = [];
    const counting: RasterWindowReader = {
      info,
      read: (r, reuse) => {
        requests.push(r);
        if (reuse) reused.push(reuse);
        return direct.read(r, reuse);
      },
      close: () => direct.close(),
    };
    const bands = new BandedWindowReader(counting, { x0: 20, x1: 280, levelHeight: info.height, bandHeight: 100 });
    // Overlapping strips going down, each asked for before the previous one is used (the read-ahead).
    const strips: Array<[number, number]> = [
      [0, 150],
      [90, 260],
      [200, 330],
      [330, 331],
      [320, 700],
    ];
    const pending = strips.map(([y0, y1]) => bands.read(y0, y1));
    for (const [i, [y0, y1]] of strips.entries()) {
      const got = await pending[i];
      const want = await direct.read({ x: 20, y: y0, width: 260, height: y1 - y0 });
      assert.deepEqual([got.width, got.height, got.channels], [260, y1 - y0, 3]);
      assert.ok(
        Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(
          Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength),
        ),
        `strip ${y0}-${y1} data`,
      );
      assert.deepEqual(got.mask, want.mask, `strip ${y0}-${y1} mask`);
    }
    assert.deepEqual(
      requests.map((r) => [r.y, r.height]),
      [
        [0, 100],
        [100, 100],
        [200, 100],
        [300, 100],
        [400, 100],
        [500, 100],
        [600, 100],
      ],
    );
    assert.ok(requests.every((r) => r.x === 20 && r.width === 260));
    bands.release();
    // Recycled buffers (recycle 2: one read ahead, as the bottom slab reads): same windows, and the
    // buffer of read k is the buffer of read k + 2.
    // The bands' own buffers are reused too, once no read copies from them: the source reader is handed
    // the window of a dropped band (and the strips above still equal direct reads).
    reused.length = 0;
    const recycled = new BandedWindowReader(counting, { x0: 20, x1: 280, levelHeight: info.height, bandHeight: 100, recycle: 2 });
    const seen: ArrayBufferLike[] = [];
    let ahead = recycled.read(strips[0][0], strips[0][1]);
    for (const [i, [y0, y1]] of strips.entries()) {
      const current = ahead;
      if (i + 1 < strips.length) ahead = recycled.read(strips[i + 1][0], strips[i + 1][1]);
      const got = await current;
      const want = await direct.read({ x: 20, y: y0, width: 260, height: y1 - y0 });
      assert.ok(
        Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(
          Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength),
        ),
        `recycled strip ${y0}-${y1} data`,
      );
      assert.deepEqual(got.mask, want.mask, `recycled strip ${y0}-${y1} mask`);
      seen.push(got.data.buffer);
    }
    assert.equal(seen[2], seen[0]);
    assert.notEqual(seen[1], seen[0]);
    assert.ok(reused.length >= 2, `bands written into dropped bands' buffers (${reused.length})`);
    assert.ok(reused.every((w) => w.data.length === 260 * 100 * 3));
    recycled.release();

    // Column ranges (a strip read in runs of tiles, each its own window): the same pixels as direct
    // reads of those columns; a range lower than another of its strip keeps the bands the higher one
    // needs (keepFrom), so each band is still decoded once.
    requests.length = 0;
    const ranged = new BandedWindowReader(counting, { x0: 20, x1: 280, levelHeight: info.height, bandHeight: 100, recycle: 4 });
    const runs: Array<{ y0: number; y1: number; x0: number; x1: number }> = [
      { y0: 150, y1: 260, x0: 20, x1: 120 },
      { y0: 90, y1: 210, x0: 110, x1: 280 },
      { y0: 250, y1: 390, x0: 20, x1: 130 },
      { y0: 190, y1: 330, x0: 125, x1: 279 },
    ];
    const keepFrom = (i: number) => (i < 2 ? 90 : 190);
    const windows = runs.map((r, i) => ranged.read(r.y0, r.y1, { x0: r.x0, x1: r.x1 }, keepFrom(i)));
    for (const [i, r] of runs.entries()) {
      const got = await windows[i];
      const want = await direct.read({ x: r.x0, y: r.y0, width: r.x1 - r.x0, height: r.y1 - r.y0 });
      assert.deepEqual([got.width, got.height], [r.x1 - r.x0, r.y1 - r.y0]);
      assert.ok(
        Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(
          Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength),
        ),
        `run ${i} data`,
      );
      assert.deepEqual(got.mask, want.mask, `run ${i} mask`);
    }
    assert.deepEqual(
      requests.map((r) => r.y),
      [100, 200, 0, 300],
      'every band decoded once',
    );
    await assert.rejects(ranged.read(400, 410, { x0: 10, x1: 100 }), RangeError, 'columns outside the bands');
    ranged.release();
    await direct.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
