import os from 'node:os';
import zlib from 'node:zlib';
import { convertChannels } from './channel-convert.js';
import { lzwDecode, lzwEncode } from './codec-lzw.js';
import { packBitsDecode, packBitsEncode } from './codec-packbits.js';
import { isPng, pngDecode, pngEncode } from './codec-png.js';
import { jpegDecode, jpegEncode } from './codec-jpeg.js';
import { bytesPerSample, type Compression, type SampleType } from './formats.js';

/** How one tile is laid out and encoded. Pixels are interleaved, row-major. */
export interface TileSpec {
  width: number;
  height: number;
  channels: number;
  compression: Compression;
  sampleType: SampleType;
}

/** Decoded tile pixels: Uint8Array for uint8, Float32Array for float32. */
export type TilePixels = Uint8Array | Float32Array;

/** zlib level ROK4 uses for ZIP tiles and masks (rok4.md §5.2, verified). */
export const ZIP_LEVEL = 6;

// Slab samples are little-endian (§5.2); typed arrays use the host order, so refuse big-endian hosts.
if (os.endianness() !== 'LE') throw new Error('rok4 tile codecs need a little-endian host');

function sampleCount(spec: TileSpec): number {
  return spec.width * spec.height * spec.channels;
}

function asBytes(pixels: TilePixels | Uint8Array): Uint8Array {
  return new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
}

function checkPixels(pixels: TilePixels, spec: TileSpec): void {
  const expected = spec.sampleType === 'float32' ? Float32Array : Uint8Array;
  if (!(pixels instanceof expected)) throw new Error(`tile pixels must be a ${expected.name} for ${spec.sampleType}`);
  if (pixels.length !== sampleCount(spec)) throw new Error(`tile has ${pixels.length} samples, ${sampleCount(spec)} expected`);
  if ((spec.compression === 'jpg' || spec.compression === 'jpg90') && spec.channels !== 3) throw new Error('JPEG tiles have 3 channels');
  if (spec.sampleType === 'float32' && (spec.compression === 'png' || spec.compression === 'jpg' || spec.compression === 'jpg90')) {
    throw new Error(`${spec.compression} cannot hold float32 samples`);
  }
}

/** Raw tile bytes → typed pixels (copied, so that the result is aligned and owns its memory). */
function fromBytes(bytes: Uint8Array, spec: TileSpec): TilePixels {
  const length = sampleCount(spec) * bytesPerSample(spec.sampleType);
  const copy = new Uint8Array(length);
  copy.set(bytes.length > length ? bytes.subarray(0, length) : bytes);
  return spec.sampleType === 'float32' ? new Float32Array(copy.buffer) : copy;
}

/** True when the compression has a synchronous codec (everything but JPEG). */
export function isSyncCompression(compression: Compression): boolean {
  return compression !== 'jpg' && compression !== 'jpg90';
}

/**
 * Encodes a tile synchronously (raw, zip, lzw, pkb, png): for worker threads that build a slab.
 * Throws for JPEG, which needs {@link encodeTile}.
 */
export function encodeTileSync(pixels: TilePixels, spec: TileSpec): Buffer {
  checkPixels(pixels, spec);
  const bytes = asBytes(pixels);
  switch (spec.compression) {
    case 'raw':
      return Buffer.from(bytes);
    case 'zip':
      return zlib.deflateSync(bytes, { level: ZIP_LEVEL });
    case 'lzw':
      return lzwEncode(bytes);
    case 'pkb':
      return packBitsEncode(bytes, spec.width * spec.channels * bytesPerSample(spec.sampleType));
    case 'png':
      return pngEncode(bytes, spec.width, spec.height, spec.channels);
    default:
      throw new Error(`${spec.compression} tiles have no synchronous encoder; use encodeTile`);
  }
}

/**
 * Decodes a tile synchronously (raw, zip, lzw, pkb, png). A `png` pyramid tile whose PNG has another
 * channel count is converted to `spec.channels`; a ZIP tile that is in fact a PNG file is read as PNG
 * (ROK4 tells them apart by the signature, §5.2). Throws for JPEG.
 */
export function decodeTileSync(bytes: Uint8Array, spec: TileSpec): TilePixels {
  const rawLength = sampleCount(spec) * bytesPerSample(spec.sampleType);
  if ((spec.compression === 'png' || spec.compression === 'zip') && isPng(bytes)) {
    const png = pngDecode(bytes);
    if (png.width !== spec.width || png.height !== spec.height) {
      throw new Error(`PNG tile is ${png.width}x${png.height}, ${spec.width}x${spec.height} expected`);
    }
    return convertChannels(png.pixels, png.channels, spec.channels);
  }
  switch (spec.compression) {
    case 'raw':
      if (bytes.length < rawLength) throw new Error(`raw tile has ${bytes.length} bytes, ${rawLength} expected`);
      return fromBytes(bytes, spec);
    case 'zip': {
      const raw = zlib.inflateSync(bytes);
      if (raw.length < rawLength) throw new Error(`zip tile inflates to ${raw.length} bytes, ${rawLength} expected`);
      return fromBytes(raw, spec);
    }
    case 'lzw':
      return fromBytes(lzwDecode(bytes, rawLength), spec);
    case 'pkb':
      return fromBytes(packBitsDecode(bytes, rawLength), spec);
    case 'png':
      throw new Error('png tile without PNG signature');
    default:
      throw new Error(`${spec.compression} tiles have no synchronous decoder; use decodeTile`);
  }
}

/** Encodes one tile in the pyramid's compression (rok4.md §5.2). JPEG: quality 75 (jpg) / 90 (jpg90). */
export async function encodeTile(pixels: TilePixels, spec: TileSpec): Promise<Buffer> {
  if (isSyncCompression(spec.compression)) return encodeTileSync(pixels, spec);
  checkPixels(pixels, spec);
  return jpegEncode(pixels as Uint8Array, spec.width, spec.height, spec.compression === 'jpg90' ? 90 : 75);
}

/**
 * Decodes one tile to interleaved pixels (Uint8Array for uint8, Float32Array for float32). `into`: an
 * array of exactly the tile's byte size that a JPEG tile may be decoded into (the result is then `into`);
 * other compressions ignore it.
 */
export async function decodeTile(bytes: Uint8Array, spec: TileSpec, into?: Uint8Array): Promise<TilePixels> {
  if (isSyncCompression(spec.compression)) return decodeTileSync(bytes, spec);
  const rgb = await jpegDecode(bytes, spec.width, spec.height, spec.channels === 3 ? into : undefined);
  return convertChannels(rgb, 3, spec.channels);
}

const constantMasks = new Map<string, Buffer>();

/**
 * The encoded (ZIP) mask tile of `width` × `height` all `v` (0: no data, 255: all data), as every slab dallage
 * writes holds it: readers recognise such tiles by their bytes, without inflating and scanning them (a merge,
 * WMS maps).
 */
export function constantMaskTile(width: number, height: number, v: 0 | 255): Buffer {
  const k = `${v}:${width}x${height}`;
  let cached = constantMasks.get(k);
  if (!cached) {
    cached = encodeTileSync(new Uint8Array(width * height).fill(v), {
      width,
      height,
      channels: 1,
      compression: 'zip',
      sampleType: 'uint8',
    });
    constantMasks.set(k, cached);
  }
  return cached;
}
