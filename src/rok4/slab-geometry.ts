import { bytesPerSample, MASK_FORMAT, parseFormat, type Compression, type SampleType } from './formats.js';

/** Size of the fixed slab header; the tile index starts right after it (rok4.md §5.1). */
export const SLAB_HEADER_SIZE = 2048;

/** Everything that decides the bytes of a slab header (rok4.md §5.1). */
export interface SlabGeometry {
  tileWidth: number;
  tileHeight: number;
  tilesPerWidth: number;
  tilesPerHeight: number;
  channels: number;
  compression: Compression;
  sampleType: SampleType;
  /**
   * TIFF ExtraSamples value for 2/4-channel slabs: 2 unassociated alpha (ROK4 default), 1 associated,
   * 0 unspecified. Ignored for 1/3 channels.
   */
  extraSample?: 0 | 1 | 2;
}

/** Number of tiles of a slab. */
export function tileCount(geometry: Pick<SlabGeometry, 'tilesPerWidth' | 'tilesPerHeight'>): number {
  return geometry.tilesPerWidth * geometry.tilesPerHeight;
}

/** Byte length of header + index, the prefix a reader fetches in one request (§5.1). */
export function headerAndIndexSize(count: number): number {
  return SLAB_HEADER_SIZE + 8 * count;
}

/** Bytes of one raw (decoded) tile. */
export function rawTileBytes(geometry: Pick<SlabGeometry, 'tileWidth' | 'tileHeight' | 'channels' | 'sampleType'>): number {
  return geometry.tileWidth * geometry.tileHeight * geometry.channels * bytesPerSample(geometry.sampleType);
}

/** Geometry of a pyramid's data slabs from its descriptor format and slab size. */
export function dataSlabGeometry(
  format: string,
  channels: number,
  tile: { tileWidth: number; tileHeight: number },
  slab: { tilesPerWidth: number; tilesPerHeight: number },
): SlabGeometry {
  const info = parseFormat(format);
  if (!info.channels.includes(channels)) throw new Error(`${format} does not allow ${channels} channel(s)`);
  return { ...tile, ...slab, channels, compression: info.compression, sampleType: info.sampleType };
}

/** Geometry of the mask slab paired with a data slab: TIFF_ZIP_UINT8, 1 channel (rok4.md §5.3). */
export function maskSlabGeometry(data: Pick<SlabGeometry, 'tileWidth' | 'tileHeight' | 'tilesPerWidth' | 'tilesPerHeight'>): SlabGeometry {
  const info = parseFormat(MASK_FORMAT);
  return {
    tileWidth: data.tileWidth,
    tileHeight: data.tileHeight,
    tilesPerWidth: data.tilesPerWidth,
    tilesPerHeight: data.tilesPerHeight,
    channels: 1,
    compression: info.compression,
    sampleType: info.sampleType,
  };
}
