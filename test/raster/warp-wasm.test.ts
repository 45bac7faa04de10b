// The WebAssembly bicubic of 8-bit RGB (src/raster/warp-wasm.ts, assembly/warp-kernels.ts) against the
// JavaScript loop it stands in for (issue 16): the build ships it, masks are identical, samples differ by
// at most 1 (Q14 weights), and what it leaves to the loop (edges, masked taps, NaN, coordinates outside
// the source) comes out as the loop makes it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noise } from '../helpers/noise.js';
import { sampleDifferences } from '../helpers/sample-differences.js';
import { warp, type WarpRequest, type WarpResult } from '../../src/raster/warp.js';
import { setWasmWarp, wasmWarpAvailable } from '../../src/raster/warp-wasm.js';

/** A smooth image with noise (photo-like) and masked holes. */
function source(W: number, H: number): { data: Uint8Array; mask: Uint8Array } {
  const grain = noise(W * H * 3, 11);
  const data = new Uint8Array(W * H * 3);
  const mask = new Uint8Array(W * H).fill(255);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++)
        data[(y * W + x) * 3 + c] = Math.max(
          0,
          Math.min(255, 128 + 100 * Math.sin((x + 17 * c) / 13) * Math.cos(y / 9) + (grain[(y * W + x) * 3 + c] >> 3) - 16),
        );
      if (((x - 120) / 11) ** 2 + ((y - 70) / 7) ** 2 < 1 || (x * 7 + y * 13) % 89 === 0) mask[y * W + x] = 0;
    }
  // Pure black and white areas: the clamping at 0 and 255.
  for (let y = 10; y < 30; y++) for (let x = 10; x < 60; x++) for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = x < 35 ? 0 : 255;
  return { data, mask };
}

/** Rotated, scaled coordinates over and past the source; a NaN band (no source) on the right. */
function coords(w: number, h: number, scale: number, angle: number, x0: number, y0: number): { srcX: Float32Array; srcY: Float32Array } {
  const srcX = new Float32Array(w * h),
    srcY = new Float32Array(w * h);
  const c = Math.cos(angle) * scale,
    s = Math.sin(angle) * scale;
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      const o = j * w + i;
      srcX[o] = i > w - 6 ? Number.NaN : x0 + c * (i + 0.5) - s * (j + 0.5);
      srcY[o] = i > w - 6 ? Number.NaN : y0 + s * (i + 0.5) + c * (j + 0.5);
    }
  return { srcX, srcY };
}

function both(req: WarpRequest): { js: WarpResult; wasm: WarpResult } {
  const was = setWasmWarp(false);
  try {
    const js = warp(req);
    setWasmWarp(true);
    return { js, wasm: warp(req) };
  } finally {
    setWasmWarp(was);
  }
}

test('the build ships the WebAssembly warp kernel and warp() uses it', () => {
  assert.ok(wasmWarpAvailable(), 'dist/assembly/warp-kernels.wasm missing or not loadable: run npm run build');
});

test('WebAssembly bicubic vs the JavaScript loop: same masks, samples within 1, ≤ 2 % differing (masks, edges, NaN, clamping)', () => {
  const W = 240,
    H = 150;
  const { data, mask } = source(W, H);
  const cases = [
    { scale: 1.14, angle: 0.075, x0: -6, y0: -5 },
    { scale: 0.8, angle: -0.3, x0: 40, y0: -20 },
    { scale: 1.45, angle: 0.02, x0: 3, y0: 2 },
    { scale: 1, angle: 0, x0: 0, y0: 0 },
  ];
  for (const { scale, angle, x0, y0 } of cases)
    for (const m of [mask, undefined]) {
      const w = 200,
        h = 110;
      const req: WarpRequest = {
        src: { data, width: W, height: H, channels: 3, mask: m, sampleType: 'uint8' },
        coords: coords(w, h, scale, angle, x0, y0),
        dst: { width: w, height: h },
        kernel: 'bicubic',
        nodata: [255, 0, 7],
        scale: { x: scale, y: scale },
        widenAbove: 1.5,
      };
      const { js, wasm } = both(req);
      const label = `scale ${scale} angle ${angle} ${m ? 'masked' : 'unmasked'}`;
      assert.deepEqual(wasm.mask, js.mask, label);
      const { max, differing } = sampleDifferences(wasm.data, js.data);
      let valid = 0;
      for (const v of js.mask) if (v) valid++;
      assert.ok(valid > 0.3 * w * h && valid < w * h, `${label}: ${valid} valid pixels (edges and holes must be met)`);
      assert.ok(max <= 1, `${label}: max |diff| ${max}`);
      assert.ok(differing <= js.data.length * 0.02, `${label}: ${differing} of ${js.data.length} samples differ`);
    }
});

test('WebAssembly bicubic writes into reused arrays as into fresh ones; an identity grid reproduces the source', () => {
  const W = 64,
    H = 48;
  const { data } = source(W, H);
  const req: WarpRequest = {
    src: { data, width: W, height: H, channels: 3, sampleType: 'uint8' },
    coords: coords(W, H, 1, 0, 0, 0),
    dst: { width: W, height: H },
    kernel: 'bicubic',
    nodata: [1, 2, 3],
    scale: { x: 1, y: 1 },
  };
  const fresh = warp(req);
  // Stale content in the reused arrays must not leak into pixels the kernel leaves to the loop.
  const into = { data: new Uint8Array(W * H * 3).fill(77), mask: new Uint8Array(W * H).fill(9) };
  const reused = warp({ ...req, into });
  assert.deepEqual(reused.data, fresh.data);
  assert.deepEqual(reused.mask, fresh.mask);
  // Keys' cubic interpolates: at pixel centres every weight but one is 0 (the NaN band stays nodata).
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W - 5; x++)
      for (let c = 0; c < 3; c++) assert.equal(fresh.data[(y * W + x) * 3 + c], data[(y * W + x) * 3 + c], `pixel ${x},${y}`);
  assert.deepEqual(Array.from(fresh.data.subarray((W - 1) * 3, W * 3)), [1, 2, 3]);
});
