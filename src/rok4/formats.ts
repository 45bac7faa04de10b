/**
 * The raster formats of ROK4 pyramids (rok4.md §3.2), in one table.
 */

/** Tile compression as named by the generators (`none` is called `raw` here). */
export type Compression = 'raw' | 'jpg' | 'jpg90' | 'png' | 'zip' | 'lzw' | 'pkb';
/** Sample type of a pyramid. */
export type SampleType = 'uint8' | 'float32';

export interface FormatInfo {
  /** Descriptor value, e.g. `TIFF_JPG_UINT8`. */
  name: string;
  compression: Compression;
  sampleType: SampleType;
  /** TIFF Compression tag written in the slab header (PNG slabs also say 8). */
  tiffCompression: number;
  /** Media type of one tile as served. */
  mimeType: string;
  /** Extra HTTP Content-Encoding of a served tile (ZIP_FLOAT32 only). */
  contentEncoding?: string;
  /** File extension on the TMS route. */
  tmsExtension: string;
  /** Allowed samples per pixel. */
  channels: readonly number[];
}

const ANY_UINT8 = [1, 2, 3, 4] as const;
const RGB_ONLY = [3] as const;
const SINGLE = [1] as const;

const TABLE: readonly FormatInfo[] = [
  {
    name: 'TIFF_RAW_UINT8',
    compression: 'raw',
    sampleType: 'uint8',
    tiffCompression: 1,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: ANY_UINT8,
  },
  {
    name: 'TIFF_JPG_UINT8',
    compression: 'jpg',
    sampleType: 'uint8',
    tiffCompression: 7,
    mimeType: 'image/jpeg',
    tmsExtension: 'jpeg',
    channels: RGB_ONLY,
  },
  {
    name: 'TIFF_JPG90_UINT8',
    compression: 'jpg90',
    sampleType: 'uint8',
    tiffCompression: 7,
    mimeType: 'image/jpeg',
    tmsExtension: 'jpeg',
    channels: RGB_ONLY,
  },
  {
    name: 'TIFF_PNG_UINT8',
    compression: 'png',
    sampleType: 'uint8',
    tiffCompression: 8,
    mimeType: 'image/png',
    tmsExtension: 'png',
    channels: ANY_UINT8,
  },
  {
    name: 'TIFF_LZW_UINT8',
    compression: 'lzw',
    sampleType: 'uint8',
    tiffCompression: 5,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: ANY_UINT8,
  },
  {
    name: 'TIFF_ZIP_UINT8',
    compression: 'zip',
    sampleType: 'uint8',
    tiffCompression: 8,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: ANY_UINT8,
  },
  {
    name: 'TIFF_PKB_UINT8',
    compression: 'pkb',
    sampleType: 'uint8',
    tiffCompression: 32773,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: ANY_UINT8,
  },
  // Float pyramids are single-channel: the server only wraps 1-channel float tiles (§3.2).
  {
    name: 'TIFF_RAW_FLOAT32',
    compression: 'raw',
    sampleType: 'float32',
    tiffCompression: 1,
    mimeType: 'image/x-bil;bits=32',
    tmsExtension: 'bil',
    channels: SINGLE,
  },
  {
    name: 'TIFF_LZW_FLOAT32',
    compression: 'lzw',
    sampleType: 'float32',
    tiffCompression: 5,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: SINGLE,
  },
  {
    name: 'TIFF_ZIP_FLOAT32',
    compression: 'zip',
    sampleType: 'float32',
    tiffCompression: 8,
    mimeType: 'image/x-bil;bits=32',
    contentEncoding: 'deflate',
    tmsExtension: 'zbil',
    channels: SINGLE,
  },
  {
    name: 'TIFF_PKB_FLOAT32',
    compression: 'pkb',
    sampleType: 'float32',
    tiffCompression: 32773,
    mimeType: 'image/tiff',
    tmsExtension: 'tif',
    channels: SINGLE,
  },
];

const BY_NAME = new Map(TABLE.map((f) => [f.name, f]));

/** Every raster format, in the order of rok4.md §3.2. */
export const FORMATS: readonly FormatInfo[] = TABLE;

/** Format of mask slabs (rok4.md §5.3) and only allowed `mask_format` value. */
export const MASK_FORMAT = 'TIFF_ZIP_UINT8';

/** Descriptor name of a compression + sample type; throws for combinations ROK4 does not define (jpg/png float). */
export function formatName(compression: Compression, sampleType: SampleType): string {
  const found = TABLE.find((f) => f.compression === compression && f.sampleType === sampleType);
  if (!found) throw new Error(`no ROK4 format for compression ${compression} with ${sampleType} samples`);
  return found.name;
}

/** The table row of a descriptor `format` value; throws on an unknown (or vector) format. */
export function parseFormat(name: string): FormatInfo {
  const found = BY_NAME.get(name);
  if (!found) throw new Error(`unknown ROK4 raster format: ${JSON.stringify(name)}`);
  return found;
}

/** Bytes per sample of a sample type. */
export function bytesPerSample(sampleType: SampleType): number {
  return sampleType === 'float32' ? 4 : 1;
}
