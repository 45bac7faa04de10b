import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  halveBytes,
  type PartedInput,
  resamplePartedRows,
  resampleRows,
  resampleRowsWeighted,
  type ResampleInput,
} from '../../src/cog/overview-resample.js';

/** Hashed noise with flat runs, and a mask with holes and whole invalid 2 × 2 blocks. */
function input(
  width: number,
  height: number,
  channels: number,
  withMask: boolean,
  firstRow = 0,
  rows = height,
): ResampleInput & { data: Uint8Array } {
  const data = new Uint8Array(width * rows * channels);
  const mask = withMask ? new Uint8Array(width * rows) : undefined;
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < width; x++) {
      const h = Math.imul(((y + firstRow) * 7919) ^ (x * 104729), 0x9e3779b1) >>> 0;
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = x % 9 < 3 ? 17 * c : (h >>> (8 * c)) & 0xff;
      if (mask) mask[y * width + x] = (h & 7) === 0 || (x >> 1) % 5 === 2 ? 0 : 255;
    }
  return { data, mask, width, height, firstRow, rows, channels };
}

test('halveBytes: the same bytes and mask as the weighted windows for every exact halving (1, 3, 4 channels, with and without mask)', () => {
  for (const channels of [1, 3, 4])
    for (const withMask of [false, true]) {
      const src = input(64, 48, channels, withMask);
      const fast = halveBytes(src, 32, 0, 24, 255);
      const slow = resampleRowsWeighted(src, 32, 24, 0, 24, 255);
      assert.ok(Buffer.from(fast.data).equals(Buffer.from(slow.data)), `${channels} channels, mask ${withMask}: pixels`);
      assert.deepEqual(fast.mask, slow.mask, `${channels} channels, mask ${withMask}: mask`);
      if (withMask) assert.ok(fast.mask!.includes(0) && fast.mask!.includes(255), 'both valid and empty pixels');
    }
});

test('resampleRows takes the exact halving for a strip in the middle of a level, and the weighted windows otherwise', () => {
  // Overview rows 10..17 of a 40-row overview read source rows 20..35 of the 80-row level.
  const strip = input(50, 80, 3, true, 20, 16);
  const viaEntry = resampleRows(strip, 25, 40, 10, 8, 0);
  const weighted = resampleRowsWeighted(strip, 25, 40, 10, 8, 0);
  assert.ok(Buffer.from(viaEntry.data).equals(Buffer.from(weighted.data)));
  assert.deepEqual(viaEntry.mask, weighted.mask);
  assert.throws(() => resampleRows(strip, 25, 40, 9, 8, 0), /needs source rows/);
  // An odd-sized level (51 → 25): windows drift, the weighted path answers.
  const odd = input(51, 80, 3, false, 0, 80);
  assert.ok(Buffer.from(resampleRows(odd, 25, 40, 0, 40, 0).data).equals(Buffer.from(resampleRowsWeighted(odd, 25, 40, 0, 40, 0).data)));
});

/** `src` cut at the given rows into parts (copies), as the COG writer hands strips to a task. */
function cut(src: ResampleInput & { data: Uint8Array }, at: number[]): PartedInput {
  const bounds = [src.firstRow, ...at, src.firstRow + src.rows];
  const rowLen = src.width * src.channels;
  const parts = bounds.slice(1).map((end, i) => {
    const from = bounds[i] - src.firstRow,
      to = end - src.firstRow;
    return {
      data: src.data.slice(from * rowLen, to * rowLen),
      ...(src.mask ? { mask: src.mask.slice(from * src.width, to * src.width) } : {}),
      firstRow: bounds[i],
      rows: to - from,
    };
  });
  return { parts, width: src.width, height: src.height, channels: src.channels };
}

test('resamplePartedRows: rows held in parts give the bytes of the same rows in one buffer (halving in place, odd cuts and other ratios joined)', () => {
  const level = input(50, 80, 3, true, 16, 24); // rows 16..39 of an 80-row level
  const cases: Array<{ at: number[]; dstWidth: number; dstHeight: number; dstRow: number; dstRows: number }> = [
    { at: [24, 32], dstWidth: 25, dstHeight: 40, dstRow: 8, dstRows: 12 }, // even cuts: halved part by part
    { at: [21, 33], dstWidth: 25, dstHeight: 40, dstRow: 8, dstRows: 12 }, // odd cuts: a row pair straddles parts
    { at: [20], dstWidth: 25, dstHeight: 40, dstRow: 10, dstRows: 8 }, // a part starting before the rows asked
    { at: [23, 30], dstWidth: 17, dstHeight: 27, dstRow: 6, dstRows: 6 }, // not a halving: weighted windows
  ];
  for (const c of cases) {
    const whole = resampleRows(level, c.dstWidth, c.dstHeight, c.dstRow, c.dstRows, 9);
    const parted = resamplePartedRows(cut(level, c.at), c.dstWidth, c.dstHeight, c.dstRow, c.dstRows, 9);
    assert.ok(Buffer.from(parted.data).equals(Buffer.from(whole.data)), `cuts ${c.at}: pixels`);
    assert.deepEqual(parted.mask, whole.mask, `cuts ${c.at}: mask`);
  }
});
