/**
 * Worker-thread tasks of raster-to-pyramid (run through the piscina pool, DESIGN §6): one task = one
 * slab. Pixels come back as transferred buffers, never JSON.
 */
import { moveWith } from '../../src/workers/transfer.js';
import sharp from 'sharp';
import { approximateTransform, type GeoTransform } from '../../src/raster/approx-transform.js';
import { createTransform, type CoordinateTransform, type CrsInfo } from '../../src/raster/crs.js';
import { assembleQuadrants, average2x2, fillFromBackground } from '../../src/raster/downsample.js';
import { BandedWindowReader, bandHeightFor } from '../../src/raster/banded-reader.js';
import { clipWindow, levelSize, openRasterWindows, type RasterInfo, type RasterWindow } from '../../src/raster/geotiff-source.js';
import { KERNELS, type KernelName } from '../../src/raster/kernels.js';
import { estimateRealScale, maskBlocks, warp, type RasterImage } from '../../src/raster/warp.js';
import { extractTile, scanMask, SlabEncoder, type SlabSpec } from '../../src/pyramid/slab-encoder.js';
import { decodeBackgroundTile, readBackground, readEncodedBackground, type BackgroundRef, type EncodedBackground } from './background.js';
import { throwIfCancelled } from '../../src/workers/cancellation.js';
import { newHalf, recycleHalves, recycleTile, spareTile } from './spare-arrays.js';

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
  /** Update: the ancestor's slab at this place, kept where the new images have no data (rok4.md §8.7.4). */
  background?: BackgroundRef;
}

export interface UpperSlabTask {
  spec: SlabSpec;
  /** Halves of the children (2c,2r), (2c+1,2r), (2c,2r+1), (2c+1,2r+1); null when absent or empty. */
  children: [HalfSlab | null, HalfSlab | null, HalfSlab | null, HalfSlab | null];
  /** Update: the ancestor's slab, for quadrants not recomputed and masked-out areas (rok4.md §8.5, §8.7.5). */
  background?: BackgroundRef;
}

// libvips keeps recent operations (and their decoded source tiles) in a process-wide cache, 50 MB
// by default; consecutive strips reuse a few tiles only, so a small cache keeps peak RSS down.
sharp.cache({ memory: 16, items: 20, files: 4 });

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
  return moveWith(
    value,
    [value.data, value.mask, value.half?.data, value.half?.mask].filter((v) => v).map((v) => v!.buffer),
  );
}

/**
 * Halves the `w × h` region at (x0, y0) of an image `width` pixels wide into `out` (an image
 * `outWidth` pixels wide) at (x0/2, y0/2), with the masked 2×2 average and the "any" mask rule of
 * rok4.md §8.5 — the same values as `average2x2(…, 'any')`, region by region so that regions without
 * data are skipped (`out` already holds nodata and mask 0 there). uint8 with masks has a fast path.
 */
function halveRegion(
  spec: SlabSpec,
  data: Uint8Array | Float32Array,
  mask: Uint8Array,
  width: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
  out: HalfSlab,
  outWidth: number,
  full = false,
): void {
  const C = spec.channels;
  const ow = w >> 1,
    oh = h >> 1;
  const ox = x0 >> 1,
    oy = y0 >> 1;
  if (full && C === 3 && spec.sampleType === 'uint8') {
    halveFullRgb8(data as Uint8Array, width, x0, y0, ow, oh, out.data as Uint8Array, out.mask, outWidth, ox, oy);
    return;
  }
  if (spec.sampleType !== 'uint8' || !spec.mask) {
    const region = average2x2(
      {
        data: extractTile(data, width, C, x0, y0, w, h),
        mask: extractTile(mask, width, 1, x0, y0, w, h),
        width: w,
        height: h,
        channels: C,
        sampleType: spec.sampleType,
      },
      spec.mask,
      spec.nodata,
      'any',
    );
    for (let y = 0; y < oh; y++) {
      out.data.set(region.data.subarray(y * ow * C, (y + 1) * ow * C), ((oy + y) * outWidth + ox) * C);
      out.mask.set(region.mask.subarray(y * ow, (y + 1) * ow), (oy + y) * outWidth + ox);
    }
    return;
  }
  const d = data as Uint8Array;
  const o = out.data as Uint8Array;
  const om = out.mask;
  const nodata = spec.nodata;
  for (let y = 0; y < oh; y++) {
    let p00 = (y0 + 2 * y) * width + x0;
    let q = (oy + y) * outWidth + ox;
    for (let x = 0; x < ow; x++, p00 += 2, q++) {
      const p01 = p00 + width;
      const m00 = mask[p00],
        m10 = mask[p00 + 1],
        m01 = mask[p01],
        m11 = mask[p01 + 1];
      const a = p00 * C,
        b = a + C,
        c0 = p01 * C,
        e = c0 + C,
        t = q * C;
      if ((m00 & m10 & m01 & m11) === 255 || (m00 !== 0 && m10 !== 0 && m01 !== 0 && m11 !== 0)) {
        om[q] = 255;
        for (let c = 0; c < C; c++) o[t + c] = (d[a + c] + d[b + c] + d[c0 + c] + d[e + c]) >> 2;
        continue;
      }
      const n = (m00 !== 0 ? 1 : 0) + (m10 !== 0 ? 1 : 0) + (m01 !== 0 ? 1 : 0) + (m11 !== 0 ? 1 : 0);
      if (n === 0) {
        om[q] = 0;
        for (let c = 0; c < C; c++) o[t + c] = nodata[c];
        continue;
      }
      om[q] = 255;
      for (let c = 0; c < C; c++) {
        const sum = (m00 !== 0 ? d[a + c] : 0) + (m10 !== 0 ? d[b + c] : 0) + (m01 !== 0 ? d[c0 + c] : 0) + (m11 !== 0 ? d[e + c] : 0);
        o[t + c] = Math.floor(sum / n);
      }
    }
  }
}

/**
 * {@link halveRegion} of 8-bit RGB whose mask is 255 everywhere (most bottom tiles): the plain 2×2 mean,
 * no mask test per pixel, the three channels unrolled; the output mask is 255.
 */
function halveFullRgb8(
  d: Uint8Array,
  width: number,
  x0: number,
  y0: number,
  ow: number,
  oh: number,
  o: Uint8Array,
  om: Uint8Array,
  outWidth: number,
  ox: number,
  oy: number,
): void {
  const rowBytes = width * 3;
  for (let y = 0; y < oh; y++) {
    let a = ((y0 + 2 * y) * width + x0) * 3;
    let b = a + rowBytes;
    const q = (oy + y) * outWidth + ox;
    let t = q * 3;
    for (let x = 0; x < ow; x++, a += 6, b += 6, t += 3) {
      o[t] = (d[a] + d[a + 3] + d[b] + d[b + 3]) >> 2;
      o[t + 1] = (d[a + 1] + d[a + 4] + d[b + 1] + d[b + 4]) >> 2;
      o[t + 2] = (d[a + 2] + d[a + 5] + d[b + 2] + d[b + 5]) >> 2;
    }
    om.fill(255, q, q + ow);
  }
}

/**
 * Source pixels per target pixel above which the bottom-level kernel is widened. GDAL widens above
 * 1/0.95; between that and 1.5 the aliasing of a plain 4×4 kernel is invisible (one-pass 4×4 bicubic
 * scores 47–48 dB against `gdalwarp -r cubic` on the M raster at z13, ratio ~1.15, bench/README) while
 * the widened 6×6 kernel costs ~2.5x more: the warp is most of the pyramid's CPU. Above 1.5 an
 * overview is read or the kernel widened, as GDAL does.
 */
const WIDEN_ABOVE = 1.5;

/**
 * Bounds, in source pixels, of a target strip's outline (33 exact points per edge), and the mean source
 * pixels per target pixel along each axis; undefined when no edge point can be transformed.
 */
function stripOutline(
  exact: CoordinateTransform,
  gt: GeoTransform,
  W: number,
  H: number,
  sourceGt: GeoTransform,
): { minX: number; minY: number; maxX: number; maxY: number; scaleX: number; scaleY: number } | undefined {
  const n = 33;
  const xs = new Float64Array(4 * n),
    ys = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const u = (i / (n - 1)) * W,
      v = (i / (n - 1)) * H;
    const edges: Array<[number, number]> = [
      [u, 0],
      [u, H],
      [0, v],
      [W, v],
    ];
    edges.forEach(([px, py], e) => {
      xs[e * n + i] = gt[0] + px * gt[1] + py * gt[2];
      ys[e * n + i] = gt[3] + px * gt[4] + py * gt[5];
    });
  }
  exact(xs, ys);
  // Source CRS → source pixel (inverse of the source geotransform).
  const [x0, a, b, y0, c, d] = sourceGt;
  const det = a * d - b * c;
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
    const ex = xs[i] - x0,
      ey = ys[i] - y0;
    const px = (d * ex - b * ey) / det,
      py = (a * ey - c * ex) / det;
    xs[i] = px;
    ys[i] = py;
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
  }
  if (!(maxX >= minX)) return undefined;
  // Along the top edge for x, the left edge for y: source pixels crossed per target pixel.
  const span = (e: number, along: number) => Math.hypot(xs[e * n + n - 1] - xs[e * n], ys[e * n + n - 1] - ys[e * n]) / along;
  return { minX, minY, maxX, maxY, scaleX: span(0, W) || 1, scaleY: span(2, H) || 1 };
}

/** One image's part of a bottom slab: the level read (the overview closest below the target resolution) through bands. */
interface SlabSource {
  info: RasterInfo;
  exact: CoordinateTransform;
  bands: BandedWindowReader;
  /** Full-resolution pixels per pixel of the level read, along x and y. */
  factorX: number;
  factorY: number;
  /** Rows of margin around a strip's outline (kernel reach, in pixels of the level read). */
  margin: number;
  levelHeight: number;
}

/**
 * The images touching a bottom slab (from the slab's outline) and, for each, the level to read (DESIGN
 * §6: the overview whose decimation is closest below the target resolution) and the columns the slab
 * needs; their strips' windows are read through one banded reader, so each source block is decoded once.
 */
function prepareSlabSources(task: BottomSlabTask, W: number, H: number, radius: number): SlabSource[] {
  const sources: SlabSource[] = [];
  const gt: GeoTransform = [task.xmin, task.resolution, 0, task.ymax, 0, -task.resolution];
  for (const info of task.images) {
    const exact = transformFor(task.tmsCrs, info.crs);
    const outline = stripOutline(exact, gt, W, H, info.geoTransform);
    if (!outline || !(outline.maxX >= 0 && outline.maxY >= 0 && outline.minX <= info.width && outline.minY <= info.height)) continue;
    const ratio = Math.min(outline.scaleX, outline.scaleY);
    let overview: number | undefined;
    let factorX = 1;
    info.overviews.forEach((ov, i) => {
      const f = info.width / ov.width;
      if (f <= ratio && f > factorX) {
        factorX = f;
        overview = i;
      }
    });
    const factorY = overview === undefined ? 1 : info.height / info.overviews[overview].height;
    const margin = Math.ceil(radius * Math.max(1, ratio / factorX)) + 2;
    const window = clipWindow(info, {
      x: Math.floor(outline.minX / factorX) - margin,
      y: Math.floor(outline.minY / factorY) - margin,
      width: Math.ceil(outline.maxX / factorX) - Math.floor(outline.minX / factorX) + 2 * margin,
      height: Math.ceil(outline.maxY / factorY) - Math.floor(outline.minY / factorY) + 2 * margin,
      overview,
    });
    if (!window) continue;
    const levelHeight = levelSize(info, overview).height;
    const bands = new BandedWindowReader(openRasterWindows(info), {
      overview,
      x0: window.x,
      x1: window.x + window.width,
      levelHeight,
      bandHeight: bandHeightFor(info.blockHeight),
      // A strip's windows are in use while the next strip's are read (the read-ahead): two strips' worth.
      recycle: 2 * Math.ceil(task.spec.tilesPerWidth / TILES_PER_WINDOW),
    });
    sources.push({ info, exact, bands, factorX, factorY, margin, levelHeight });
  }
  return sources;
}

/**
 * Tiles of a strip read as one window. A window is the bounding box of its tiles' footprint in the
 * source; the rotation between the two CRSs (Lambert-93 against Web Mercator: 4–5°) makes the box of a
 * whole 16-tile strip about twice as tall as the strip, so every source pixel was copied out of the bands
 * twice, and its mask scanned twice (on L: 3 s of copies per thread). Over 2 tiles the box hugs the
 * footprint. Measured (issue 16, bench:pyramid --sizes "M L" --only ours, runs alternated): whole strips
 * M 297–360 tiles/s, L 296–332; 4 tiles M 315–352, L 331–343; 2 tiles M 339–376, L 336–357; 1 tile no better.
 */
const TILES_PER_WINDOW = 2;

/** One image's part of a strip (some of its tiles): the coordinates and the window being read (started ahead of the warp). */
interface StripSource {
  exact: CoordinateTransform;
  /** Geotransform of the whole strip (tile `t` starts at column `t × tileWidth`). */
  target: GeoTransform;
  windowGt: GeoTransform;
  /** The strip's tiles [first, end) this window serves. */
  tiles: [number, number];
  read: Promise<RasterWindow>;
}

/**
 * Starts the reads of one strip of a bottom slab: for every image of the slab touching it, and every
 * run of {@link TILES_PER_WINDOW} tiles, the rows and columns their outline needs (plus the kernel's
 * margin). The reads run on the threadpool while the caller warps the previous strip.
 */
function prepareStrip(task: BottomSlabTask, slabSources: SlabSource[], r: number, W: number, th: number): StripSource[] {
  const sources: StripSource[] = [];
  const tw = task.spec.tileWidth;
  const tiles = W / tw;
  const gt: GeoTransform = [task.xmin, task.resolution, 0, task.ymax - r * th * task.resolution, 0, -task.resolution];
  for (const s of slabSources) {
    const { info, exact, factorX, factorY, margin } = s;
    const planned: Array<{ tiles: [number, number]; y0: number; y1: number; x0: number; x1: number }> = [];
    for (let t0 = 0; t0 < tiles; t0 += TILES_PER_WINDOW) {
      const t1 = Math.min(tiles, t0 + TILES_PER_WINDOW);
      const part: GeoTransform = [gt[0] + t0 * tw * gt[1], gt[1], gt[2], gt[3] + t0 * tw * gt[4], gt[4], gt[5]];
      // Where these tiles fall in the image, from their outline only (exact transform of its edges): tiles
      // outside the image cost nothing, and the coordinates below come out relative to the window read.
      const outline = stripOutline(exact, part, (t1 - t0) * tw, th, info.geoTransform);
      if (!outline || !(outline.maxX >= 0 && outline.maxY >= 0 && outline.minX <= info.width && outline.minY <= info.height)) continue;
      const y0 = Math.max(0, Math.floor(outline.minY / factorY) - margin);
      const y1 = Math.min(s.levelHeight, Math.ceil(outline.maxY / factorY) + margin);
      const x0 = Math.max(s.bands.x0, Math.floor(outline.minX / factorX) - margin);
      const x1 = Math.min(s.bands.x0 + s.bands.width, Math.ceil(outline.maxX / factorX) + margin);
      if (y1 > y0 && x1 > x0) planned.push({ tiles: [t0, t1], y0, y1, x0, x1 });
    }
    // The bands this strip needs stay until its last window is read (its runs of tiles start on different rows).
    const keepFrom = Math.min(...planned.map((p) => p.y0));
    const [gx, dx, rx, gy, ry, dy] = info.geoTransform;
    for (const p of planned) {
      const wx = p.x0 * factorX,
        wy = p.y0 * factorY;
      const windowGt: GeoTransform = [
        gx + wx * dx + wy * rx,
        dx * factorX,
        rx * factorY,
        gy + wx * ry + wy * dy,
        ry * factorX,
        dy * factorY,
      ];
      const read = s.bands.read(p.y0, p.y1, { x0: p.x0, x1: p.x1 }, keepFrom);
      // A failed read ahead is reported when the strip is warped, not as an unhandled rejection.
      read.catch(() => undefined);
      sources.push({ exact, target: gt, windowGt, tiles: p.tiles, read });
    }
  }
  return sources;
}

/** Per-worker arrays for a tile's source coordinates, reused tile after tile (warp reads them synchronously). */
let scratch: { srcX: Float32Array; srcY: Float32Array } | undefined;
function coordinateScratch(n: number): { srcX: Float32Array; srcY: Float32Array } {
  if (!scratch || scratch.srcX.length < n) scratch = { srcX: new Float32Array(n), srcY: new Float32Array(n) };
  return scratch;
}

/** One image's window under a strip, ready to be warped tile by tile. */
interface StripWindow {
  exact: CoordinateTransform;
  /** Geotransform of the strip (target) and of the window read (source). */
  target: GeoTransform;
  windowGt: GeoTransform;
  /** The strip's tiles [first, end) it serves. */
  tiles: [number, number];
  src: RasterImage;
}

/**
 * The windows of one strip, once read: images whose window holds no valid pixel are left out (collars,
 * margins), a window without any masked pixel is warped as if it had no mask (same results, no mask
 * tests), and the mask's block table is built once for all the strip's tiles.
 */
async function stripWindows(task: BottomSlabTask, sources: StripSource[]): Promise<StripWindow[]> {
  const { spec } = task;
  const windows: StripWindow[] = [];
  for (const source of sources) {
    const read = await source.read;
    const blocks = read.mask ? maskBlocks(read.mask, read.width, read.height) : undefined;
    if (blocks && !blocks.anyValid) continue;
    windows.push({
      exact: source.exact,
      target: source.target,
      windowGt: source.windowGt,
      tiles: source.tiles,
      src: {
        data: keepChannels(read.data, read.channels, spec.channels),
        width: read.width,
        height: read.height,
        channels: spec.channels,
        ...(blocks ? { mask: read.mask, maskBlocks: blocks } : {}),
        sampleType: spec.sampleType,
      },
    });
  }
  return windows;
}

/**
 * Warped pixels of tile `t` of a strip, every image stacked; undefined when no image has data there.
 * Tile by tile (not the whole strip at once) so that the coordinates, the output and the tile's
 * later steps (mask scan, halving, encoding) stay in the CPU caches.
 */
function warpTile(
  task: BottomSlabTask,
  windows: StripWindow[],
  t: number,
): { data: Uint8Array | Float32Array; mask: Uint8Array } | undefined {
  const { spec } = task;
  const tw = spec.tileWidth,
    th = spec.tileHeight;
  let data: Uint8Array | Float32Array | undefined;
  let mask: Uint8Array | undefined;
  for (const w of windows) {
    if (t < w.tiles[0] || t >= w.tiles[1]) continue;
    const gt: GeoTransform = [
      w.target[0] + t * tw * w.target[1],
      w.target[1],
      w.target[2],
      w.target[3] + t * tw * w.target[4],
      w.target[4],
      w.target[5],
    ];
    const coords = approximateTransform(w.exact, { width: tw, height: th, geoTransform: gt }, w.windowGt, undefined, {
      into: coordinateScratch(tw * th),
    });
    const warped = warp({
      src: w.src,
      coords,
      dst: { width: tw, height: th },
      kernel: task.interpolation,
      nodata: spec.nodata,
      // The real scale, not the rotation-inflated footprint: Lambert-93 → PM at 1.40–1.44 source pixels per
      // target pixel measured 1.49–1.56 and took the widened 8×8 path on 92 % of L's bottom tiles (issue 16).
      scale: estimateRealScale(coords, tw, th),
      widenAbove: WIDEN_ABOVE,
      into: spareTile(spec.sampleType, tw * th, spec.channels),
    });
    if (!data || !mask) {
      // The first image with data: its result is the tile (warp writes nodata under mask 0).
      data = warped.data;
      mask = warped.mask;
      continue;
    }
    // Stack: a pixel is overwritten only where this image has data (§8.4 step 3).
    const C = spec.channels;
    for (let p = 0; p < mask.length; p++) {
      if (warped.mask[p] === 0) continue;
      mask[p] = 255;
      for (let c = 0; c < C; c++) data[p * C + c] = warped.data[p * C + c];
    }
    recycleTile(warped);
  }
  return data && mask ? { data, mask } : undefined;
}

/**
 * A bottom-level slab (rok4.md §8.4): for each strip of one tile row, every image touching it is read
 * (only the window it needs, from the overview closest below the target resolution), warped onto the
 * strip with an approximate transformer and the chosen kernel (masked pixels excluded from the weights),
 * and stacked in order (later images win where they have data). Each strip's tiles are handed to the
 * encoder (JPEG runs on the threadpool while the next strip is warped) and halved for the parent level,
 * tile by tile, skipping tiles without data: memory holds a strip or two, not the slab.
 */
export async function bottomSlab(task: BottomSlabTask): Promise<SlabResult> {
  const { spec } = task;
  const tw = spec.tileWidth;
  const W = spec.tilesPerWidth * tw;
  const th = spec.tileHeight;
  const encoder = new SlabEncoder(spec);
  const halfWidth = W >> 1;
  const half = newHalf(spec, halfWidth * ((spec.tilesPerHeight * th) >> 1));
  const radius = KERNELS[task.interpolation]?.radius ?? 2;
  // For an update, the old slab is the background (see settleTile).
  const settle: TileSettling = { spec, encoder, half, halfWidth, background: await readEncodedBackground(task.background) };

  const slabSources = prepareSlabSources(task, W, spec.tilesPerHeight * th, radius);
  let next = prepareStrip(task, slabSources, 0, W, th);
  try {
    for (let r = 0; r < spec.tilesPerHeight; r++) {
      // One strip of encodes may run behind the warp of the next one; not more (memory).
      if (encoder.pendingCount > spec.tilesPerWidth) await encoder.flush();
      const sources = next;
      // The next strip's windows are read while this one is warped.
      next = r + 1 < spec.tilesPerHeight ? prepareStrip(task, slabSources, r + 1, W, th) : [];
      const windows = await stripWindows(task, sources);
      for (let t = 0; t < spec.tilesPerWidth; t++) {
        throwIfCancelled();
        await settleTile(settle, r * spec.tilesPerWidth + t, t, r, windows.length ? warpTile(task, windows, t) : undefined);
      }
    }
  } finally {
    for (const s of slabSources) s.bands.release();
  }
  if (encoder.validPixels === 0) {
    await encoder.flush();
    recycleHalves([half]);
    return { empty: true, validPixels: 0 };
  }
  const slab = await encoder.finish();
  return transferable({ empty: false, data: slab.data, mask: slab.mask, half, validPixels: encoder.validPixels });
}

/** Old tile pixels under the new ones (rok4.md §8.7.4): taken where the new mask is 0 and the old one is not. */
function overlayTile(
  strip: { data: Uint8Array | Float32Array; mask: Uint8Array },
  W: number,
  x0: number,
  tw: number,
  th: number,
  old: { data: Uint8Array | Float32Array; mask: Uint8Array },
  C: number,
): void {
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const p = y * W + x0 + x;
      const q = y * tw + x;
      if (strip.mask[p] !== 0 || old.mask[q] === 0) continue;
      strip.mask[p] = old.mask[q];
      for (let c = 0; c < C; c++) strip.data[p * C + c] = old.data[q * C + c];
    }
  }
}

/** What settling a tile needs: the slab's encoder and half, and for updates the ancestor's slab. */
interface TileSettling {
  spec: SlabSpec;
  encoder: SlabEncoder;
  half: HalfSlab;
  halfWidth: number;
  background: EncodedBackground | null;
}

/**
 * Hands tile (`tileCol`, `tileRow`) of a slab to the encoder and halves it into the slab's half. For an
 * update (rok4.md §8.7.4–5) the ancestor's tile is the background: copied encoded when the new pixels
 * leave the tile empty (and then not halved: the level above takes that part from its own old slab, whose
 * pixels were averaged from this very tile), or decoded under the new pixels when they cover it partly.
 */
async function settleTile(
  ctx: TileSettling,
  index: number,
  tileCol: number,
  tileRow: number,
  tile: { data: Uint8Array | Float32Array; mask: Uint8Array } | undefined,
): Promise<void> {
  const { spec, encoder, background } = ctx;
  const tw = spec.tileWidth,
    th = spec.tileHeight,
    C = spec.channels;
  let scan = tile ? scanMask(tile.mask) : { valid: 0, full: false };
  if (background && !scan.full && background.data.tiles[index]) {
    if (scan.valid === 0) {
      encoder.setEncodedTile(index, background.data.tiles[index]!, background.mask?.tiles[index] ?? null, 1);
      if (tile) recycleTile(tile);
      return;
    }
    const old = await decodeBackgroundTile(background, index);
    if (old) {
      overlayTile(tile!, tw, 0, tw, th, old, C);
      scan = scanMask(tile!.mask);
    }
  }
  if (!tile || scan.valid === 0) {
    await encoder.setTile(index, null, null);
    if (tile) recycleTile(tile);
    return;
  }
  const encoded = encoder.setTile(index, tile.data, tile.mask, scan);
  const offset = ((tileRow * th) >> 1) * ctx.halfWidth + ((tileCol * tw) >> 1);
  halveRegion(
    spec,
    tile.data,
    tile.mask,
    tw,
    0,
    0,
    tw,
    th,
    { data: ctx.half.data.subarray(offset * C), mask: ctx.half.mask.subarray(offset) },
    ctx.halfWidth,
    scan.full,
  );
  // The arrays serve another tile once the encoder no longer reads them (JPEG: after its encode).
  void encoded.then(() => recycleTile(tile));
}

/** Whether the `w × h` region at (x0, y0) of a mask `width` pixels wide holds a nonzero value. */
function regionHasData(mask: Uint8Array, width: number, x0: number, y0: number, w: number, h: number): boolean {
  // Four mask bytes at a time when rows start on 4-byte boundaries (tiles of 256 in a half slab): the top
  // levels scan whole empty quadrants, 16 MB per slab.
  const words = (mask.byteOffset | width | x0 | w) % 4 === 0 ? new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2) : undefined;
  for (let y = 0; y < h; y++) {
    const s = (y0 + y) * width + x0;
    if (words) {
      for (let i = s >> 2, end = (s + w) >> 2; i < end; i++) if (words[i] !== 0) return true;
    } else for (let x = s; x < s + w; x++) if (mask[x] !== 0) return true;
  }
  return false;
}

/**
 * An upper-level slab (rok4.md §8.5): the four children's halves are the four quadrants of the slab;
 * each of their tiles is encoded straight from the child (no joined copy) and halved again for the
 * next level up, tiles without data skipped (top levels are mostly nodata). Masks of blocks use the
 * "any data" rule, a compatible simplification that never drops averaged data (§8.5).
 */
export async function upperSlab(task: UpperSlabTask): Promise<SlabResult> {
  const { spec } = task;
  const tw = spec.tileWidth,
    th = spec.tileHeight;
  const tpw = spec.tilesPerWidth,
    tph = spec.tilesPerHeight;
  const W = tpw * tw;
  const H = tph * th;
  // Odd sizes: quadrants are not tile-aligned, so they are joined first.
  if (tpw % 2 !== 0 || tph % 2 !== 0 || tw % 2 !== 0 || th % 2 !== 0) return upperSlabJoined(task);
  const C = spec.channels;
  const encoder = new SlabEncoder(spec);
  const halfWidth = W >> 1;
  const half = newHalf(spec, halfWidth * (H >> 1));
  const qw = tpw >> 1,
    qh = tph >> 1;
  const childWidth = W >> 1;
  // Update (rok4.md §8.5, §8.7.5): the old parent fills the quadrants not recomputed and the areas the
  // children leave without data; its tiles the children do not touch are copied encoded (and not
  // halved: the next level takes those parts from its own old slab).
  const settle: TileSettling = { spec, encoder, half, halfWidth, background: await readEncodedBackground(task.background) };
  for (let q = 0; q < 4; q++) {
    const child = task.children[q];
    const col0 = (q & 1) * qw,
      row0 = (q >> 1) * qh;
    for (let ty = 0; ty < qh; ty++) {
      for (let tx = 0; tx < qw; tx++) {
        throwIfCancelled();
        // Tiles without data (most of the top levels) are recognised in place, without a copy.
        const hasData = child !== null && regionHasData(child.mask, childWidth, tx * tw, ty * th, tw, th);
        const spare = hasData ? spareTile(spec.sampleType, tw * th, C) : undefined;
        const tile = hasData
          ? {
              data: extractTile(child.data, childWidth, C, tx * tw, ty * th, tw, th, spare?.data),
              mask: extractTile(child.mask, childWidth, 1, tx * tw, ty * th, tw, th, spare?.mask),
            }
          : undefined;
        await settleTile(settle, (row0 + ty) * tpw + col0 + tx, col0 + tx, row0 + ty, tile);
      }
    }
    if (encoder.pendingCount > 2 * tpw) await encoder.flush();
  }
  if (encoder.validPixels === 0) {
    await encoder.flush();
    recycleHalves([...task.children, half]);
    return { empty: true, validPixels: 0 };
  }
  const slab = await encoder.finish();
  // Every tile is encoded and halved: the children's halves are no longer read.
  recycleHalves(task.children);
  return transferable({ empty: false, data: slab.data, mask: slab.mask, half, validPixels: encoder.validPixels });
}

/**
 * Upper slab from the joined quadrants: for odd slab or tile sizes (quadrants not tile-aligned), and for
 * updates, where the old parent fills the quadrants not recomputed and the masked-out areas (§8.5, §8.7.5).
 */
async function upperSlabJoined(task: UpperSlabTask): Promise<SlabResult> {
  const { spec } = task;
  const W = spec.tilesPerWidth * spec.tileWidth;
  const H = spec.tilesPerHeight * spec.tileHeight;
  const joined = assembleQuadrants(task.children, W / 2, H / 2, spec.channels, spec.sampleType, spec.nodata);
  const background = await readBackground(task.background);
  if (background) fillFromBackground(joined, { data: background.pixels, mask: background.mask }, spec.channels);
  const encoder = new SlabEncoder(spec);
  await encoder.addStrip(joined.data, joined.mask, spec.tilesPerHeight, 0);
  if (encoder.validPixels === 0) return { empty: true, validPixels: 0 };
  const half = average2x2(
    { data: joined.data, mask: joined.mask, width: W, height: H, channels: spec.channels, sampleType: spec.sampleType },
    spec.mask,
    spec.nodata,
    'any',
  );
  const slab = await encoder.finish();
  return transferable({ empty: false, data: slab.data, mask: slab.mask, half, validPixels: encoder.validPixels });
}
