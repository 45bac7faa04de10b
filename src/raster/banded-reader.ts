/**
 * Windows of one raster level read through horizontal bands aligned on the file's block rows, each
 * decoded once. The strips of a bottom slab overlap: a strip rotated against the source grid needs
 * about twice the rows it advances by, and windows cut through compressed blocks, so reading every
 * strip's window on its own decodes each source block ~3 times (M raster: 5.5 s of decoding for what
 * one pass does in 1.8 s). Strips go down the slab in order, so a band is dropped as soon as a strip
 * starts below it: memory holds the bands under one strip and the one read ahead (DESIGN §6). A strip
 * may be read as several windows of some of its columns (runs of tiles, each window hugging their
 * footprint), which copies and scans fewer pixels than one window over the strip's rotated outline.
 */
import type { RasterWindow, RasterWindowReader } from './geotiff-source.js';

/** Rows of one band: whole blocks, about 256 rows (files stripped in very tall strips: 256 rows). */
export function bandHeightFor(blockHeight: number): number {
  if (!(blockHeight >= 1) || blockHeight > 1024) return 256;
  return blockHeight * Math.max(1, Math.round(256 / blockHeight));
}

export interface BandedReaderOptions {
  /** Overview index (undefined = full resolution). */
  overview?: number;
  /** Columns [x0, x1) of the level that every read returns. */
  x0: number;
  x1: number;
  /** Rows of the level (reads are clipped to it by the caller). */
  levelHeight: number;
  bandHeight: number;
  /**
   * Reuse the buffers of windows: the window of read k is overwritten by read k + `recycle`, so the
   * caller must be done with a window by then (the bottom slab reads one strip ahead: 2). Saves the
   * allocation, page faults and garbage of megabytes per strip. Default: fresh buffers.
   */
  recycle?: number;
}

/** A fresh ArrayBuffer of `bytes` whose content is not zeroed (not from Buffer's shared pool). */
function uninitialized(bytes: number): ArrayBuffer {
  const b = Buffer.allocUnsafeSlow(bytes);
  return b.buffer.byteLength === bytes && b.byteOffset === 0 ? (b.buffer as ArrayBuffer) : new ArrayBuffer(bytes);
}

/** A buffer of at least `bytes`: the slot's when large enough, else a new one kept in the slot (with room to grow). */
function buffer(slot: { data?: ArrayBuffer; mask?: ArrayBuffer } | undefined, kind: 'data' | 'mask', bytes: number): ArrayBuffer {
  if (!slot) return uninitialized(bytes);
  const kept = slot[kind];
  if (kept && kept.byteLength >= bytes) return kept;
  slot[kind] = uninitialized(Math.ceil(bytes * 1.25));
  return slot[kind]!;
}

/** A band being read or read, and how many reads are copying out of it. */
interface Band {
  window: Promise<RasterWindow>;
  readers: number;
  /** Out of the map (the strips went below it): its buffers go back to the spares once no read uses it. */
  dropped: boolean;
  recycled?: boolean;
}

/** Bands whose buffers are kept for the next bands: the bands under a strip and its read-ahead are a few. */
const SPARE_BANDS = 4;

export class BandedWindowReader {
  private readonly bands = new Map<number, Band>();
  private readonly slots: Array<{ data?: ArrayBuffer; mask?: ArrayBuffer }> = [];
  /**
   * Windows of dropped bands, handed back to the source reader to be written again: a band is a few MB
   * (a slab's columns × 256 rows × 3), and a fresh one per band cost its page faults and zero-filling on
   * every band of every slab (issue 16).
   */
  private readonly spares: RasterWindow[] = [];
  private reads = 0;

  constructor(
    private readonly reader: RasterWindowReader,
    private readonly options: BandedReaderOptions,
  ) {}

  /** First column of every window. */
  get x0(): number {
    return this.options.x0;
  }

  get width(): number {
    return this.options.x1 - this.options.x0;
  }

  /**
   * Rows [y0, y1) of the columns `columns` (default the reader's [x0, x1)): data and mask copied out of
   * the bands, in one window. Bands above `keepFrom` (default `y0`) are released: later reads must not go
   * above it (a strip read in several column ranges keeps the bands its highest range needs). The bands
   * are requested at once, so calling this ahead of time is the read-ahead.
   */
  async read(y0: number, y1: number, columns?: { x0: number; x1: number }, keepFrom = y0): Promise<RasterWindow> {
    const { bandHeight } = this.options;
    const bandWidth = this.width;
    const left = columns ? columns.x0 - this.options.x0 : 0;
    const width = columns ? columns.x1 - columns.x0 : bandWidth;
    if (left < 0 || left + width > bandWidth || width <= 0)
      throw new RangeError(`columns outside the reader's [${this.options.x0}, ${this.options.x1})`);
    const first = Math.floor(y0 / bandHeight);
    const kept = Math.floor(Math.min(keepFrom, y0) / bandHeight);
    for (const [b, band] of this.bands) if (b < kept) this.drop(b, band);
    // Every band is taken (and counted as read from) before the first await: a read started meanwhile
    // for a lower strip may drop bands from the map, but their buffers stay this read's until it is done.
    const used: Band[] = [];
    for (let b = first; b * bandHeight < y1; b++) used.push(this.band(b));
    for (const band of used) band.readers++;
    try {
      return await this.copy(used, first, y0, y1, left, width);
    } finally {
      for (const band of used) {
        band.readers--;
        this.recycle(band);
      }
    }
  }

  /** The window [y0, y1) × [left, left + width) of the bands `used` (the first one is band `first`). */
  private async copy(used: Band[], first: number, y0: number, y1: number, left: number, width: number): Promise<RasterWindow> {
    const { bandHeight } = this.options;
    const bandWidth = this.width;
    const slot = this.options.recycle ? (this.slots[this.reads++ % this.options.recycle] ??= {}) : undefined;
    const parts = (await Promise.all(used.map((band) => band.window))).map((band, i) => ({ band, top: (first + i) * bandHeight }));
    const { channels } = parts[0].band;
    const height = y1 - y0;
    const sample = parts[0].band.data;
    // Not zero-filled (every row is written below): windows are large and read once.
    const bytesPerSample = sample instanceof Float32Array ? 4 : 1;
    const dataBuffer = buffer(slot, 'data', width * height * channels * bytesPerSample);
    const data =
      bytesPerSample === 4
        ? new Float32Array(dataBuffer, 0, width * height * channels)
        : new Uint8Array(dataBuffer, 0, width * height * channels);
    const hasMask = parts.some((p) => p.band.mask);
    const mask = hasMask ? new Uint8Array(buffer(slot, 'mask', width * height), 0, width * height) : undefined;
    for (const { band, top } of parts) {
      const from = Math.max(y0, top),
        to = Math.min(y1, top + band.height);
      if (to <= from) continue;
      if (width === bandWidth) {
        // Every column: the rows are contiguous in both.
        data.set(band.data.subarray((from - top) * width * channels, (to - top) * width * channels), (from - y0) * width * channels);
        if (mask) {
          if (band.mask) mask.set(band.mask.subarray((from - top) * width, (to - top) * width), (from - y0) * width);
          else mask.fill(255, (from - y0) * width, (to - y0) * width);
        }
        continue;
      }
      for (let y = from; y < to; y++) {
        const src = ((y - top) * bandWidth + left) * channels;
        data.set(band.data.subarray(src, src + width * channels), (y - y0) * width * channels);
        if (mask) {
          if (band.mask) mask.set(band.mask.subarray((y - top) * bandWidth + left, (y - top) * bandWidth + left + width), (y - y0) * width);
          else mask.fill(255, (y - y0) * width, (y - y0 + 1) * width);
        }
      }
    }
    return { data, ...(mask ? { mask } : {}), width, height, channels };
  }

  /** Drops every band and recycled buffer (the slab is done). */
  release(): void {
    this.bands.clear();
    this.slots.length = 0;
    this.spares.length = 0;
  }

  private band(b: number): Band {
    let band = this.bands.get(b);
    if (!band) {
      const { x0, x1, bandHeight, levelHeight, overview } = this.options;
      const top = b * bandHeight;
      const window = this.reader.read(
        { x: x0, y: top, width: x1 - x0, height: Math.min(bandHeight, levelHeight - top), overview },
        this.spares.pop(),
      );
      // A failed read ahead is reported by the read that needs it, not as an unhandled rejection.
      window.catch(() => undefined);
      band = { window, readers: 0, dropped: false };
      this.bands.set(b, band);
    }
    return band;
  }

  private drop(b: number, band: Band): void {
    this.bands.delete(b);
    band.dropped = true;
    this.recycle(band);
  }

  /** A dropped band no read copies from any more: its window's buffers become a spare. */
  private recycle(band: Band): void {
    if (!band.dropped || band.readers > 0 || band.recycled) return;
    band.recycled = true;
    band.window.then(
      (w) => {
        if (this.spares.length < SPARE_BANDS) this.spares.push(w);
      },
      () => undefined,
    );
  }
}
