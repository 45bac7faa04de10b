import { FORMATS, type Compression, type SampleType } from './formats.js';
import { SLAB_HEADER_SIZE, tileCount, type SlabGeometry } from './slab-geometry.js';

const SHORT = 3;
const LONG = 4;

const TAG = {
  imageWidth: 256,
  imageLength: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  samplesPerPixel: 277,
  tileWidth: 322,
  tileLength: 323,
  tileOffsets: 324,
  tileByteCounts: 325,
  extraSamples: 338,
  sampleFormat: 339,
  yCbCrSubsampling: 530,
} as const;

/**
 * The TIFF Photometric value ROK4 writes: YCbCr for JPEG, RGB for 3/4 channels, min-is-black for
 * gray and masks (rok4.md §5.1).
 */
export function photometricOf(geometry: Pick<SlabGeometry, 'channels' | 'compression'>): number {
  if (geometry.compression === 'jpg' || geometry.compression === 'jpg90') return 6;
  return geometry.channels >= 3 ? 2 : 1;
}

function tiffCompressionOf(compression: Compression): number {
  return FORMATS.find((f) => f.compression === compression)!.tiffCompression;
}

function checkGeometry(g: SlabGeometry): void {
  for (const key of ['tileWidth', 'tileHeight', 'tilesPerWidth', 'tilesPerHeight'] as const) {
    if (!Number.isInteger(g[key]) || g[key] < 1) throw new Error(`slab geometry: ${key} must be a positive integer, got ${g[key]}`);
  }
  if (!Number.isInteger(g.channels) || g.channels < 1 || g.channels > 4)
    throw new Error(`slab geometry: channels must be 1..4, got ${g.channels}`);
  if ((g.compression === 'jpg' || g.compression === 'jpg90') && g.channels !== 3)
    throw new Error('slab geometry: JPEG slabs have 3 channels');
  if (g.sampleType === 'float32' && (g.compression === 'jpg' || g.compression === 'jpg90' || g.compression === 'png')) {
    throw new Error(`slab geometry: ${g.compression} cannot hold float32 samples`);
  }
}

/**
 * The first 2048 bytes of a slab, byte for byte as ROK4 writes them (rok4.md §5.1). For N = 1 the
 * TileOffsets/TileByteCounts values are the tile's offset (2056) and size (`singleTileSize`), since a
 * single LONG fits in the entry; for N > 1 they point at the index at 2048 and 2048 + 4N.
 */
export function buildSlabHeader(geometry: SlabGeometry, singleTileSize = 0): Buffer {
  checkGeometry(geometry);
  const header = Buffer.alloc(SLAB_HEADER_SIZE);
  const n = tileCount(geometry);
  const bits = geometry.sampleType === 'float32' ? 32 : 8;
  const { channels } = geometry;
  const isJpeg = geometry.compression === 'jpg' || geometry.compression === 'jpg90';
  const hasExtra = channels === 2 || channels === 4;

  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  header.writeUInt32LE(16, 4);
  // Four BitsPerSample shorts at byte 8, always written; the IFD points there for 3-4 channels.
  for (let i = 0; i < 4; i++) header.writeUInt16LE(bits, 8 + 2 * i);

  const entries: Array<[tag: number, type: number, count: number, value: number]> = [];
  entries.push([TAG.imageWidth, LONG, 1, geometry.tileWidth * geometry.tilesPerWidth]);
  entries.push([TAG.imageLength, LONG, 1, geometry.tileHeight * geometry.tilesPerHeight]);
  if (channels === 1) entries.push([TAG.bitsPerSample, SHORT, 1, bits]);
  // ROK4 quirk: two 8-bit shorts inline for 2 channels, even for float samples (§5.1).
  else if (channels === 2) entries.push([TAG.bitsPerSample, SHORT, 2, 8 | (8 << 16)]);
  else entries.push([TAG.bitsPerSample, SHORT, channels, 8]);
  entries.push([TAG.compression, SHORT, 1, tiffCompressionOf(geometry.compression)]);
  entries.push([TAG.photometric, SHORT, 1, photometricOf(geometry)]);
  entries.push([TAG.samplesPerPixel, SHORT, 1, channels]);
  entries.push([TAG.tileWidth, LONG, 1, geometry.tileWidth]);
  entries.push([TAG.tileLength, LONG, 1, geometry.tileHeight]);
  if (n === 1) {
    entries.push([TAG.tileOffsets, LONG, 1, SLAB_HEADER_SIZE + 8]);
    entries.push([TAG.tileByteCounts, LONG, 1, singleTileSize]);
  } else {
    entries.push([TAG.tileOffsets, LONG, n, SLAB_HEADER_SIZE]);
    entries.push([TAG.tileByteCounts, LONG, n, SLAB_HEADER_SIZE + 4 * n]);
  }
  if (hasExtra) entries.push([TAG.extraSamples, SHORT, 1, geometry.extraSample ?? 2]);
  entries.push([TAG.sampleFormat, SHORT, 1, geometry.sampleType === 'float32' ? 3 : 1]);
  if (isJpeg) entries.push([TAG.yCbCrSubsampling, SHORT, 2, 2 | (2 << 16)]);

  header.writeUInt16LE(entries.length, 16);
  let pos = 18;
  for (const [tag, type, count, value] of entries) {
    header.writeUInt16LE(tag, pos);
    header.writeUInt16LE(type, pos + 2);
    header.writeUInt32LE(count, pos + 4);
    header.writeUInt32LE(value >>> 0, pos + 8);
    pos += 12;
  }
  // Next IFD offset 0 and zero padding: already zero from Buffer.alloc.
  return header;
}

/** What a reader learns from a slab header (rok4.md §5.1). */
export interface SlabHeaderInfo {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  tilesPerWidth: number;
  tilesPerHeight: number;
  channels: number;
  bitsPerSample: number;
  /** TIFF Compression tag value (8 for both ZIP and PNG slabs). */
  tiffCompression: number;
  photometric: number;
  sampleType: SampleType;
  extraSample?: number;
}

/**
 * Parses the header fields of a slab by walking its IFD (a tolerant superset of ROK4's fixed-offset
 * reading). Throws on anything that is not a little-endian ROK4-like tiled TIFF.
 */
export function parseSlabHeader(bytes: Uint8Array): SlabHeaderInfo {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 18 || buf[0] !== 0x49 || buf[1] !== 0x49 || buf.readUInt16LE(2) !== 42) {
    throw new Error('not a little-endian TIFF slab');
  }
  const ifd = buf.readUInt32LE(4);
  if (ifd + 2 > buf.length) throw new Error('slab header: IFD outside the header');
  const count = buf.readUInt16LE(ifd);
  if (ifd + 2 + 12 * count > buf.length) throw new Error('slab header: truncated IFD');
  const values = new Map<number, { type: number; count: number; value: number; at: number }>();
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + 12 * i;
    values.set(buf.readUInt16LE(at), {
      type: buf.readUInt16LE(at + 2),
      count: buf.readUInt32LE(at + 4),
      value: buf.readUInt16LE(at + 2) === SHORT ? buf.readUInt16LE(at + 8) : buf.readUInt32LE(at + 8),
      at: at + 8,
    });
  }
  const need = (tag: number, name: string): number => {
    const entry = values.get(tag);
    if (!entry) throw new Error(`slab header: missing ${name} (tag ${tag})`);
    return entry.value;
  };
  const width = need(TAG.imageWidth, 'ImageWidth');
  const height = need(TAG.imageLength, 'ImageLength');
  const tileWidth = need(TAG.tileWidth, 'TileWidth');
  const tileHeight = need(TAG.tileLength, 'TileLength');
  const channels = need(TAG.samplesPerPixel, 'SamplesPerPixel');
  const bpsEntry = values.get(TAG.bitsPerSample);
  // ROK4 readers take bits per sample at byte 8 (§5.1); the 2-channel entry says 8 even for floats.
  const bitsPerSample = buf.readUInt16LE(8) || (bpsEntry?.value ?? 8);
  const sampleFormat = values.get(TAG.sampleFormat)?.value ?? 1;
  if (width % tileWidth !== 0 || height % tileHeight !== 0) throw new Error('slab header: image size is not a whole number of tiles');
  return {
    width,
    height,
    tileWidth,
    tileHeight,
    tilesPerWidth: width / tileWidth,
    tilesPerHeight: height / tileHeight,
    channels,
    bitsPerSample,
    tiffCompression: need(TAG.compression, 'Compression'),
    photometric: need(TAG.photometric, 'Photometric'),
    sampleType: sampleFormat === 3 && bitsPerSample === 32 ? 'float32' : 'uint8',
    extraSample: values.get(TAG.extraSamples)?.value,
  };
}
