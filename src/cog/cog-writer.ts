/**
 * COG writer (issue 12, cog.md §3–§4): turns a described source raster into a Cloud Optimized
 * GeoTIFF with GDAL's layout — ghost area, IFDs before data, tile leaders/trailers, overviews halving
 * until one tile (or `overviews` of them) computed from the full resolution with masked averaging,
 * a 1-bit DEFLATE mask IFD under lossy codecs (never a nodata value, cog.md §0.3), BigTIFF when the
 * file reaches 4 GiB, georeferencing only in IFD 0.
 *
 * Memory is bounded by strips of tiles: full-resolution strips are read and encoded in the worker
 * pool a few at a time; each returns its tiles, already framed, and itself halved, which feeds the
 * next level's strip. Encoded tiles go to one scratch file per level (only offsets stay in memory);
 * once every level is done the header and IFDs are computed and the levels are appended smallest
 * first. The result is stored through the Storage interface in one atomic step.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { RasterInfo } from '../raster/geotiff-source.js';
import { epsgKind, geoTiffTags, resolveLayout, type TiffEntry } from '../raster/geotiff-writer.js';
import type { Storage } from '../storage/storage.js';
import type { WorkerPool } from '../workers/pool.js';
import { CLASSIC_LIMIT, encodeHeaderAndIfds, headerSize, levelSizes, type IfdPlan, type LevelSize } from './layout.js';
import type { StripResult, StripTask } from './strip-tasks.js';
import { type PartedInput, type RowPart, sourceRowsFor } from './overview-resample.js';
import { checkCodec, COMPRESSION_TAG, isLossy, type CogCompression, type TileCodec } from './tile-codecs.js';
import type { ValidityGrid } from './footprint.js';

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'strip-tasks.js');

export interface CogOptions {
  /** Default 'jpeg' (with a mask IFD when the source has invalid pixels). */
  compression?: CogCompression;
  /** JPEG/WebP quality, default 90 (WebP 100 = lossless). */
  quality?: number;
  /** Tile side, 512 (default) or 256. */
  blockSize?: 256 | 512;
  /** Number of overview levels (the tiling process's `maxZoomLevel`); absent → halve until one tile. */
  overviews?: number;
  /** DEFLATE/LZW predictor (2 for 8-bit, 3 for float32). Default true for DEFLATE and LZW. */
  predictor?: boolean;
  /** 'auto' (default): BigTIFF only when the file would reach 4 GiB; true forces it. */
  bigTiff?: boolean | 'auto';
  /** Longer side of the validity grid kept for the footprint (default 4096). */
  footprintMaxSide?: number;
}

/** Where the COG goes: a Storage key (atomic), or a local path (tests, benchmarks). */
export type CogTarget = { storage: Storage; key: string } | { path: string };

export interface CogContext {
  pool: WorkerPool;
  signal?: AbortSignal;
  /** Scratch directory (default the OS temp directory). */
  tmpDir?: string;
  /** Called after each full-resolution strip: strips done, strips in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface CogResult {
  bytes: number;
  bigTiff: boolean;
  /** Full resolution first. */
  levels: LevelSize[];
  /** Image tiles written over all IFDs (the task's "Tiles created"). */
  tiles: number;
  /** How validity is stored: a mask IFD, a GDAL_NODATA value, or not at all (every pixel valid). */
  validity: 'mask' | 'nodata' | 'none';
  compression: CogCompression;
  /** Validity of the source at reduced resolution, for the footprint (cog.md §8). */
  grid: ValidityGrid;
}

interface LevelState extends LevelSize {
  index: number;
  file: string;
  fh: FileHandle;
  end: number;
  imageOffsets: Float64Array;
  imageCounts: Float64Array;
  maskOffsets: Float64Array;
  maskCounts: Float64Array;
  tileRowsDone: number;
  /** Strips handed to the pool (the next strip's row). */
  dispatched: number;
  /** Rows of the level above that this level's next strips still need, as they came (overviews). */
  parentRows?: RowPart[];
  /** Rows received so far (of the level above, or of this level when `prehalved`). */
  parentRowsIn?: number;
  /** The strips of the level above send this level's rows (an exact 2 × 2 halving of bytes) instead of theirs. */
  prehalved: boolean;
  /** Results are appended in strip order. */
  chain: Promise<void>;
}

/**
 * True when `level` is exactly half of `above` each way in bytes: its pixels are plain 2 × 2 means
 * (halveBytes), which the strips of `above` compute from the rows they hold.
 */
function isExactHalving(above: LevelSize, level: LevelSize, codec: TileCodec): boolean {
  return codec.sampleType === 'uint8' && above.width === 2 * level.width && above.height === 2 * level.height;
}

function epsgOf(info: RasterInfo): number {
  const m = /^EPSG:(\d+)$/.exec(info.crs.id);
  if (!m) throw new Error(`${info.path}: only EPSG CRSs can be written as GeoKeys (got ${info.crs.id})`);
  return Number(m[1]);
}

/** Writes `info` as a COG to `target`. Removes every partial file on failure or abort. */
export async function writeCog(info: RasterInfo, options: CogOptions, target: CogTarget, ctx: CogContext): Promise<CogResult> {
  const compression = options.compression ?? 'jpeg';
  const T = options.blockSize ?? 512;
  const dropAlpha = info.mask === 'alpha';
  const bands = info.bands - (dropAlpha ? 1 : 0);
  const codec: TileCodec = {
    compression,
    tileSize: T,
    bands,
    sampleType: info.sampleType,
    quality: options.quality ?? 90,
    predictor: (compression === 'deflate' || compression === 'lzw') && (options.predictor ?? true),
  };
  checkCodec(codec);
  const hasMask = info.mask !== 'none';
  const uniformNodata = info.nodata !== null && info.nodata.every((v) => Object.is(v, info.nodata![0]));
  // cog.md §0.3: nodata survives only lossless codecs; alpha and internal masks become a mask IFD.
  const validity: CogResult['validity'] = !hasMask
    ? 'none'
    : info.mask === 'nodata' && uniformNodata && !isLossy(codec)
      ? 'nodata'
      : 'mask';
  const nodata = validity === 'nodata' ? info.nodata![0] : undefined;
  const levels = levelSizes(info.width, info.height, T, options.overviews);
  const epsg = epsgOf(info);
  const crsKind = epsgKind(epsg);

  const footprintMax = options.footprintMaxSide ?? 4096;
  let factor = 1;
  while (Math.max(info.width, info.height) / factor > footprintMax && factor < T) factor *= 2;
  const gridW = Math.ceil(info.width / factor);
  const gridH = Math.ceil(info.height / factor);
  const grid = new Uint8Array(hasMask ? gridW * gridH : 0);

  // Tags first: a geotransform or CRS that cannot be written fails before any pixel is read.
  const base: TiffEntry[] = geoTiffTags(
    resolveLayout({
      width: info.width,
      height: info.height,
      bands,
      sampleType: info.sampleType,
      tileSize: T,
      alpha: false,
      compression: compression === 'jpeg' ? 'jpeg' : 'none',
      jpegQuality: codec.quality,
    }),
    {
      width: info.width,
      height: info.height,
      bands,
      epsg,
      crsKind,
      geoTransform: info.geoTransform,
      ...(nodata !== undefined ? { nodata } : {}),
    },
  );
  const work = await mkdtemp(path.join(ctx.tmpDir ?? os.tmpdir(), 'cog-'));
  const states: LevelState[] = [];
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
  };
  try {
    for (const [index, l] of levels.entries()) {
      const file = path.join(work, `level-${index}.bin`);
      const n = l.tilesAcross * l.tilesDown;
      states.push({
        ...l,
        index,
        file,
        fh: await open(file, 'w'),
        end: 0,
        imageOffsets: new Float64Array(n),
        imageCounts: new Float64Array(n),
        maskOffsets: new Float64Array(n),
        maskCounts: new Float64Array(n),
        tileRowsDone: 0,
        dispatched: 0,
        chain: Promise.resolve(),
        prehalved: index > 0 && isExactHalving(levels[index - 1], l, codec),
      });
    }

    const runStrip = (task: StripTask, transfer: ArrayBuffer[]) =>
      ctx.pool.run<StripResult>(TASKS, 'encodeStrip', task, { signal: ctx.signal, transferList: transfer });

    /** Appends a strip's tiles to its level file, feeds the next level. Called in strip order. */
    const consume = async (state: LevelState, row: number, r: StripResult): Promise<void> => {
      const at = state.end;
      state.end += r.packed.length;
      for (let c = 0; c < r.imageOffsets.length; c++) {
        const t = row * state.tilesAcross + c;
        state.imageOffsets[t] = at + r.imageOffsets[c];
        state.imageCounts[t] = r.imageCounts[c];
        if (validity === 'mask') {
          state.maskOffsets[t] = at + r.maskOffsets[c];
          state.maskCounts[t] = r.maskCounts[c];
        }
      }
      if (r.footprint) grid.set(r.footprint, row * (T / factor) * gridW);
      const next = states[state.index + 1];
      if (next && r.level) feed(next, state, r.level, Math.min(T, state.height - row * T));
      await state.fh.write(r.packed, 0, r.packed.length, at);
      state.tileRowsDone++;
    };

    /**
     * Takes rows of the level above for `state` and dispatches every strip of `state` whose source rows
     * are all there (GDAL's windows may need one row of the next parent strip). The rows are kept as the
     * arrays they came in (no copy); each strip's rows are copied once, into the buffer moved to its task.
     * Why: copying them into one growing buffer, then slicing it, made the main thread the COG's
     * bottleneck (3.4 s of 14 on M DEFLATE), and each copy is a fresh multi-megabyte allocation — an
     * mmap and its page faults under the server's fixed mmap threshold (src/allocator.ts).
     */
    const feed = (state: LevelState, parent: LevelState, rows: NonNullable<StripResult['level']>, parentRows: number): void => {
      // Rows of the level above, or of this level when the strips above halved them (then strips line up).
      const w = state.prehalved ? state.width : parent.width;
      const count = state.prehalved ? Math.ceil(parentRows / 2) : parentRows;
      const sourceRows = (row0: number, n: number): [number, number] =>
        state.prehalved ? [row0, row0 + n] : sourceRowsFor(parent.height, state.height, row0, n);
      const chunks = (state.parentRows ??= []);
      const firstRow = state.parentRowsIn ?? 0;
      state.parentRowsIn = firstRow + count;
      chunks.push({ data: rows.data, ...(rows.mask ? { mask: rows.mask } : {}), firstRow, rows: count });
      for (;;) {
        const row = state.dispatched;
        if (row >= state.tilesDown) return;
        const dstRows = Math.min(T, state.height - row * T);
        const [s0, s1] = sourceRows(row * T, dstRows);
        if (state.parentRowsIn < s1) return;
        // Rows the next strip starts from stay here (a copy of them goes to this task); the others move.
        const [n0] = row + 1 < state.tilesDown ? sourceRows((row + 1) * T, 1) : [Number.POSITIVE_INFINITY];
        const parts: RowPart[] = [];
        const transfer: ArrayBuffer[] = [];
        for (let i = 0; i < chunks.length && chunks[i].firstRow < s1; ) {
          const c = chunks[i];
          const end = c.firstRow + c.rows;
          if (end <= s0 || (end <= n0 && i === 0)) {
            chunks.splice(i, 1);
            if (end <= s0) continue;
            parts.push(c);
            transfer.push(c.data.buffer as ArrayBuffer, ...(c.mask ? [c.mask.buffer as ArrayBuffer] : []));
            continue;
          }
          const from = Math.max(s0, c.firstRow) - c.firstRow,
            to = Math.min(s1, end) - c.firstRow;
          const data = c.data.slice(from * w * bands, to * w * bands);
          const mask = c.mask?.slice(from * w, to * w);
          parts.push({ data, ...(mask ? { mask } : {}), firstRow: c.firstRow + from, rows: to - from });
          transfer.push(data.buffer as ArrayBuffer, ...(mask ? [mask.buffer as ArrayBuffer] : []));
          i++;
        }
        const slice: PartedInput = { parts, width: w, height: state.prehalved ? state.height : parent.height, channels: bands };
        dispatchOverview(state, row, dstRows, slice, transfer);
      }
    };

    const dispatchOverview = (state: LevelState, row: number, rows: number, parent: PartedInput, transfer: ArrayBuffer[]): void => {
      state.dispatched++;
      const last = state.index === states.length - 1;
      const task: StripTask = {
        codec,
        width: state.width,
        rows,
        ...(state.prehalved ? { own: parent } : { parent }),
        levelHeight: state.height,
        row0: row * T,
        maskTiles: validity === 'mask',
        fill: nodata ?? 0,
        keep: !last,
        halveForNext: !last && states[state.index + 1].prehalved,
      };
      const result = runStrip(task, transfer);
      result.catch(() => undefined);
      state.chain = state.chain.then(async () => {
        if (failure) return;
        try {
          await consume(state, row, await result);
        } catch (err) {
          fail(err);
        }
      });
    };

    // Full resolution: a few strips in flight (pool threads + 1), consumed in order.
    const top = states[0];
    const inFlightMax = Math.max(2, ctx.pool.threads + 1);
    const inFlight: Promise<StripResult>[] = [];
    let consumed = 0;
    const consumeNext = async () => {
      const r = await inFlight.shift()!;
      await consume(top, consumed++, r);
      ctx.onProgress?.(consumed, top.tilesDown);
    };
    for (let row = 0; row < top.tilesDown && !failure; row++) {
      if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('aborted');
      const rows = Math.min(T, info.height - row * T);
      top.dispatched++;
      const p = runStrip(
        {
          codec,
          width: info.width,
          rows,
          source: { info, y: row * T, dropAlpha },
          maskTiles: validity === 'mask',
          fill: nodata ?? 0,
          keep: states.length > 1,
          halveForNext: states.length > 1 && states[1].prehalved,
          ...(hasMask ? { footprintFactor: factor } : {}),
        },
        [],
      );
      p.catch(() => undefined);
      inFlight.push(p);
      if (inFlight.length >= inFlightMax) await consumeNext();
    }
    while (inFlight.length && !failure) await consumeNext();
    // Upper levels finish in order: each level's chain may feed the next one.
    for (const s of states) await s.chain;
    if (failure) throw failure;
    for (const s of states) {
      if (s.tileRowsDone !== s.tilesDown) throw new Error(`COG level ${s.index}: ${s.tileRowsDone} of ${s.tilesDown} tile rows written`);
    }

    // Layout (cog.md §3): IFD order image full, mask full, image overviews, mask overviews.
    const imageEntries = (s: LevelState): TiffEntry[] => {
      const geo = s.index === 0;
      const entries = base
        .filter((e) => e.tag !== 254 && (geo || (e.tag !== 33550 && e.tag !== 33922 && e.tag !== 34735)))
        .map((e) =>
          e.tag === 256
            ? { ...e, values: [s.width] }
            : e.tag === 257
              ? { ...e, values: [s.height] }
              : e.tag === 259
                ? { ...e, values: [COMPRESSION_TAG[compression]] }
                : e,
        );
      if (!geo) entries.push({ tag: 254, type: 4, values: [1] }); // reduced-resolution image
      if (codec.predictor) entries.push({ tag: 317, type: 3, values: [info.sampleType === 'float32' ? 3 : 2] });
      // The source's GDAL_METADATA (statistics, scale/offset, band names) stays with the full resolution,
      // unless its alpha band was turned into the mask (the items would name a band that is gone).
      if (geo && info.gdalMetadata && !dropAlpha) entries.push({ tag: 42112, type: 2, values: info.gdalMetadata });
      return entries;
    };
    const maskEntries = (s: LevelState): TiffEntry[] => [
      { tag: 254, type: 4, values: [s.index === 0 ? 4 : 5] }, // transparency mask (of an overview)
      { tag: 256, type: 4, values: [s.width] },
      { tag: 257, type: 4, values: [s.height] },
      { tag: 258, type: 3, values: [1] },
      { tag: 259, type: 3, values: [8] },
      { tag: 262, type: 3, values: [4] }, // Photometric: transparency mask
      { tag: 277, type: 3, values: [1] },
      { tag: 284, type: 3, values: [1] },
      { tag: 322, type: 4, values: [T] },
      { tag: 323, type: 4, values: [T] },
      { tag: 339, type: 3, values: [1] },
    ];
    type Planned = { entries: TiffEntry[]; level: LevelState; mask: boolean };
    const order: Planned[] = [{ entries: imageEntries(top), level: top, mask: false }];
    if (validity === 'mask') order.push({ entries: maskEntries(top), level: top, mask: true });
    for (const s of states.slice(1)) order.push({ entries: imageEntries(s), level: s, mask: false });
    if (validity === 'mask') for (const s of states.slice(1)) order.push({ entries: maskEntries(s), level: s, mask: true });

    const dataBytes = states.reduce((n, s) => n + s.end, 0);
    const plan = (bigTiff: boolean) =>
      headerSize(
        order.map((o) => ({ entries: o.entries, tiles: o.level.imageOffsets.length })),
        bigTiff,
        validity === 'mask',
      );
    let bigTiff = options.bigTiff === true;
    if (!bigTiff && plan(false) + dataBytes >= CLASSIC_LIMIT) {
      if (options.bigTiff === false) throw new Error('the COG would exceed 4 GiB: classic TIFF is impossible');
      bigTiff = true;
    }
    const dataStart = plan(bigTiff);
    // Data: smallest level first (cog.md §3); each level's file is copied as is.
    const levelBase = new Map<number, number>();
    let pos = dataStart;
    for (const s of [...states].reverse()) {
      levelBase.set(s.index, pos);
      pos += s.end;
    }
    const ifds: IfdPlan[] = order.map((o) => {
      const b = levelBase.get(o.level.index)!;
      const offs = o.mask ? o.level.maskOffsets : o.level.imageOffsets;
      const tileCounts = o.mask ? o.level.maskCounts : o.level.imageCounts;
      return { entries: o.entries, tileOffsets: Array.from(offs, (v) => v + b), tileCounts };
    });
    const head = encodeHeaderAndIfds(ifds, bigTiff, validity === 'mask');
    for (const s of states) await s.fh.close();

    const out = 'path' in target ? `${target.path}.${process.pid}.part` : path.join(work, 'cog.tif');
    try {
      const fh = await open(out, 'w');
      await fh.write(head, 0, head.length, 0);
      await fh.close();
      for (const s of [...states].reverse()) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('aborted');
        await pipeline(createReadStream(s.file), createWriteStream(out, { flags: 'a' }));
        await rm(s.file, { force: true });
      }
      const bytes = (await stat(out)).size;
      if (bytes !== pos) throw new Error(`COG: wrote ${bytes} bytes, ${pos} planned`);
      if ('path' in target) {
        const { rename } = await import('node:fs/promises');
        await rename(out, target.path);
      } else await target.storage.writeFile(target.key, out);
      return {
        bytes,
        bigTiff,
        levels,
        tiles: states.reduce((n, s) => n + s.imageOffsets.length, 0),
        validity,
        compression,
        grid: {
          mask: hasMask ? grid : undefined,
          width: gridW,
          height: gridH,
          factor,
          imageWidth: info.width,
          imageHeight: info.height,
          geoTransform: info.geoTransform,
          crs: info.crs,
        },
      };
    } finally {
      await rm(out, { force: true });
    }
  } finally {
    for (const s of states) await s.fh.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
