import { assembleSlab } from '../rok4/slab-assemble.js';
import { maskSlabGeometry, type SlabGeometry } from '../rok4/slab-geometry.js';
import { constantMaskTile, encodeTile, encodeTileSync, isSyncCompression, type TileSpec } from '../rok4/tile-codec.js';

export { constantMaskTile } from '../rok4/tile-codec.js';

/** What a slab task needs to know about the output slabs. Plain data (crosses threads). */
export interface SlabSpec {
  tileWidth: number;
  tileHeight: number;
  tilesPerWidth: number;
  tilesPerHeight: number;
  channels: number;
  sampleType: 'uint8' | 'float32';
  compression: SlabGeometry['compression'];
  /** Write mask slabs and use masks in averages (the `mask` input). */
  mask: boolean;
  nodata: number[];
}

/** Encoded tiles of a mask that is all 0 or all 255, and of an all-nodata data tile, reused (they are frequent). */
const constantTiles = new Map<string, Buffer>();

/** Nonzero count of a tile mask, and whether every value is 255 (one pass; most tiles are constant). */
export function scanMask(mask: Uint8Array): { valid: number; full: boolean } {
  let valid = 0;
  let full = true;
  let start = 0;
  // Four mask bytes at a time where aligned: all-255 and all-0 words (nearly all of them) in one test.
  if ((mask.byteOffset & 3) === 0 && mask.length >= 4) {
    const words = new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2);
    for (let w = 0; w < words.length; w++) {
      const v = words[w];
      if (v === 0xffffffff) {
        valid += 4;
        continue;
      }
      full = false;
      if (v === 0) continue;
      valid += ((v & 0xff) !== 0 ? 1 : 0) + ((v & 0xff00) !== 0 ? 1 : 0) + ((v & 0xff0000) !== 0 ? 1 : 0) + (v >>> 24 !== 0 ? 1 : 0);
    }
    start = words.length << 2;
  }
  for (let i = start; i < mask.length; i++) {
    const v = mask[i];
    if (v !== 0) valid++;
    if (v !== 255) full = false;
  }
  return { valid, full };
}

/**
 * Copies the `tw × th` tile at (x0, y0) of an interleaved image `width` pixels wide, into `into` when it
 * is given (of the same type and exactly the tile's size), else into a new array.
 */
export function extractTile<T extends Uint8Array | Float32Array>(
  src: T,
  width: number,
  channels: number,
  x0: number,
  y0: number,
  tw: number,
  th: number,
  into?: T,
): T {
  const out =
    into && into.length === tw * th * channels
      ? into
      : ((src instanceof Float32Array ? new Float32Array(tw * th * channels) : new Uint8Array(tw * th * channels)) as T);
  const rowLength = tw * channels;
  for (let y = 0; y < th; y++) {
    const s = ((y0 + y) * width + x0) * channels;
    out.set(src.subarray(s, s + rowLength), y * rowLength);
  }
  return out;
}

/**
 * Collects a slab's tiles (in any order: the bottom level sets them strip by strip, upper levels
 * quadrant by quadrant) and assembles the data slab and its mask slab (rok4.md §5). Tiles without
 * data reuse one cached encoding of the nodata tile; JPEG tiles are encoded on the libuv threadpool
 * while the caller goes on computing (call {@link flush} to wait, {@link finish} waits too).
 */
export class SlabEncoder {
  /** Encoded tiles; null = the nodata tile (filled in by finish), undefined = not set yet. */
  private readonly dataTiles: Array<Uint8Array | null | undefined>;
  private readonly maskTiles: Uint8Array[];
  private readonly tileSpec: TileSpec;
  private readonly maskSpec: TileSpec;
  private pending: Array<Promise<void>> = [];
  private failure: unknown;
  validPixels = 0;

  constructor(readonly spec: SlabSpec) {
    this.tileSpec = {
      width: spec.tileWidth,
      height: spec.tileHeight,
      channels: spec.channels,
      compression: spec.compression,
      sampleType: spec.sampleType,
    };
    this.maskSpec = { width: spec.tileWidth, height: spec.tileHeight, channels: 1, compression: 'zip', sampleType: 'uint8' };
    const n = spec.tilesPerWidth * spec.tilesPerHeight;
    this.dataTiles = new Array<Uint8Array | null | undefined>(n);
    this.maskTiles = new Array<Uint8Array>(n);
  }

  /** Tiles encoded or being encoded and not yet awaited (callers bound memory with it). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Sets tile `index` (slab order, row-major). `tile` null, or a mask without any data, makes it
   * the nodata tile (mask 0). `scan` is the result of {@link scanMask} on `tileMask` when known.
   * Resolves once the encoder no longer reads `tile` (a JPEG tile is encoded on libvips' threads after this
   * returns; every other format, and the mask, before): its caller may then reuse the arrays.
   */
  setTile(
    index: number,
    tile: Uint8Array | Float32Array | null,
    tileMask: Uint8Array | null,
    scan?: { valid: number; full: boolean },
  ): Promise<void> {
    const s = tile && tileMask ? (scan ?? scanMask(tileMask)) : { valid: 0, full: false };
    if (s.valid === 0 || !tile) {
      this.dataTiles[index] = null;
      if (this.spec.mask) this.maskTiles[index] = this.constantMask(0);
      return Promise.resolve();
    }
    this.validPixels += s.valid;
    if (this.spec.mask) this.maskTiles[index] = s.full ? this.constantMask(255) : encodeTileSync(tileMask!, this.maskSpec);
    if (isSyncCompression(this.spec.compression)) {
      this.dataTiles[index] = encodeTileSync(tile, this.tileSpec);
      return Promise.resolve();
    }
    const encoded = encodeTile(tile, this.tileSpec).then(
      (bytes) => {
        this.dataTiles[index] = bytes;
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    this.pending.push(encoded);
    return encoded;
  }

  /**
   * Sets tile `index` from bytes already encoded in this slab's format (a tile copied unchanged from
   * another slab: updates and merges do not decode what they do not change). `mask` null = all data.
   */
  setEncodedTile(index: number, data: Uint8Array, mask: Uint8Array | null, validPixels: number): void {
    this.dataTiles[index] = data;
    if (this.spec.mask) this.maskTiles[index] = mask ?? this.constantMask(255);
    this.validPixels += validPixels;
  }

  /** Waits for the tiles being encoded. */
  async flush(): Promise<void> {
    const waiting = this.pending;
    this.pending = [];
    await Promise.all(waiting);
    if (this.failure) throw this.failure;
  }

  /**
   * Adds a strip `tilesPerWidth·tileWidth` wide and `rows·tileHeight` high (interleaved samples + mask)
   * starting at tile row `firstRow`, split into tiles in slab order.
   */
  async addStrip(data: Uint8Array | Float32Array, mask: Uint8Array, rows = 1, firstRow?: number): Promise<void> {
    const { tileWidth: tw, tileHeight: th, tilesPerWidth: tpw, channels: C } = this.spec;
    const W = tpw * tw;
    const row0 = firstRow ?? this.nextRow;
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < tpw; t++) {
        const tileMask = extractTile(mask, W, 1, t * tw, r * th, tw, th);
        const scan = scanMask(tileMask);
        this.setTile((row0 + r) * tpw + t, scan.valid ? extractTile(data, W, C, t * tw, r * th, tw, th) : null, tileMask, scan);
      }
    }
    this.nextRow = row0 + rows;
    await this.flush();
  }

  private nextRow = 0;

  /** The encoded all-nodata data tile, cached per format (frequent: collars, top levels). */
  private async nodataTile(): Promise<Uint8Array> {
    const k = `data:${this.spec.compression}:${this.spec.sampleType}:${this.spec.channels}:${this.spec.tileWidth}x${this.spec.tileHeight}:${this.spec.nodata.join(',')}`;
    let cached = constantTiles.get(k);
    if (!cached) {
      const { tileWidth: tw, tileHeight: th, channels: C, nodata } = this.spec;
      const tile = this.spec.sampleType === 'uint8' ? new Uint8Array(tw * th * C) : new Float32Array(tw * th * C);
      for (let p = 0; p < tw * th; p++) for (let c = 0; c < C; c++) tile[p * C + c] = nodata[c];
      cached = isSyncCompression(this.spec.compression) ? encodeTileSync(tile, this.tileSpec) : await encodeTile(tile, this.tileSpec);
      constantTiles.set(k, cached);
    }
    return cached;
  }

  private constantMask(v: 0 | 255): Uint8Array {
    return constantMaskTile(this.spec.tileWidth, this.spec.tileHeight, v);
  }

  /** The data slab and (with masks) the mask slab; tiles never set are nodata. */
  async finish(): Promise<{ data: Buffer; mask?: Buffer }> {
    await this.flush();
    let nodata: Uint8Array | undefined;
    for (let i = 0; i < this.dataTiles.length; i++) {
      if (this.dataTiles[i]) continue;
      nodata ??= await this.nodataTile();
      this.dataTiles[i] = nodata;
      if (this.spec.mask && !this.maskTiles[i]) this.maskTiles[i] = this.constantMask(0);
    }
    const geometry: SlabGeometry = {
      tileWidth: this.spec.tileWidth,
      tileHeight: this.spec.tileHeight,
      tilesPerWidth: this.spec.tilesPerWidth,
      tilesPerHeight: this.spec.tilesPerHeight,
      channels: this.spec.channels,
      compression: this.spec.compression,
      sampleType: this.spec.sampleType,
    };
    return {
      data: assembleSlab(geometry, this.dataTiles as Uint8Array[]),
      ...(this.spec.mask ? { mask: assembleSlab(maskSlabGeometry(geometry), this.maskTiles) } : {}),
    };
  }
}
