import { assembleSlab } from '../../src/rok4/slab-assemble.js';
import { maskSlabGeometry, type SlabGeometry } from '../../src/rok4/slab-geometry.js';
import { encodeTile, encodeTileSync, isSyncCompression, type TileSpec } from '../../src/rok4/tile-codec.js';

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

function isConstant(values: Uint8Array, v: number): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== v) return false;
  return true;
}

/**
 * Collects a slab's tiles row of tiles by row of tiles (the bottom level works in strips of one tile
 * row to bound memory) and assembles the data slab and its mask slab (rok4.md §5).
 */
export class SlabEncoder {
  private readonly dataTiles: Uint8Array[] = [];
  private readonly maskTiles: Uint8Array[] = [];
  private readonly tileSpec: TileSpec;
  private readonly maskSpec: TileSpec;
  validPixels = 0;

  constructor(readonly spec: SlabSpec) {
    this.tileSpec = { width: spec.tileWidth, height: spec.tileHeight, channels: spec.channels, compression: spec.compression, sampleType: spec.sampleType };
    this.maskSpec = { width: spec.tileWidth, height: spec.tileHeight, channels: 1, compression: 'zip', sampleType: 'uint8' };
  }

  /**
   * Adds a strip `tilesPerWidth·tileWidth` wide and `rows·tileHeight` high (interleaved samples + mask),
   * split into tiles in slab order.
   */
  async addStrip(data: Uint8Array | Float32Array, mask: Uint8Array, rows = 1): Promise<void> {
    const { tileWidth: tw, tileHeight: th, tilesPerWidth: tpw, channels: C } = this.spec;
    const W = tpw * tw;
    const pending: Array<Promise<void>> = [];
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < tpw; t++) {
        const tile = this.spec.sampleType === 'uint8' ? new Uint8Array(tw * th * C) : new Float32Array(tw * th * C);
        const tileMask = new Uint8Array(tw * th);
        for (let y = 0; y < th; y++) {
          const srcRow = (r * th + y) * W + t * tw;
          tile.set(data.subarray(srcRow * C, (srcRow + tw) * C), y * tw * C);
          tileMask.set(mask.subarray(srcRow, srcRow + tw), y * tw);
        }
        const index = this.dataTiles.length;
        this.dataTiles.push(new Uint8Array(0));
        if (this.spec.mask) this.maskTiles.push(this.encodeMask(tileMask));
        for (let i = 0; i < tileMask.length; i++) if (tileMask[i] !== 0) this.validPixels++;
        pending.push(this.encodeData(tile, tileMask).then((bytes) => { this.dataTiles[index] = bytes; }));
      }
    }
    await Promise.all(pending);
  }

  private async encodeData(tile: Uint8Array | Float32Array, tileMask: Uint8Array): Promise<Uint8Array> {
    if (isConstant(tileMask, 0)) {
      const k = `data:${this.spec.compression}:${this.spec.sampleType}:${this.spec.channels}:${this.spec.tileWidth}x${this.spec.tileHeight}:${this.spec.nodata.join(',')}`;
      let cached = constantTiles.get(k);
      if (!cached) {
        cached = isSyncCompression(this.spec.compression) ? encodeTileSync(tile, this.tileSpec) : await encodeTile(tile, this.tileSpec);
        constantTiles.set(k, cached);
      }
      return cached;
    }
    return isSyncCompression(this.spec.compression) ? encodeTileSync(tile, this.tileSpec) : encodeTile(tile, this.tileSpec);
  }

  private encodeMask(tileMask: Uint8Array): Uint8Array {
    for (const v of [0, 255]) {
      if (isConstant(tileMask, v)) {
        const k = `mask:${v}:${this.spec.tileWidth}x${this.spec.tileHeight}`;
        let cached = constantTiles.get(k);
        if (!cached) {
          cached = encodeTileSync(tileMask, this.maskSpec);
          constantTiles.set(k, cached);
        }
        return cached;
      }
    }
    return encodeTileSync(tileMask, this.maskSpec);
  }

  /** The data slab and (with masks) the mask slab. */
  finish(): { data: Buffer; mask?: Buffer } {
    const geometry: SlabGeometry = {
      tileWidth: this.spec.tileWidth, tileHeight: this.spec.tileHeight,
      tilesPerWidth: this.spec.tilesPerWidth, tilesPerHeight: this.spec.tilesPerHeight,
      channels: this.spec.channels, compression: this.spec.compression, sampleType: this.spec.sampleType,
    };
    return {
      data: assembleSlab(geometry, this.dataTiles),
      ...(this.spec.mask ? { mask: assembleSlab(maskSlabGeometry(geometry), this.maskTiles) } : {}),
    };
  }
}
