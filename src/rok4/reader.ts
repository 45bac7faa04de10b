import { SlabHandles } from './slab-handles.js';
import { NotFoundError, type Storage } from '../storage/storage.js';
import { slabPath, type SlabKind } from './base36.js';
import { nodataValues, parseDescriptor, type PyramidDescriptor, type PyramidLevel, type TileLimits } from './descriptor.js';
import { bytesPerSample, MASK_FORMAT, parseFormat, type FormatInfo, type SampleType } from './formats.js';
import { headerAndIndexSize } from './slab-geometry.js';
import { parseSlabHeader, type SlabHeaderInfo } from './slab-header.js';
import { parseSlabIndex } from './slab-index.js';
import { constantMaskTile, decodeTile, type TilePixels, type TileSpec } from './tile-codec.js';
import { isSymlinkObject, symlinkTargetKey } from './symlink.js';

/** Slabs whose header + index stay cached. */
const INDEX_CACHE_SIZE = 256;

/** What the reader keeps per slab after one ranged read of header + index (rok4.md §5.4). */
interface SlabInfo {
  /** Key actually read (after following a SYMLINK# object). */
  key: string;
  header: SlabHeaderInfo;
  offsets: Uint32Array;
  sizes: Uint32Array;
}

/** A decoded tile. */
export interface DecodedTile {
  width: number;
  height: number;
  channels: number;
  sampleType: SampleType;
  pixels: TilePixels;
}

/** All tiles of a slab decoded into one slab-sized image (missing tiles = nodata, mask 0). */
export interface SlabPixels {
  width: number;
  height: number;
  channels: number;
  sampleType: SampleType;
  /** Interleaved, row-major, width × height × channels samples. */
  pixels: TilePixels;
  /** width × height: 0 = nodata, non-zero = data (rok4.md §5.3). */
  mask: Uint8Array;
  /** True when `mask` comes from a mask slab; false when derived (255 where a data tile exists). */
  fromMaskSlab: boolean;
}

/**
 * Reads a ROK4 raster pyramid through a {@link Storage} (rok4.md §4–§7). The pyramid is
 * `<folder><name>.json` (folder '' = the storage root); slabs are found from the descriptor's level
 * storage blocks, whose relative directories are relative to the descriptor's folder (§3.4).
 */
export class Rok4Reader {
  private readonly levelById = new Map<string, PyramidLevel>();
  private readonly cache = new Map<string, SlabInfo>();
  /** Open slabs for tile reads, when {@link keepSlabsOpen} asked for them. */
  private handles?: SlabHandles;
  readonly formatInfo: FormatInfo;

  private constructor(
    readonly storage: Storage,
    readonly name: string,
    readonly descriptor: PyramidDescriptor,
    readonly folder: string,
  ) {
    for (const level of descriptor.levels) this.levelById.set(level.id, level);
    this.formatInfo = parseFormat(descriptor.format);
  }

  /** Reads and validates `<folder><name>.json`; `folder` is '' or ends with '/'. */
  static async open(storage: Storage, name: string, folder = ''): Promise<Rok4Reader> {
    const text = (await storage.read(`${folder}${name}.json`)).toString('utf8');
    return new Rok4Reader(storage, name, parseDescriptor(text), folder);
  }

  /**
   * Keeps up to `max` slabs open between tile reads (a published layer's readers: many small reads of
   * immutable slabs). Without it, each tile read opens and closes its slab.
   */
  keepSlabsOpen(max: number): this {
    const storage = this.storage;
    if (storage.openForRanges)
      this.handles = new SlabHandles(storage as Storage & { openForRanges: NonNullable<Storage['openForRanges']> }, max);
    return this;
  }

  /** Levels as in the descriptor (top to bottom). */
  get levels(): readonly PyramidLevel[] {
    return this.descriptor.levels;
  }

  get hasMasks(): boolean {
    return this.descriptor.mask_format !== undefined;
  }

  level(id: string): PyramidLevel {
    const level = this.levelById.get(id);
    if (!level) throw new Error(`pyramid ${this.name} has no level ${JSON.stringify(id)}`);
    return level;
  }

  tileLimits(level: string): TileLimits {
    return this.level(level).tile_limits;
  }

  /**
   * Storage key of slab (`col`, `row`) — slab indices, not tile indices — of a level: FILE
   * `<image_directory>/<b36 path>`, object storage `<image_prefix>_<col>_<row>` (rok4.md §4).
   * Undefined for MASK when the pyramid has no masks.
   */
  slabKey(level: string, col: number, row: number, kind: SlabKind): string | undefined {
    const storage = this.level(level).storage;
    if (storage.type === 'FILE') {
      const dir = kind === 'DATA' ? storage.image_directory : storage.mask_directory;
      if (dir === undefined) return undefined;
      return `${this.relativeDirectory(dir)}/${slabPath(col, row, storage.path_depth)}`;
    }
    const prefix = kind === 'DATA' ? storage.image_prefix : storage.mask_prefix;
    if (prefix === undefined) return undefined;
    return this.objectKey(
      `${storage.type === 'S3' ? storage.bucket_name : storage.type === 'CEPH' ? storage.pool_name : storage.container_name}/${prefix}_${col}_${row}`,
    );
  }

  /** Key of object `<bucket>/<object name>` in this storage (whose root is `<bucket>[/<key prefix>]`, §4.2). */
  private objectKey(object: string): string {
    const root = this.storage.root.replace(/\/+$/, '');
    if (!object.startsWith(`${root}/`)) throw new Error(`pyramid ${this.name}: object ${object} is outside the storage ${root}`);
    return object.slice(root.length + 1);
  }

  /** Encoded bytes of a tile, or null (outside tile_limits, missing slab, size 0). */
  async readTileBytes(level: string, col: number, row: number): Promise<Buffer | null> {
    return this.readTileBytesOf('DATA', level, col, row);
  }

  /**
   * Decoded pixels of a tile, or null when there is no tile. `into`: an array a JPEG tile may be decoded
   * into (see {@link decodeTile}), for callers that recycle tile buffers.
   */
  async readTile(level: string, col: number, row: number, into?: Uint8Array): Promise<DecodedTile | null> {
    const bytes = await this.readTileBytes(level, col, row);
    if (!bytes) return null;
    const info = await this.slabInfoForTile('DATA', level, col, row);
    const spec = this.tileSpec(info!.header, 'DATA');
    return {
      width: spec.width,
      height: spec.height,
      channels: spec.channels,
      sampleType: spec.sampleType,
      pixels: await decodeTile(bytes, spec, into),
    };
  }

  /**
   * Decoded mask tile (1 channel, 0 = nodata), or null (no masks, missing mask slab or tile). With
   * `fullAsNull`, also null for a mask tile stored as the bytes dallage writes for "every pixel is data"
   * ({@link constantMaskTile}): recognised without inflating it, for readers that
   * treat a missing mask as full (WMS maps read a dozen such tiles each).
   */
  async readMaskTile(level: string, col: number, row: number, options: { fullAsNull?: boolean } = {}): Promise<Uint8Array | null> {
    if (!this.hasMasks) return null;
    const bytes = await this.readTileBytesOf('MASK', level, col, row);
    if (!bytes) return null;
    const info = await this.slabInfoForTile('MASK', level, col, row);
    const spec = this.tileSpec(info!.header, 'MASK');
    if (options.fullAsNull && spec.compression === 'zip' && bytes.equals(constantMaskTile(spec.width, spec.height, 255))) return null;
    return (await decodeTile(bytes, spec)) as Uint8Array;
  }

  /**
   * Every tile of slab (`slabCol`, `slabRow`) decoded into one slab-sized buffer, with its mask
   * (from the mask slab when there is one, else 255 where a data tile exists). Null when the data
   * slab does not exist. Reads the tiles in one ranged read.
   */
  async readSlab(level: string, slabCol: number, slabRow: number): Promise<SlabPixels | null> {
    const data = await this.slabInfo('DATA', level, slabCol, slabRow);
    if (!data) return null;
    const { header } = data;
    const spec = this.tileSpec(header, 'DATA');
    const channels = spec.channels;
    const width = header.width;
    const height = header.height;
    const pixels = spec.sampleType === 'float32' ? new Float32Array(width * height * channels) : new Uint8Array(width * height * channels);
    const nodata = nodataValues(this.descriptor.raster_specifications);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) pixels[i * channels + c] = nodata[c];
    const mask = new Uint8Array(width * height);

    const tiles = await this.readAllTiles(data);
    for (let t = 0; t < tiles.length; t++) {
      if (!tiles[t]) continue;
      const tile = await decodeTile(tiles[t]!, spec);
      blitTile(pixels, width, channels, tile, t, header);
      fillTileMask(mask, width, header, t, 255);
    }

    let fromMaskSlab = false;
    if (this.hasMasks) {
      const maskInfo = await this.slabInfo('MASK', level, slabCol, slabRow);
      if (maskInfo) {
        fromMaskSlab = true;
        mask.fill(0);
        const maskSpec = this.tileSpec(maskInfo.header, 'MASK');
        const maskTiles = await this.readAllTiles(maskInfo);
        for (let t = 0; t < maskTiles.length; t++) {
          if (!maskTiles[t]) continue;
          blitTile(mask, width, 1, await decodeTile(maskTiles[t]!, maskSpec), t, header);
        }
      }
    }
    return { width, height, channels, sampleType: spec.sampleType, pixels, mask, fromMaskSlab };
  }

  /** Forgets cached slab indices (after the pyramid was rewritten). */
  clearCache(): void {
    this.cache.clear();
  }

  private relativeDirectory(dir: string): string {
    // The server accepts "./x" and absolute paths (§3.4); keys are relative to the storage root.
    const relative = dir.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (relative.startsWith('/')) {
      const root = this.storage.root.replace(/\/+$/, '');
      if (!relative.startsWith(`${root}/`)) throw new Error(`slab directory ${dir} is outside the storage root ${root}`);
      return relative.slice(root.length + 1);
    }
    return `${this.folder}${relative}`;
  }

  private tileSpec(header: SlabHeaderInfo, kind: SlabKind): TileSpec {
    const mask = kind === 'MASK' ? parseFormat(MASK_FORMAT) : this.formatInfo;
    return {
      width: header.tileWidth,
      height: header.tileHeight,
      channels: kind === 'MASK' ? 1 : this.descriptor.raster_specifications.channels,
      compression: mask.compression,
      sampleType: mask.sampleType,
    };
  }

  private async readTileBytesOf(kind: SlabKind, level: string, col: number, row: number): Promise<Buffer | null> {
    const limits = this.tileLimits(level);
    if (col < limits.min_col || col > limits.max_col || row < limits.min_row || row > limits.max_row) return null;
    const info = await this.slabInfoForTile(kind, level, col, row);
    if (!info) return null;
    const lvl = this.level(level);
    const index = (row % lvl.tiles_per_height) * lvl.tiles_per_width + (col % lvl.tiles_per_width);
    const size = info.sizes[index];
    if (size === 0) return null;
    const bytes = this.handles
      ? await this.handles.read(info.key, info.offsets[index], size)
      : await this.storage.readRange(info.key, info.offsets[index], size);
    if (bytes.length !== size) throw new Error(`slab ${info.key}: tile ${index} truncated (${bytes.length} of ${size} bytes)`);
    return bytes;
  }

  private slabInfoForTile(kind: SlabKind, level: string, col: number, row: number): Promise<SlabInfo | null> {
    const lvl = this.level(level);
    return this.slabInfo(kind, level, Math.floor(col / lvl.tiles_per_width), Math.floor(row / lvl.tiles_per_height));
  }

  /** Header + index of a slab, from the cache or one ranged read of 2048 + 8N bytes (§5.4). */
  private async slabInfo(kind: SlabKind, level: string, slabCol: number, slabRow: number): Promise<SlabInfo | null> {
    const key = this.slabKey(level, slabCol, slabRow, kind);
    if (key === undefined) return null;
    const cached = this.cache.get(key);
    if (cached) {
      // Refresh its place in the LRU order.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const lvl = this.level(level);
    const count = lvl.tiles_per_width * lvl.tiles_per_height;
    const wanted = headerAndIndexSize(count);
    let readKey = key;
    let prefix = await this.readPrefix(readKey, wanted);
    if (!prefix) return null;
    if (isSymlinkObject(prefix, wanted)) {
      // S3-style reference: follow it once; a reference to a reference is an error (§5.4, §7.2).
      readKey = symlinkTargetKey(prefix, this.storage.root, key);
      prefix = await this.readPrefix(readKey, wanted);
      if (!prefix) return null;
      if (isSymlinkObject(prefix, wanted)) throw new Error(`slab ${key}: reference to a reference (${readKey})`);
    }
    if (prefix.length < wanted) throw new Error(`slab ${readKey}: ${prefix.length} bytes, header + index need ${wanted}`);
    const header = parseSlabHeader(prefix);
    if (header.tilesPerWidth !== lvl.tiles_per_width || header.tilesPerHeight !== lvl.tiles_per_height) {
      throw new Error(
        `slab ${readKey}: ${header.tilesPerWidth}x${header.tilesPerHeight} tiles, level ${level} says ${lvl.tiles_per_width}x${lvl.tiles_per_height}`,
      );
    }
    const expectedBits = kind === 'MASK' ? 8 : bytesPerSample(this.formatInfo.sampleType) * 8;
    if (header.bitsPerSample !== expectedBits)
      throw new Error(`slab ${readKey}: ${header.bitsPerSample} bits per sample, ${expectedBits} expected`);
    const { offsets, sizes } = parseSlabIndex(prefix, count);
    const info: SlabInfo = { key: readKey, header, offsets, sizes };
    this.cache.set(key, info);
    if (this.cache.size > INDEX_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return info;
  }

  private async readPrefix(key: string, length: number): Promise<Buffer | null> {
    try {
      return await this.storage.readRange(key, 0, length);
    } catch (err) {
      if (err instanceof NotFoundError || (err as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
      throw err;
    }
  }

  /** The tiles of a slab in one ranged read covering them all (null for size-0 tiles). */
  private async readAllTiles(info: SlabInfo): Promise<Array<Buffer | null>> {
    let start = Infinity;
    let end = 0;
    for (let i = 0; i < info.sizes.length; i++) {
      if (info.sizes[i] === 0) continue;
      start = Math.min(start, info.offsets[i]);
      end = Math.max(end, info.offsets[i] + info.sizes[i]);
    }
    if (end === 0) return Array.from(info.sizes, () => null);
    const bytes = await this.storage.readRange(info.key, start, end - start);
    if (bytes.length !== end - start) throw new Error(`slab ${info.key}: truncated`);
    return Array.from(info.sizes, (size, i) =>
      size === 0 ? null : bytes.subarray(info.offsets[i] - start, info.offsets[i] - start + size),
    );
  }
}

/** Copies tile `index` (slab order) into a slab-sized interleaved image. */
function blitTile(
  target: TilePixels,
  slabWidth: number,
  channels: number,
  tile: TilePixels,
  index: number,
  header: Pick<SlabHeaderInfo, 'tileWidth' | 'tileHeight' | 'tilesPerWidth'>,
): void {
  const x0 = (index % header.tilesPerWidth) * header.tileWidth;
  const y0 = Math.floor(index / header.tilesPerWidth) * header.tileHeight;
  const rowSamples = header.tileWidth * channels;
  for (let y = 0; y < header.tileHeight; y++) {
    const src = tile.subarray(y * rowSamples, (y + 1) * rowSamples);
    (target as Uint8Array).set(src as Uint8Array, ((y0 + y) * slabWidth + x0) * channels);
  }
}

function fillTileMask(
  mask: Uint8Array,
  slabWidth: number,
  header: Pick<SlabHeaderInfo, 'tileWidth' | 'tileHeight' | 'tilesPerWidth'>,
  index: number,
  value: number,
): void {
  const x0 = (index % header.tilesPerWidth) * header.tileWidth;
  const y0 = Math.floor(index / header.tilesPerWidth) * header.tileHeight;
  for (let y = 0; y < header.tileHeight; y++) {
    const start = (y0 + y) * slabWidth + x0;
    mask.fill(value, start, start + header.tileWidth);
  }
}
