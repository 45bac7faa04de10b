// warp()'s fast paths (warp-loops.ts: mask block table, skipped zero-weight taps, unrolled RGB rows)
// against a plain per-tap reference of warp.ts's rules, on masked random sources, rotated grids and
// the ratios the pipeline meets (specs/rok4.md §8.4).
import { test } from 'node:test';
import { noise } from '../helpers/noise.js';
import { sampleDifferences } from '../helpers/sample-differences.js';
import assert from 'node:assert/strict';
import { warp, type WarpRequest } from '../../src/raster/warp.js';
import { KERNELS, type KernelName } from '../../src/raster/kernels.js';
import { setWasmWarp, wasmWarpAvailable } from '../../src/raster/warp-wasm.js';

/** Random-ish image with masked blobs and a masked band on the left; 1 … 4 channels. */
function source(W: number, H: number, C: number): { data: Uint8Array; mask: Uint8Array } {
  const data = noise(W * H * C, 7 + C);
  const mask = new Uint8Array(W * H).fill(255);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const blob = ((x - W * 0.6) / 9) ** 2 + ((y - H * 0.4) / 5) ** 2 < 1 || (x * 7 + y * 13) % 97 === 0;
      if (blob || x < 6 + 3 * Math.sin(y / 4)) mask[y * W + x] = 0;
    }
  return { data, mask };
}

/** Rotated affine coordinates (float32, as approximateTransform gives), `ratio` source px per target px. */
function coords(w: number, h: number, ratio: number): { srcX: Float32Array; srcY: Float32Array } {
  const srcX = new Float32Array(w * h),
    srcY = new Float32Array(w * h);
  const c = Math.cos(0.07) * ratio,
    s = Math.sin(0.07) * ratio;
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      srcX[j * w + i] = -3 + c * (i + 0.5) - s * (j + 0.5);
      srcY[j * w + i] = -2 + s * (i + 0.5) + c * (j + 0.5);
    }
  return { srcX, srcY };
}

/** warp.ts's rules, one tap at a time, no fast path. */
function reference(req: WarpRequest, scale: { x: number; y: number }): { data: Uint8Array; mask: Uint8Array } {
  const { src, dst, nodata } = req;
  const { width: W, height: H, channels: C, mask } = src;
  const data = src.data as Uint8Array;
  const n = dst.width * dst.height;
  const out = new Uint8Array(n * C),
    outMask = new Uint8Array(n);
  const kernel = KERNELS[req.kernel];
  const rx = scale.x > 1 / 0.95 ? scale.x : 1,
    ry = scale.y > 1 / 0.95 ? scale.y : 1;
  const hx = rx > 1 ? Math.ceil(kernel.radius * rx) : kernel.radius,
    hy = ry > 1 ? Math.ceil(kernel.radius * ry) : kernel.radius;
  const valid = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < W && y < H && (!mask || mask[y * W + x] !== 0);
  for (let o = 0; o < n; o++) {
    const sx = req.coords.srcX[o],
      sy = req.coords.srcY[o];
    for (let c = 0; c < C; c++) out[o * C + c] = nodata[c];
    if (!(sx >= 0 && sx < W && sy >= 0 && sy < H) || !valid(Math.floor(sx), Math.floor(sy))) continue;
    if (req.kernel === 'nn') {
      const q = Math.floor(sy) * W + Math.floor(sx);
      for (let c = 0; c < C; c++) out[o * C + c] = data[q * C + c];
      outMask[o] = 255;
      continue;
    }
    const u = sx - 0.5,
      v = sy - 0.5,
      ix = Math.floor(u),
      iy = Math.floor(v);
    let xs: number[] = [],
      ys: number[] = [];
    const wOf = (k: number, centre: number, ratio: number): number => kernel.weight((k - centre) / ratio);
    let cubicAllValid = true;
    if (req.kernel === 'bicubic' && rx === 1 && ry === 1) {
      for (let y = iy - 1; y <= iy + 2; y++) for (let x = ix - 1; x <= ix + 2; x++) if (!valid(x, y)) cubicAllValid = false;
    }
    let wx: (k: number) => number = (k) => wOf(k, u, rx),
      wy: (k: number) => number = (k) => wOf(k, v, ry);
    if (req.kernel === 'bicubic' && rx === 1 && ry === 1 && !cubicAllValid) {
      xs = [ix, ix + 1];
      ys = [iy, iy + 1];
      wx = (k) => 1 - Math.abs(k - u);
      wy = (k) => 1 - Math.abs(k - v);
    } else {
      for (let k = ix - hx + 1; k <= ix + hx; k++) xs.push(k);
      for (let k = iy - hy + 1; k <= iy + hy; k++) ys.push(k);
    }
    const acc = new Array<number>(C).fill(0);
    let total = 0;
    for (const y of ys)
      for (const x of xs) {
        if (!valid(x, y)) continue;
        const w = wx(x) * wy(y);
        total += w;
        for (let c = 0; c < C; c++) acc[c] += w * data[(y * W + x) * C + c];
      }
    if (!(total > 1e-6)) continue;
    for (let c = 0; c < C; c++) {
      const val = acc[c] / total;
      out[o * C + c] = val <= 0 ? 0 : val >= 255 ? 255 : Math.floor(val + 0.5);
    }
    outMask[o] = 255;
  }
  return { data: out, mask: outMask };
}

const CASES: { kernel: KernelName; ratio: number }[] = [
  { kernel: 'bicubic', ratio: 0.9 },
  { kernel: 'bicubic', ratio: 1.15 },
  { kernel: 'bicubic', ratio: 1.6 },
  { kernel: 'bicubic', ratio: 2.5 },
  { kernel: 'linear', ratio: 0.9 },
  { kernel: 'linear', ratio: 1.15 },
  { kernel: 'linear', ratio: 2.5 },
  { kernel: 'lanczos', ratio: 0.9 },
  { kernel: 'lanczos', ratio: 1.3 },
  { kernel: 'nn', ratio: 1.6 },
];

for (const C of [1, 3, 4]) {
  test(`fast paths equal the per-tap reference within 1 (uint8, ${C} channel(s), masked and unmasked)`, () => {
    const W = 300,
      H = 90;
    const { data, mask } = source(W, H, C);
    for (const { kernel, ratio } of CASES) {
      const w = Math.floor(W / ratio) - 2,
        h = Math.floor(H / ratio) - 8;
      const xy = coords(w, h, ratio);
      for (const m of [mask, undefined]) {
        const req: WarpRequest = {
          src: { data, width: W, height: H, channels: C, mask: m, sampleType: 'uint8' },
          coords: xy,
          dst: { width: w, height: h },
          kernel,
          nodata: [255, 0, 7, 9].slice(0, C),
        };
        const scale = { x: ratio * (Math.cos(0.07) + Math.sin(0.07)), y: ratio * (Math.cos(0.07) + Math.sin(0.07)) };
        const got = warp({ ...req, scale });
        const ref = reference(req, scale);
        const label = `${kernel} ${ratio} C=${C} ${m ? 'masked' : 'unmasked'}`;
        assert.deepEqual(got.mask, ref.mask, label);
        const { max, differing } = sampleDifferences(got.data, ref.data);
        let valid = 0;
        for (let i = 0; i < ref.mask.length; i++) if (ref.mask[i]) valid++;
        assert.ok(valid > (m ? 0.6 : 0.8) * w * h, `${label}: ${valid} valid pixels`);
        assert.ok(max <= 1, `${label}: max |diff| ${max}`);
        // Rounding order only: a difference needs a value within ~1e-12 of a .5 boundary. The WebAssembly
        // bicubic of 8-bit RGB (warp-wasm.ts) rounds its weights to Q14: more samples differ, still by 1.
        const wasm = wasmWarpAvailable() && C === 3 && kernel === 'bicubic' && scale.x <= 1 / 0.95;
        assert.ok(differing <= ref.data.length * (wasm ? 0.02 : 0.001), `${label}: ${differing} samples differ`);
      }
    }
  });
}

test('a mask of only valid pixels gives the same bytes as no mask (the mask block table is dropped)', () => {
  const W = 120,
    H = 60,
    C = 3;
  const data = noise(W * H * C, 3);
  const xy = coords(80, 40, 1.3);
  for (const kernel of ['linear', 'bicubic'] as const) {
    const base = { data, width: W, height: H, channels: C, sampleType: 'uint8' as const };
    const a = warp({ src: base, coords: xy, dst: { width: 80, height: 40 }, kernel, nodata: [0, 0, 0] });
    const b = warp({
      src: { ...base, mask: new Uint8Array(W * H).fill(1) },
      coords: xy,
      dst: { width: 80, height: 40 },
      kernel,
      nodata: [0, 0, 0],
    });
    assert.deepEqual(b.data, a.data, kernel);
    assert.deepEqual(b.mask, a.mask, kernel);
  }
});

/** Separable coordinates (float32): source x from the column only, y from the row only, shifted past the edges. */
function separableCoords(w: number, h: number, rx: number, ry: number): { srcX: Float32Array; srcY: Float32Array } {
  const srcX = new Float32Array(w * h),
    srcY = new Float32Array(w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      // A slight curve along y (as Web Mercator's latitude) keeps the row phases irregular.
      srcX[j * w + i] = -2.3 + rx * (i + 0.5);
      srcY[j * w + i] = -1.7 + ry * (j + 0.5) + 0.002 * (j + 0.5) ** 2;
    }
  return { srcX, srcY };
}

test('separable coordinates: the two-pass loop gives the per-pixel loop’s bytes exactly (masks, edges, 1/3/4 channels, float32)', () => {
  // The JavaScript passes; the WebAssembly ones (8-bit RGB) are checked below.
  const was = setWasmWarp(false);
  try {
    twoPassEqualsOnePass();
  } finally {
    setWasmWarp(was);
  }
});

test('separable coordinates, 8-bit RGB in WebAssembly: masks identical, samples within 1 of the per-pixel loop', () => {
  assert.ok(wasmWarpAvailable(), 'the build ships dist/assembly/warp-kernels.wasm');
  const W = 240,
    H = 110;
  const { data, mask } = source(W, H, 3);
  for (const { rx, ry } of [
    { rx: 1.14, ry: 1.53 }, // 6 × 8 taps: the bench's 0.1° maps
    { rx: 0.8, ry: 0.95 }, // 4 × 4
    { rx: 1.9, ry: 3.1 }, // 8 × 14 taps
  ]) {
    const w = Math.floor(W / rx) - 2,
      h = Math.floor(H / ry) - 12;
    for (const m of [mask, undefined]) {
      const label = `${rx}×${ry} ${m ? 'masked' : 'unmasked'}`;
      const req: WarpRequest = {
        src: { data, width: W, height: H, channels: 3, mask: m, sampleType: 'uint8' },
        coords: separableCoords(w, h, rx, ry),
        dst: { width: w, height: h },
        kernel: 'bicubic',
        nodata: [255, 0, 7],
        scale: { x: rx, y: ry },
      };
      const two = warp(req);
      const one = warp({ ...req, twoPass: false });
      assert.deepEqual(two.mask, one.mask, label);
      const { max, differing } = sampleDifferences(two.data, one.data);
      assert.ok(max <= 1, `${label}: max |diff| ${max}`);
      assert.ok(differing <= one.data.length * 0.02, `${label}: ${differing} samples differ`);
    }
  }
});

function twoPassEqualsOnePass(): void {
  const W = 240,
    H = 110;
  const cases: { kernel: KernelName; rx: number; ry: number }[] = [
    { kernel: 'bicubic', rx: 1.14, ry: 1.53 }, // the bench's 0.1° maps at level 13: 6 × 8 taps
    { kernel: 'bicubic', rx: 1.6, ry: 0.9 },
    { kernel: 'bicubic', rx: 2.5, ry: 2.5 },
    { kernel: 'linear', rx: 1.15, ry: 0.8 },
    { kernel: 'linear', rx: 2.5, ry: 1.3 },
    { kernel: 'lanczos', rx: 0.9, ry: 0.9 },
    { kernel: 'lanczos', rx: 1.3, ry: 1.1 },
  ];
  for (const C of [1, 3, 4]) {
    const { data, mask } = source(W, H, C);
    for (const { kernel, rx, ry } of cases) {
      const w = Math.floor(W / rx) - 2,
        h = Math.floor(H / ry) - 12;
      const xy = separableCoords(w, h, rx, ry);
      for (const m of [mask, undefined]) {
        for (const float of [false, true]) {
          const label = `${kernel} ${rx}×${ry} C=${C} ${m ? 'masked' : 'unmasked'}${float ? ' float32' : ''}`;
          const req: WarpRequest = {
            src: {
              data: float ? Float32Array.from(data) : data,
              width: W,
              height: H,
              channels: C,
              mask: m,
              sampleType: float ? 'float32' : 'uint8',
            },
            coords: xy,
            dst: { width: w, height: h },
            kernel,
            nodata: [255, 0, 7, 9].slice(0, C),
            scale: { x: rx, y: ry },
          };
          const two = warp(req);
          const one = warp({ ...req, twoPass: false });
          assert.deepEqual(two.mask, one.mask, label);
          assert.deepEqual(two.data, one.data, label);
          // Into reused arrays (larger, holding an earlier result) and told the positions are separable: the same.
          const into = { data: float ? new Float32Array(w * h * C + 50).fill(3) : noise(w * h * C + 50, 3), mask: noise(w * h + 9, 4) };
          const reused = warp({ ...req, coords: { ...xy, separable: true }, into });
          assert.deepEqual(reused.mask, one.mask, `${label} (into)`);
          assert.deepEqual(reused.data, one.data, `${label} (into)`);
          let valid = 0;
          for (const v of one.mask) if (v) valid++;
          assert.ok(valid > 0.5 * w * h && valid < w * h, `${label}: ${valid} valid pixels (edges and holes both met)`);
        }
      }
    }
  }
}
