/**
 * Micro-benchmark of the bottom-level warp (src/raster/warp.ts, specs/rok4.md §8.4): RGB uint8 source,
 * coordinates of a ~4° rotated affine map stored as float32 (what approximateTransform hands over), for
 * nn / linear / bicubic at several source-pixels-per-target-pixel ratios, with and without a source mask.
 *
 * Two target shapes: a 256×256 tile, and a 4096×256 strip (one tile row of a 16-tile slab, as the
 * pipeline calls `warp`). Prints ms per 256² target pixels.
 *
 * Usage: npx tsc -p . && node dist/bench/warp.js [--baseline DIR] [--quick] [--kernel nn|linear|bicubic]
 *   --baseline DIR: also times DIR/warp.js (a compiled older warp) and reports the largest |difference|
 *   between its output and ours, sample by sample, and how many samples differ.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { warp as currentWarp, type WarpRequest, type WarpResult } from '../src/raster/warp.js';
import type { KernelName } from '../src/raster/kernels.js';

type WarpFn = (req: WarpRequest) => WarpResult;

const args = process.argv.slice(2);
const baselineDir = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;
const quick = args.includes('--quick');
const ROTATION = (4 * Math.PI) / 180;
const RATIOS = [0.9, 1.15, 1.6, 2.5];
// --kernel K: one kernel only (the pipeline runs one kernel per job; mixing them in one process makes
// the JIT's call sites polymorphic and the figures pessimistic).
const KERNELS: KernelName[] = args.includes('--kernel') ? [args[args.indexOf('--kernel') + 1] as KernelName] : ['nn', 'linear', 'bicubic'];
const SHAPES = [
  { name: 'tile', width: 256, height: 256 },
  { name: 'strip', width: 4096, height: 256 },
];

/** Textured RGB source (sines + hash noise) and a mask with a wavy left collar and an elliptic hole (~12 % invalid). */
function makeSource(W: number, H: number): { data: Uint8Array; mask: Uint8Array } {
  const data = new Uint8Array(W * H * 3);
  const mask = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const noise = ((Math.imul(p, 2654435761) >>> 24) & 15) - 8;
      for (let c = 0; c < 3; c++) {
        const v = 125 + 50 * Math.sin(x / (17 + 6 * c)) + 40 * Math.cos(y / (29 - 5 * c)) + noise;
        data[p * 3 + c] = v < 0 ? 0 : Math.min(v, 255);
      }
      const collar = x < 60 + 20 * Math.sin(y / 13);
      const hole = ((x - W * 0.6) / (W * 0.05)) ** 2 + ((y - H * 0.5) / (H * 0.2)) ** 2 < 1;
      mask[p] = collar || hole ? 0 : 255;
    }
  }
  return { data, mask };
}

/** Source positions of target pixel centres: rotation by ROTATION, `ratio` source pixels per target pixel. */
function makeCoords(width: number, height: number, ratio: number, x0: number, y0: number): { srcX: Float32Array; srcY: Float32Array } {
  const srcX = new Float32Array(width * height),
    srcY = new Float32Array(width * height);
  const c = Math.cos(ROTATION) * ratio,
    s = Math.sin(ROTATION) * ratio;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const u = i + 0.5,
        v = j + 0.5;
      srcX[j * width + i] = x0 + c * u - s * v;
      srcY[j * width + i] = y0 + s * u + c * v;
    }
  }
  return { srcX, srcY };
}

function timeIt(fn: () => void, minMs: number): number {
  fn();
  fn();
  let runs = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    fn();
    runs++;
    t = performance.now();
  } while (t - t0 < minMs);
  return (t - t0) / runs;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; count: number } {
  let max = 0,
    count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) {
      count++;
      if (d > max) max = d;
    }
  }
  return { max, count };
}

async function main(): Promise<void> {
  let baseline: WarpFn | undefined;
  if (baselineDir) baseline = ((await import(pathToFileURL(path.resolve(baselineDir, 'warp.js')).href)) as { warp: WarpFn }).warp;
  const maxRatio = Math.max(...RATIOS);
  const W = Math.ceil(4096 * maxRatio * 1.01) + 40,
    H = Math.ceil((256 + 4096 * Math.sin(ROTATION)) * maxRatio) + 40;
  const { data, mask } = makeSource(W, H);
  const minMs = quick ? 150 : 400;
  console.log(
    `source ${W}×${H} RGB uint8, rotation 4°, coords float32; ms per 256² target pixels` +
      (baseline ? ' (baseline → current, speed-up, max|diff| / differing samples)' : ''),
  );
  for (const shape of SHAPES) {
    for (const kernel of KERNELS) {
      for (const ratio of RATIOS) {
        // Start 12 px in: the collar (and the left source edge) are inside the target.
        const coords = makeCoords(shape.width, shape.height, ratio, 12, 6);
        for (const masked of [false, true]) {
          const req: WarpRequest = {
            src: { data, width: W, height: H, channels: 3, mask: masked ? mask : undefined, sampleType: 'uint8' },
            coords,
            dst: { width: shape.width, height: shape.height },
            kernel,
            nodata: [255, 255, 255],
          };
          const perTile = (shape.width * shape.height) / 65536;
          const now = timeIt(() => currentWarp(req), minMs) / perTile;
          let line = `${shape.name.padEnd(5)} ${kernel.padEnd(7)} ratio ${ratio.toFixed(2)} ${masked ? 'masked  ' : 'unmasked'}`;
          if (baseline) {
            const before = timeIt(() => baseline!(req), minMs) / perTile;
            const a = baseline(req),
              b = currentWarp(req);
            const d = maxDiff(a.data, b.data),
              dm = maxDiff(a.mask, b.mask);
            line +=
              `  ${before.toFixed(2).padStart(6)} → ${now.toFixed(2).padStart(6)} ms  x${(before / now).toFixed(2)}  diff ${d.max}/${d.count}` +
              (dm.count ? ` MASK DIFF ${dm.count}` : '');
          } else {
            line += `  ${now.toFixed(2).padStart(6)} ms`;
          }
          console.log(line);
        }
      }
    }
  }
}

await main();
