/**
 * Worker-thread tasks of raster-to-pyramid (run through the piscina pool, DESIGN §6): one task = one
 * slab. Pixels come back as transferred buffers, never JSON.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { approximateTransform, type GeoTransform } from '../../src/raster/approx-transform.js';
import { createTransform, type CoordinateTransform, type CrsInfo } from '../../src/raster/crs.js';
import { assembleQuadrants, average2x2 } from '../../src/raster/downsample.js';
import { clipWindow, openRasterWindows, type RasterInfo } from '../../src/raster/geotiff-source.js';
import { KERNELS, type KernelName } from '../../src/raster/kernels.js';
import { estimateScale, warp } from '../../src/raster/warp.js';
import { SlabEncoder, type SlabSpec } from './slab-encoder.js';

/** Half-resolution pixels of a slab (its share of the parent slab, rok4.md §8.5). */
export interface HalfSlab {
  data: Uint8Array | Float32Array;
  mask: Uint8Array;
}

export interface SlabResult {
  /** No valid pixel: nothing to write, the parent treats it as missing. */
  empty: boolean;
  data?: Uint8Array;
  mask?: Uint8Array;
  half?: HalfSlab;
  validPixels: number;
}

export interface BottomSlabTask {
  spec: SlabSpec;
  interpolation: KernelName;
  tmsCrs: CrsInfo;
  /** Top-left corner of the slab and the level's cellSize, in the TMS CRS. */
  xmin: number;
  ymax: number;
  resolution: number;
  images: RasterInfo[];
}

export interface UpperSlabTask {
  spec: SlabSpec;
  /** Halves of the children (2c,2r), (2c+1,2r), (2c,2r+1), (2c+1,2r+1); null when absent or empty. */
  children: [HalfSlab | null, HalfSlab | null, HalfSlab | null, HalfSlab | null];
}

const transforms = new Map<string, CoordinateTransform>();
function transformFor(from: CrsInfo, to: CrsInfo): CoordinateTransform {
  const k = `${from.proj4}|${to.proj4}`;
  let t = transforms.get(k);
  if (!t) {
    t = createTransform(from, to);
    transforms.set(k, t);
  }
  return t;
}

function filled(sampleType: 'uint8' | 'float32', pixels: number, nodata: number[]): Uint8Array | Float32Array {
  const C = nodata.length;
  const out = sampleType === 'uint8' ? new Uint8Array(pixels * C) : new Float32Array(pixels * C);
  if (nodata.some((v) => v !== 0)) for (let p = 0; p < pixels; p++) for (let c = 0; c < C; c++) out[p * C + c] = nodata[c];
  return out;
}

/** Keeps the first `to` channels of interleaved pixels (drops an alpha band already turned into the mask). */
function keepChannels<T extends Uint8Array | Float32Array>(data: T, from: number, to: number): T {
  if (from === to) return data;
  const n = data.length / from;
  const out = new (data.constructor as { new (n: number): T })(n * to);
  for (let p = 0; p < n; p++) for (let c = 0; c < to; c++) out[p * to + c] = data[p * from + c];
  return out;
}

/** A view that owns its whole ArrayBuffer (pooled Buffers share theirs and cannot be moved). */
function owned<T extends Uint8Array | Float32Array>(v: T): T {
  if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && !(v.buffer instanceof SharedArrayBuffer)) return v;
  return v.slice() as T;
}

/** Sends the result's pixel buffers back by transfer, not by copy (DESIGN §6). */
function transferable(r: SlabResult): SlabResult {
  if (r.empty) return r;
  const value: SlabResult = {
    ...r,
    data: r.data && owned(r.data),
    mask: r.mask && owned(r.mask),
    half: r.half && { data: owned(r.half.data), mask: owned(r.half.mask) },
  };
  const list = [...new Set([value.data, value.mask, value.half?.data, value.half?.mask].filter((v) => v).map((v) => v!.buffer))];
  return move({
    get [transferableSymbol]() {
      return list;
    },
    get [valueSymbol]() {
      return value;
    },
  } as never) as unknown as SlabResult;
}

/**
 * A bottom-level slab (rok4.md §8.4): for each strip of one tile row, every image touching it is read
 * (only the window it needs, from the overview closest below the target resolution), warped onto the
 * strip with an approximate transformer and the chosen kernel (masked pixels excluded from the weights),
 * and stacked in order (later images win where they have data). Strips are encoded at once and
 * halved for the parent level, so memory holds one strip, not the slab.
 */
export async function bottomSlab(task: BottomSlabTask): Promise<SlabResult> {
  const { spec } = task;
  const W = spec.tilesPerWidth * spec.tileWidth;
  const th = spec.tileHeight;
  const encoder = new SlabEncoder(spec);
  const half: HalfSlab = { data: filled(spec.sampleType, (W / 2) * (spec.tilesPerHeight * th / 2), spec.nodata), mask: new Uint8Array((W / 2) * (spec.tilesPerHeight * th / 2)) };
  const radius = KERNELS[task.interpolation]?.radius ?? 2;

  for (let r = 0; r < spec.tilesPerHeight; r++) {
    const data = filled(spec.sampleType, W * th, spec.nodata);
    const mask = new Uint8Array(W * th);
    const gt: GeoTransform = [task.xmin, task.resolution, 0, task.ymax - r * th * task.resolution, 0, -task.resolution];
    for (const info of task.images) {
      const exact = transformFor(task.tmsCrs, info.crs);
      const coords = approximateTransform(exact, { width: W, height: th, geoTransform: gt }, info.geoTransform);
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      const { srcX, srcY } = coords;
      for (let i = 0; i < srcX.length; i++) {
        const x = srcX[i], y = srcY[i];
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
      if (!(maxX >= 0 && maxY >= 0 && minX <= info.width && minY <= info.height)) continue;
      const scale = estimateScale(coords, W, th);
      // The overview whose decimation is closest below the target resolution (DESIGN §6).
      const ratio = Math.min(scale.x, scale.y);
      let overview: number | undefined;
      let factor = 1;
      info.overviews.forEach((ov, i) => {
        const f = info.width / ov.width;
        if (f <= ratio && f > factor) {
          factor = f;
          overview = i;
        }
      });
      const fy = overview === undefined ? 1 : info.height / info.overviews[overview].height;
      const margin = Math.ceil(radius * Math.max(1, ratio / factor)) + 2;
      const window = clipWindow(info, {
        x: Math.floor(minX / factor) - margin,
        y: Math.floor(minY / fy) - margin,
        width: Math.ceil(maxX / factor) - Math.floor(minX / factor) + 2 * margin,
        height: Math.ceil(maxY / fy) - Math.floor(minY / fy) + 2 * margin,
        overview,
      });
      if (!window) continue;
      if (factor !== 1 || fy !== 1 || window.x !== 0 || window.y !== 0) {
        for (let i = 0; i < srcX.length; i++) {
          srcX[i] = srcX[i] / factor - window.x;
          srcY[i] = srcY[i] / fy - window.y;
        }
      }
      const read = await openRasterWindows(info).read(window);
      const warped = warp({
        src: { data: keepChannels(read.data, read.channels, spec.channels), width: read.width, height: read.height, channels: spec.channels, mask: read.mask, sampleType: spec.sampleType },
        coords,
        dst: { width: W, height: th },
        kernel: task.interpolation,
        nodata: spec.nodata,
        scale: { x: scale.x / factor, y: scale.y / fy },
      });
      // Stack: a pixel is overwritten only where this image has data (§8.4 step 3).
      const C = spec.channels;
      for (let p = 0; p < mask.length; p++) {
        if (warped.mask[p] === 0) continue;
        mask[p] = 255;
        for (let c = 0; c < C; c++) data[p * C + c] = warped.data[p * C + c];
      }
    }
    await encoder.addStrip(data, mask);
    const h = average2x2({ data, mask, width: W, height: th, channels: spec.channels, sampleType: spec.sampleType }, spec.mask, spec.nodata, 'any');
    half.data.set(h.data, r * (th / 2) * (W / 2) * spec.channels);
    half.mask.set(h.mask, r * (th / 2) * (W / 2));
  }
  if (encoder.validPixels === 0) return { empty: true, validPixels: 0 };
  const slab = encoder.finish();
  return transferable({ empty: false, data: slab.data, mask: slab.mask, half, validPixels: encoder.validPixels });
}

/**
 * An upper-level slab (rok4.md §8.5): the four children's halves joined, encoded, and halved again
 * for the next level up. Masks of blocks use the "any data" rule, a compatible simplification that
 * never drops averaged data (§8.5).
 */
export async function upperSlab(task: UpperSlabTask): Promise<SlabResult> {
  const { spec } = task;
  const W = spec.tilesPerWidth * spec.tileWidth;
  const H = spec.tilesPerHeight * spec.tileHeight;
  const joined = assembleQuadrants(task.children, W / 2, H / 2, spec.channels, spec.sampleType, spec.nodata);
  const encoder = new SlabEncoder(spec);
  await encoder.addStrip(joined.data, joined.mask, spec.tilesPerHeight);
  if (encoder.validPixels === 0) return { empty: true, validPixels: 0 };
  const half = average2x2({ data: joined.data, mask: joined.mask, width: W, height: H, channels: spec.channels, sampleType: spec.sampleType }, spec.mask, spec.nodata, 'any');
  const slab = encoder.finish();
  return transferable({ empty: false, data: slab.data, mask: slab.mask, half, validPixels: encoder.validPixels });
}
