// warp() rules on hand-made cases (specs/rok4.md §8.4): validity, masks, clamping, float32, widening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warp, estimateRealScale, estimateScale, type WarpCoordinates } from '../../src/raster/warp.js';
import { cubicWeight, lanczosWeight, linearWeight, kernelByName } from '../../src/raster/kernels.js';

/** Coordinates of an affine map target (i, j) centre → source (x0 + (i+0.5)·s, y0 + (j+0.5)·s). */
function affineCoords(w: number, h: number, s: number, x0 = 0, y0 = 0): WarpCoordinates {
  const srcX = new Float64Array(w * h),
    srcY = new Float64Array(w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      srcX[j * w + i] = x0 + (i + 0.5) * s;
      srcY[j * w + i] = y0 + (j + 0.5) * s;
    }
  return { srcX, srcY };
}

function ramp(w: number, h: number, f: (x: number, y: number) => number): Uint8Array {
  const d = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d[y * w + x] = f(x, y);
  return d;
}

test('kernels: GDAL weights (Keys a=-0.5 interpolates, lanczos radius 3), unknown name rejected', () => {
  assert.equal(cubicWeight(0), 1);
  assert.equal(cubicWeight(1), 0);
  assert.equal(cubicWeight(2), 0);
  assert.equal(cubicWeight(0.5), 0.5625);
  assert.equal(cubicWeight(1.5), -0.0625);
  assert.equal(linearWeight(0.25), 0.75);
  assert.equal(lanczosWeight(0), 1);
  assert.ok(Math.abs(lanczosWeight(1)) < 1e-15 && Math.abs(lanczosWeight(2.5)) > 0.01 && lanczosWeight(3) === 0);
  assert.equal(kernelByName('lanczos').radius, 3);
  assert.throws(() => kernelByName('cubicspline'), /unknown resampling kernel/);
});

test('identity mapping reproduces the source with every kernel', () => {
  const W = 20,
    H = 16;
  const data = ramp(W, H, (x, y) => (x * 13 + y * 7) % 251);
  for (const kernel of ['nn', 'linear', 'bicubic', 'lanczos'] as const) {
    const r = warp({
      src: { data, width: W, height: H, channels: 1, sampleType: 'uint8' },
      coords: affineCoords(W, H, 1),
      dst: { width: W, height: H },
      kernel,
      nodata: [0],
    });
    assert.deepEqual(Array.from(r.data), Array.from(data), kernel);
    assert.ok(
      r.mask.every((m) => m === 255),
      kernel,
    );
  }
});

test('bilinear half-pixel shift averages neighbours; outside the source gives mask 0 and nodata', () => {
  const W = 4,
    H = 1;
  const data = Uint8Array.of(10, 20, 30, 41);
  // Target pixel i samples source x = i + 1 (between pixel centres i+0.5 and i+1.5); the last one at x = 4 is outside.
  const coords = { srcX: Float64Array.of(1, 2, 3, 4), srcY: Float64Array.of(0.5, 0.5, 0.5, 0.5) };
  const r = warp({
    src: { data, width: W, height: H, channels: 1, sampleType: 'uint8' },
    coords,
    dst: { width: 4, height: 1 },
    kernel: 'linear',
    nodata: [99],
  });
  assert.deepEqual(Array.from(r.data), [15, 25, 36, 99]); // 35.5 rounds half up
  assert.deepEqual(Array.from(r.mask), [255, 255, 255, 0]);
  const neg = warp({
    src: { data, width: W, height: H, channels: 1, sampleType: 'uint8' },
    coords: { srcX: Float64Array.of(-0.01, NaN), srcY: Float64Array.of(0.5, 0.5) },
    dst: { width: 2, height: 1 },
    kernel: 'bicubic',
    nodata: [7],
  });
  assert.deepEqual(Array.from(neg.mask), [0, 0]);
  assert.deepEqual(Array.from(neg.data), [7, 7]);
});

test('masked source pixels: excluded from weights, centre pixel decides validity', () => {
  const W = 6,
    H = 6;
  const data = ramp(W, H, (x) => (x < 3 ? 100 : 200));
  const mask = ramp(W, H, (x) => (x < 3 ? 255 : 0)); // right half is no data (holding 200)
  const src = { data, width: W, height: H, channels: 1, mask, sampleType: 'uint8' as const };
  for (const kernel of ['linear', 'bicubic', 'lanczos'] as const) {
    // x = 2.9: centre pixel 2 (valid) → only valid pixels (all 100) contribute.
    const a = warp({
      src,
      coords: { srcX: Float64Array.of(2.9, 3.1), srcY: Float64Array.of(3, 3) },
      dst: { width: 2, height: 1 },
      kernel,
      nodata: [255],
    });
    assert.deepEqual(Array.from(a.data), [100, 255], kernel);
    assert.deepEqual(Array.from(a.mask), [255, 0], kernel);
  }
});

test('uint8 results are clamped, float32 results are not', () => {
  // A step makes Catmull-Rom overshoot on both sides.
  const W = 8,
    H = 4;
  const f = (x: number): number => (x < 4 ? 0 : 255);
  const byte = ramp(W, H, f);
  const float = Float32Array.from(byte);
  const coords = { srcX: Float64Array.of(3.25, 4.75), srcY: Float64Array.of(2, 2) };
  const b = warp({
    src: { data: byte, width: W, height: H, channels: 1, sampleType: 'uint8' },
    coords,
    dst: { width: 2, height: 1 },
    kernel: 'bicubic',
    nodata: [0],
  });
  const fl = warp({
    src: { data: float, width: W, height: H, channels: 1, sampleType: 'float32' },
    coords,
    dst: { width: 2, height: 1 },
    kernel: 'bicubic',
    nodata: [-99999],
  });
  assert.ok(fl.data instanceof Float32Array);
  assert.ok(fl.data[0] < 0 && fl.data[1] > 255, `float overshoot ${fl.data[0]} ${fl.data[1]}`);
  assert.deepEqual(Array.from(b.data), [0, 255]);
});

test('multi-channel interleaving and per-channel nodata', () => {
  const W = 3,
    H = 3;
  const data = new Uint8Array(W * H * 4);
  for (let p = 0; p < W * H; p++) data.set([p, 100 + p, 200, 255], p * 4);
  const coords = { srcX: Float64Array.of(1.5, 5), srcY: Float64Array.of(1.5, 1) };
  const r = warp({
    src: { data, width: W, height: H, channels: 4, sampleType: 'uint8' },
    coords,
    dst: { width: 2, height: 1 },
    kernel: 'nn',
    nodata: [1, 2, 3, 4],
  });
  assert.deepEqual(Array.from(r.data), [4, 104, 200, 255, 1, 2, 3, 4]);
});

test('downsampling widens the kernel: a 3x reduction of a 1-px checkerboard is flat, without widening it aliases', () => {
  const W = 96,
    H = 96;
  const data = ramp(W, H, (x, y) => ((x + y) % 2 ? 200 : 0));
  const coords = affineCoords(32, 32, 3);
  const src = { data, width: W, height: H, channels: 1, sampleType: 'uint8' as const };
  assert.deepEqual(estimateScale(coords, 32, 32), { x: 3, y: 3 });
  for (const kernel of ['linear', 'bicubic', 'lanczos'] as const) {
    const wide = warp({ src, coords, dst: { width: 32, height: 32 }, kernel, nodata: [0] });
    const narrow = warp({ src, coords, dst: { width: 32, height: 32 }, kernel, nodata: [0], scale: { x: 1, y: 1 } });
    const spread = (d: ArrayLike<number>): number => {
      let lo = 255,
        hi = 0;
      for (let j = 4; j < 28; j++)
        for (let i = 4; i < 28; i++) {
          lo = Math.min(lo, d[j * 32 + i]);
          hi = Math.max(hi, d[j * 32 + i]);
        }
      return hi - lo;
    };
    assert.ok(spread(wide.data) <= 6, `${kernel} widened spread ${spread(wide.data)}`);
    assert.ok(spread(narrow.data) >= 100, `${kernel} narrow spread ${spread(narrow.data)}`);
  }
});

/** Target pixel centres on a grid rotated by `degrees` and scaled by sx, sy (source pixels per target pixel). */
function rotatedCoords(w: number, h: number, sx: number, sy: number, degrees: number): WarpCoordinates {
  const t = (degrees * Math.PI) / 180;
  const srcX = new Float64Array(w * h),
    srcY = new Float64Array(w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      const u = (i + 0.5) * sx,
        v = (j + 0.5) * sy;
      srcX[j * w + i] = 100 + u * Math.cos(t) - v * Math.sin(t);
      srcY[j * w + i] = 100 + u * Math.sin(t) + v * Math.cos(t);
    }
  return { srcX, srcY };
}

test('the real scale leaves out the rotation between grids (issue 16): L’s bottom level at 1.4 reads 1.4, not 1.5', () => {
  // Lambert-93 against Web Mercator is rotated by 4–5°: the projected footprint measures 7–8 % more.
  const rotated = rotatedCoords(64, 64, 1.4, 1.4, 4.5);
  const projected = estimateScale(rotated, 64, 64);
  const real = estimateRealScale(rotated, 64, 64);
  assert.ok(projected.x > 1.5 && projected.y > 1.5, `the projected footprint crosses 1.5: ${JSON.stringify(projected)}`);
  assert.ok(Math.abs(real.x - 1.4) < 1e-9 && Math.abs(real.y - 1.4) < 1e-9, JSON.stringify(real));
  // Without rotation both measures agree; a downsampling stays one (the kernel still widens), per axis.
  assert.deepEqual(estimateRealScale(affineCoords(32, 32, 3), 32, 32), { x: 3, y: 3 });
  const anisotropic = estimateRealScale(rotatedCoords(64, 64, 2, 1.2, 0), 64, 64);
  assert.ok(Math.abs(anisotropic.x - 2) < 1e-9 && Math.abs(anisotropic.y - 1.2) < 1e-9, JSON.stringify(anisotropic));
  const turned = estimateRealScale(rotatedCoords(64, 64, 3, 3, 30), 64, 64);
  assert.ok(Math.abs(turned.x - 3) < 1e-9 && Math.abs(turned.y - 3) < 1e-9, 'a rotated 3x reduction is still 3x');
});
