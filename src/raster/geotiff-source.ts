/**
 * Source rasters (GeoTIFF, TIFF + world file, JPEG 2000): description in the main thread
 * (`describeRaster`) and window reading inside worker threads (`openRasterWindows`). DESIGN.md §6,
 * rok4.md §8.1/§8.4. JPEG 2000 files are read by jp2-source.ts behind the same two functions.
 *
 * Pixels of 8-bit images are decoded block by block by tiff-blocks.ts when their layout is a plain one
 * (chunky, uncompressed, Deflate, LZW or PackBits; libdeflate for Deflate), else by libvips (sharp: JPEG,
 * YCbCr, palette…) — ~8x faster than geotiff.js, and both decode only the tiles/strips a window touches —
 * and with geotiff.js for float32 images, for 1-bit internal masks (libvips does not load them per IFD)
 * and for rasters read by ranges from a Storage. Metadata (IFDs, GeoKeys, GDAL tags) comes from geotiff.js.
 */
import { close as closeCallback, open as openCallback } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { fromFile, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { describeStorage, type StorageDescriptor, storageOf } from '../storage/factory.js';
import { NotFoundError, type ObjectStat, type Storage } from '../storage/storage.js';
import { openFileBytes, openGeoTiff, openStoredBytes } from './byte-source.js';
import sharp from 'sharp';
import { resolveCrs, type Bbox, type CrsInfo, UnknownCrsError } from './crs.js';
import { readWorldFile, type GeoTransform, type ReadText } from './tfw.js';
import { checkTiffStructure, TiffStructureError } from './tiff-structure.js';
import { closeJp2Sources, describeJp2, openJp2Windows } from './jp2-source.js';
import { jpeg2000Kind } from './jp2-structure.js';
import { type BlockLayout, blockLayoutOf, readBlockWindow, TiffBlockError } from './tiff-blocks.js';

const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);

export type { GeoTransform } from './tfw.js';

/** Why a source raster cannot be used. `code` is stable, the message says what to do. */
export class RasterSourceError extends Error {
  constructor(
    readonly code:
      | 'NOT_A_TIFF'
      | 'TRUNCATED'
      | 'NO_GEOREFERENCING'
      | 'UNKNOWN_CRS'
      | 'UNSUPPORTED_SAMPLE_FORMAT'
      | 'UNSUPPORTED_FORMAT'
      | 'UNREADABLE'
      | 'CORRUPT',
    message: string,
  ) {
    super(message);
    this.name = 'RasterSourceError';
  }
}

export type SampleType = 'uint8' | 'float32';
/** How the validity mask of a source is derived (GDAL's order: internal mask, then nodata, then alpha). */
export type MaskKind = 'none' | 'nodata' | 'alpha' | 'internal-mask';

/** One reduced-resolution image of the source. */
export interface OverviewInfo {
  width: number;
  height: number;
  /** Index of its IFD in the file. */
  ifd: number;
  /** IFD of its internal mask, when the source has one. */
  maskIfd?: number;
}

/** Everything a worker needs to read a source raster. Plain data (structured-cloneable). */
export interface RasterInfo {
  /** The local file, or the URL of the object for a raster read from a Storage (`object`). */
  path: string;
  /**
   * A raster that is an object of a Storage (a COG of a catalog on S3): read by ranges through the
   * Storage, never by path. Plain data: worker threads reopen the storage from its descriptor.
   */
  object?: { storage: StorageDescriptor; key: string };
  /** File format: GeoTIFF (the default when absent) or JPEG 2000 (JP2 or bare codestream). */
  format?: 'gtiff' | 'jp2';
  width: number;
  height: number;
  /** Number of bands (samples per pixel), alpha included. */
  bands: number;
  sampleType: SampleType;
  crs: CrsInfo;
  /** GDAL geotransform [x0, dx, rx, y0, ry, dy], pixel-corner convention. */
  geoTransform: GeoTransform;
  /** Where the georeferencing came from: GeoTIFF tags, a world file, a GeoJP2 or a GMLJP2 box. */
  georefSource: 'geotiff' | 'worldfile' | 'geojp2' | 'gmljp2';
  /** [xmin, ymin, xmax, ymax] of the image in its CRS. */
  bbox: Bbox;
  /** Nodata value per band (GDAL_NODATA tag or the `nodata` option), or null. */
  nodata: number[] | null;
  mask: MaskKind;
  /** Band index (0-based) of the alpha channel when `mask` is 'alpha'. */
  alphaBand?: number;
  /** IFD index of the full-resolution image and of its internal mask. */
  ifd: number;
  maskIfd?: number;
  /** Overviews, largest first (JPEG 2000: its resolution levels, `ifd` = levels reduced). */
  overviews: OverviewInfo[];
  tiled: boolean;
  /** Tile size, or [width, rowsPerStrip] for stripped images. */
  blockWidth: number;
  blockHeight: number;
  /** TIFF Compression tag value and its name. */
  compression: number;
  compressionName: string;
  /** Photometric interpretation (2 RGB, 6 YCbCr, 1 min-is-black…). */
  photometric: number;
  predictor: number;
  bigTiff: boolean;
  /** The GDAL_METADATA tag (42112) of the full-resolution IFD, when present (band statistics, scale, offset…). */
  gdalMetadata?: string;
  /** File size in bytes. */
  byteSize: number;
  /**
   * Modification time (ms): part of the key of cached readers, so that a file replaced at the same path
   * (an upload's file, reopened and sent again) is never read through the old one's handle.
   */
  modified: number;
}

export interface DescribeOptions {
  /** Declared CRS: used when the file has none, and overrides the file's one (like gdal -a_srs). */
  srs?: string;
  /** CRS of a file that declares none (an upload's `srs` for TIFF + TFW); unlike `srs`, never overrides the file's. */
  fallbackSrs?: string;
  /** Nodata value(s): one for all bands or one per band; overrides the GDAL_NODATA tag. */
  nodata?: number | number[];
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  5: 'lzw',
  6: 'old-jpeg',
  7: 'jpeg',
  8: 'deflate',
  32946: 'deflate',
  32773: 'packbits',
  34712: 'jpeg2000',
  34887: 'lerc',
  50000: 'zstd',
  50001: 'webp',
  34925: 'lzma',
};

/** TIFF/BigTIFF and JPEG 2000 signatures. */
async function checkSignature(file: string): Promise<{ bigTiff: boolean; jpeg2000?: boolean }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(12);
    const { bytesRead } = await fh.read(head, 0, 12, 0);
    return signatureOf(head.subarray(0, bytesRead), file);
  } finally {
    await fh.close();
  }
}

/** {@link checkSignature} of the first 12 bytes `b` of `file`. */
function signatureOf(b: Buffer, file: string): { bigTiff: boolean; jpeg2000?: boolean } {
  const le = b[0] === 0x49 && b[1] === 0x49;
  const be = b[0] === 0x4d && b[1] === 0x4d;
  if (b.length >= 8 && (le || be)) {
    const magic = le ? b.readUInt16LE(2) : b.readUInt16BE(2);
    if (magic === 42) return { bigTiff: false };
    if (magic === 43) return { bigTiff: true };
  }
  if (jpeg2000Kind(b)) return { bigTiff: false, jpeg2000: true };
  throw new RasterSourceError(
    'NOT_A_TIFF',
    `${file} is neither TIFF nor JPEG 2000 (bad signature); expected GeoTIFF, TIFF + world file or JPEG 2000`,
  );
}

function num(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Number((v as ArrayLike<number>)[0] ?? fallback);
  return fallback;
}

/** Sum check: every tile/strip must lie inside the file, else it is truncated. */
async function checkNotTruncated(file: string, image: GeoTIFFImage, byteSize: number): Promise<void> {
  const fd = image.getFileDirectory();
  const tiled = fd.hasTag('TileOffsets');
  const offsets = (await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets')) as ArrayLike<number | bigint> | undefined;
  const counts = (await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts')) as ArrayLike<number | bigint> | undefined;
  if (!offsets || !counts) throw new RasterSourceError('UNREADABLE', `${file}: no strip or tile offsets`);
  for (let i = 0; i < offsets.length; i++) {
    const end = Number(offsets[i]) + Number(counts[i] ?? 0);
    if (Number(counts[i]) > 0 && end > byteSize) {
      throw new RasterSourceError('TRUNCATED', `${file} is truncated: block ${i} ends at byte ${end}, the file has ${byteSize}`);
    }
  }
}

export function geoTransformFromTags(image: GeoTIFFImage): GeoTransform | undefined {
  const fd = image.getFileDirectory();
  const transformation = fd.getValue('ModelTransformation') as ArrayLike<number> | undefined;
  let gt: GeoTransform | undefined;
  if (transformation && transformation.length >= 16) {
    const t = transformation;
    gt = [t[3], t[0], t[1], t[7], t[4], t[5]];
  } else {
    const tie = fd.getValue('ModelTiepoint') as ArrayLike<number> | undefined;
    const scale = fd.getValue('ModelPixelScale') as ArrayLike<number> | undefined;
    if (!tie || !scale || tie.length < 6 || scale.length < 2) return undefined;
    // Tiepoint (i, j) ↔ (x, y): origin = x − i·sx, y + j·sy (north-up image, y scale stored positive).
    gt = [tie[3] - tie[0] * scale[0], scale[0], 0, tie[4] + tie[1] * scale[1], 0, -scale[1]];
  }
  const keys = image.getGeoKeys();
  if (keys?.GTRasterTypeGeoKey === 2) {
    // PixelIsPoint: the tie point is a pixel centre; GDAL moves the origin half a pixel up-left.
    gt = [gt[0] - 0.5 * gt[1] - 0.5 * gt[2], gt[1], gt[2], gt[3] - 0.5 * gt[4] - 0.5 * gt[5], gt[4], gt[5]];
  }
  return gt;
}

export function crsFromGeoKeys(image: GeoTIFFImage, file: string): CrsInfo | undefined {
  const keys = image.getGeoKeys();
  if (!keys) return undefined;
  const code = keys.GTModelTypeGeoKey === 2 ? keys.GeographicTypeGeoKey : (keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey);
  if (code === undefined) return undefined;
  if (code === 32767) {
    throw new RasterSourceError(
      'UNKNOWN_CRS',
      `${file} has a user-defined CRS (GeoKey 32767) we cannot interpret; declare its EPSG code with the srs option`,
    );
  }
  try {
    return resolveCrs(`EPSG:${code}`);
  } catch (err) {
    if (err instanceof UnknownCrsError)
      throw new RasterSourceError('UNKNOWN_CRS', `${file}: GeoKeys name EPSG:${code}, which is not a known CRS`);
    throw err;
  }
}

function parseNodata(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const t = text.replace(/\0/g, '').trim();
  if (!t) return undefined;
  if (/^nan$/i.test(t)) return NaN;
  const v = Number(t);
  return Number.isNaN(v) ? undefined : v;
}

/** [xmin, ymin, xmax, ymax] of an image of `width` × `height` pixels under geotransform `gt`. */
export function rasterBbox(gt: GeoTransform, width: number, height: number): Bbox {
  const xs = [gt[0], gt[0] + width * gt[1], gt[0] + height * gt[2], gt[0] + width * gt[1] + height * gt[2]];
  const ys = [gt[3], gt[3] + width * gt[4], gt[3] + height * gt[5], gt[3] + width * gt[4] + height * gt[5]];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * Opens a source raster and describes it (main thread). Reads only the header, IFDs and block tables.
 * @throws RasterSourceError with code NOT_A_TIFF, TRUNCATED, NO_GEOREFERENCING, UNKNOWN_CRS,
 *   UNSUPPORTED_SAMPLE_FORMAT, UNSUPPORTED_FORMAT (JPEG 2000 codestreams we do not cut), CORRUPT (IFD counts or tables that
 *   do not fit the file or the image, checked before anything is loaded) or UNREADABLE.
 */
export async function describeRaster(file: string, options: DescribeOptions = {}): Promise<RasterInfo> {
  let byteSize: number;
  let modified: number;
  try {
    const st = await stat(file);
    byteSize = st.size;
    modified = st.mtimeMs;
  } catch (err) {
    throw new RasterSourceError('UNREADABLE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const { bigTiff, jpeg2000 } = await checkSignature(file);
  if (jpeg2000) {
    const bytes = await openFileBytes(file);
    try {
      return await describeJp2({ name: file, bytes, byteSize, modified }, options);
    } finally {
      await bytes.close();
    }
  }
  return describeTiff({ name: file, file, byteSize, modified, bigTiff, structure: file, open: () => fromFile(file) }, options);
}

/**
 * {@link describeRaster} of an object of `storage` (a COG of a catalog on S3, an image of an upload on S3),
 * read by ranges as GDAL's /vsis3/ does; its world file, if any, is an object beside it. Worker threads
 * reopen it through the storage (`RasterInfo.object`), so any worker that shares the storage can read it.
 */
export async function describeStoredRaster(storage: Storage, key: string, options: DescribeOptions = {}): Promise<RasterInfo> {
  const name = storage.url(key);
  let stat: ObjectStat | undefined;
  try {
    stat = await storage.stat(key);
  } catch (err) {
    throw new RasterSourceError('UNREADABLE', `cannot read ${name}: ${(err as Error).message}`);
  }
  if (stat === undefined) throw new RasterSourceError('UNREADABLE', `cannot read ${name}: no such object`);
  const { size: byteSize, modified } = stat;
  const bytes = await openStoredBytes(storage, key);
  try {
    const { bigTiff, jpeg2000 } = signatureOf(await bytes.read(0, 12), name);
    const object = { storage: describeStorage(storage), key };
    const readText = (sibling: string) =>
      storage.read(sibling).then(
        (b) => b.toString('utf8'),
        (err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        },
      );
    if (jpeg2000) return await describeJp2({ name, bytes, byteSize, modified, object, readText }, options);
    return await describeTiff(
      {
        name,
        byteSize,
        modified,
        bigTiff,
        structure: bytes,
        open: () => openGeoTiff(bytes),
        object,
        readText,
      },
      options,
    );
  } finally {
    await bytes.close();
  }
}

/**
 * Where a raster is: a local file (read by libvips too), or an object of a Storage read by ranges (issue 13:
 * COGs of a catalog and images of an upload kept on S3).
 */
export type RasterLocation = { file: string } | { storage: Storage; key: string };

/** The location of the object `key` of `storage`: its file on FILE storage (the faster readers take files). */
export function storedRasterLocation(storage: Storage, key: string): RasterLocation {
  return storage.type === 'FILE' ? { file: fileURLToPath(storage.url(key)) } : { storage, key };
}

/** How messages name a raster: its path, or its object's URL. */
export function rasterLocationName(at: RasterLocation): string {
  return 'file' in at ? at.file : at.storage.url(at.key);
}

/** {@link describeRaster} or {@link describeStoredRaster}, as `at` says. */
export function describeRasterAt(at: RasterLocation, options: DescribeOptions = {}): Promise<RasterInfo> {
  return 'file' in at ? describeRaster(at.file, options) : describeStoredRaster(at.storage, at.key, options);
}

/** Where a TIFF's bytes come from, for {@link describeTiff}. */
interface TiffBytes {
  name: string;
  /** The local file (world files are looked for beside it). */
  file?: string;
  /** Reads the world files beside an object (with `object`). */
  readText?: ReadText;
  byteSize: number;
  modified: number;
  bigTiff: boolean;
  structure: Parameters<typeof checkTiffStructure>[0];
  open: () => Promise<GeoTIFF>;
  object?: RasterInfo['object'];
}

async function describeTiff(src: TiffBytes, options: DescribeOptions): Promise<RasterInfo> {
  const { name: file, byteSize, modified, bigTiff } = src;
  // Before geotiff.js loads anything: it allocates whatever the counts in the IFDs say.
  try {
    await checkTiffStructure(src.structure, byteSize);
  } catch (err) {
    if (err instanceof TiffStructureError) throw new RasterSourceError(err.truncated ? 'TRUNCATED' : 'CORRUPT', err.message);
    throw err;
  }
  let tiff: GeoTIFF;
  let imageCount: number;
  try {
    tiff = await src.open();
    imageCount = await tiff.getImageCount();
  } catch (err) {
    throw new RasterSourceError('TRUNCATED', `${file} is truncated or corrupt: ${(err as Error).message}`);
  }
  const images: GeoTIFFImage[] = [];
  try {
    for (let i = 0; i < imageCount; i++) images.push(await tiff.getImage(i));
  } catch (err) {
    throw new RasterSourceError('TRUNCATED', `${file} is truncated or corrupt: ${(err as Error).message}`);
  }
  const main = images[0];
  const fd = main.getFileDirectory();
  const width = main.getWidth();
  const height = main.getHeight();
  const bands = main.getSamplesPerPixel();
  const bits = num(fd.getValue('BitsPerSample'), 1);
  const format = num(fd.getValue('SampleFormat'), 1);
  const planar = num(fd.getValue('PlanarConfiguration'), 1);
  let sampleType: SampleType;
  if (bits === 8 && format === 1 && bands >= 1 && bands <= 4) sampleType = 'uint8';
  else if (bits === 32 && format === 3 && bands === 1) sampleType = 'float32';
  else {
    const kind = format === 3 ? 'float' : format === 2 ? 'int' : 'uint';
    throw new RasterSourceError(
      'UNSUPPORTED_SAMPLE_FORMAT',
      `${file} has ${bands} band(s) of ${kind}${bits}: only 8-bit unsigned images of 1 to 4 bands and 1-band float32 images are supported`,
    );
  }
  if (planar !== 1 && bands > 1) {
    // libvips reads planar TIFFs, geotiff.js too; nothing to refuse, noted for the record.
  }
  await checkNotTruncated(file, main, byteSize);

  // Georeferencing: GeoTIFF tags first (GDAL's default order), then a world file.
  let geoTransform = geoTransformFromTags(main);
  let georefSource: RasterInfo['georefSource'] = 'geotiff';
  let crs: CrsInfo | undefined;
  if (options.srs) {
    try {
      crs = resolveCrs(options.srs);
    } catch (err) {
      throw new RasterSourceError('UNKNOWN_CRS', `srs option: ${(err as Error).message}`);
    }
  } else crs = crsFromGeoKeys(main, file);
  if (!crs && options.fallbackSrs) {
    try {
      crs = resolveCrs(options.fallbackSrs);
    } catch (err) {
      throw new RasterSourceError('UNKNOWN_CRS', `declared srs: ${(err as Error).message}`);
    }
  }
  const worldOf = src.file ?? src.object?.key;
  if (!geoTransform && worldOf) {
    const world = await readWorldFile(worldOf, src.readText);
    if (world) {
      geoTransform = world.geoTransform;
      georefSource = 'worldfile';
    }
  }
  if (!geoTransform) {
    throw new RasterSourceError('NO_GEOREFERENCING', `${file} is not georeferenced: no GeoTIFF tags and no world file (.tfw) beside it`);
  }
  if (!crs) {
    throw new RasterSourceError(
      'NO_GEOREFERENCING',
      `${file} has no CRS: ${georefSource === 'worldfile' ? 'a world file carries none' : 'its GeoKeys name none'}; declare it with the srs option`,
    );
  }

  // Masks: classify the other IFDs by NewSubfileType (bit 0 reduced resolution, bit 2 transparency mask).
  let maskIfd: number | undefined;
  const overviews: OverviewInfo[] = [];
  const overviewMasks: Array<{ ifd: number; width: number; height: number }> = [];
  for (let i = 1; i < images.length; i++) {
    const subfile = num(images[i].getFileDirectory().getValue('NewSubfileType'), 0);
    const w = images[i].getWidth();
    const h = images[i].getHeight();
    if (subfile & 4) {
      if (w === width && h === height && !(subfile & 1)) maskIfd = i;
      else overviewMasks.push({ ifd: i, width: w, height: h });
    } else if (subfile & 1) overviews.push({ width: w, height: h, ifd: i });
  }
  for (const ov of overviews) {
    const m = overviewMasks.find((o) => o.width === ov.width && o.height === ov.height);
    if (m && maskIfd !== undefined) ov.maskIfd = m.ifd;
  }
  overviews.sort((a, b) => b.width - a.width);

  let nodata: number[] | null = null;
  if (options.nodata !== undefined) {
    nodata = Array.isArray(options.nodata) ? [...options.nodata] : new Array(bands).fill(options.nodata);
    if (nodata.length !== bands) throw new RasterSourceError('UNREADABLE', `nodata option has ${nodata.length} values for ${bands} bands`);
  } else {
    const tagged = parseNodata(fd.getValue('GDAL_NODATA'));
    if (tagged !== undefined) nodata = new Array(bands).fill(tagged);
  }
  const extra = fd.getValue('ExtraSamples') as ArrayLike<number> | number | undefined;
  const extraList = extra === undefined ? [] : typeof extra === 'number' ? [extra] : Array.from(extra);
  // Alpha: a declared associated/unassociated extra sample on a gray+alpha or RGBA image (GDAL's rule).
  const hasAlpha =
    (bands === 2 || bands === 4) &&
    extraList.length > 0 &&
    (extraList[extraList.length - 1] === 1 || extraList[extraList.length - 1] === 2);
  let mask: MaskKind = 'none';
  if (maskIfd !== undefined) mask = 'internal-mask';
  else if (nodata) mask = 'nodata';
  else if (hasAlpha) mask = 'alpha';

  const tiled = fd.hasTag('TileWidth');
  const compression = num(fd.getValue('Compression'), 1);
  const gdalMetadata = fd.hasTag('GDAL_METADATA') ? ((await fd.loadValue('GDAL_METADATA')) as unknown) : undefined;
  return {
    path: file,
    ...(src.object ? { object: src.object } : {}),
    width,
    height,
    bands,
    sampleType,
    crs,
    geoTransform,
    georefSource,
    bbox: rasterBbox(geoTransform, width, height),
    nodata,
    mask,
    ...(mask === 'alpha' ? { alphaBand: bands - 1 } : {}),
    ifd: 0,
    ...(maskIfd !== undefined ? { maskIfd } : {}),
    overviews,
    tiled,
    blockWidth: tiled ? main.getTileWidth() : width,
    blockHeight: tiled ? main.getTileHeight() : Math.min(height, num(fd.getValue('RowsPerStrip'), height)),
    compression,
    compressionName: COMPRESSION_NAMES[compression] ?? `tiff-${compression}`,
    photometric: num(fd.getValue('PhotometricInterpretation'), 1),
    predictor: num((fd as unknown as { getValue(t: string): unknown }).getValue('Predictor'), 1),
    bigTiff,
    ...(typeof gdalMetadata === 'string' ? { gdalMetadata: gdalMetadata.replace(/\0+$/, '') } : {}),
    byteSize,
    modified,
  };
}

/** A pixel window of the full image (overview: undefined) or of overview `overview` (index in `info.overviews`). */
export interface WindowRequest {
  x: number;
  y: number;
  width: number;
  height: number;
  overview?: number;
}

/** Decoded window: interleaved samples of all bands (row-major), and the validity mask (0/255). */
export interface RasterWindow {
  data: Uint8Array | Float32Array;
  /** 0 = nodata, 255 = data; absent when the source has no mask (all pixels valid). */
  mask?: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Reads windows of one source raster. */
export interface RasterWindowReader {
  readonly info: RasterInfo;
  /**
   * Decodes a window. The window must lie inside the image (or overview): there is no padding; a window
   * crossing the edge throws a RangeError (clip it with {@link clipWindow} first). `reuse` is a window
   * this reader returned earlier that the caller is done with: the result may be written into its
   * buffers (when large enough) instead of new ones; readers that cannot, ignore it.
   */
  read(request: WindowRequest, reuse?: RasterWindow): Promise<RasterWindow>;
  close(): Promise<void>;
}

/** Size of the image or overview a request addresses. */
export function levelSize(info: RasterInfo, overview?: number): { width: number; height: number; ifd: number; maskIfd?: number } {
  if (overview === undefined) return { width: info.width, height: info.height, ifd: info.ifd, maskIfd: info.maskIfd };
  const ov = info.overviews[overview];
  if (!ov) throw new RangeError(`${info.path} has no overview ${overview} (it has ${info.overviews.length})`);
  return ov;
}

/** The level a window reads, after checking the window lies inside it (a RangeError naming the file otherwise). */
export function levelInside(info: RasterInfo, request: WindowRequest): ReturnType<typeof levelSize> {
  const level = levelSize(info, request.overview);
  const { x, y, width, height } = request;
  if (
    !(Number.isInteger(x) && Number.isInteger(y) && Number.isInteger(width) && Number.isInteger(height)) ||
    width < 1 ||
    height < 1 ||
    x < 0 ||
    y < 0 ||
    x + width > level.width ||
    y + height > level.height
  ) {
    throw new RangeError(`window ${x},${y} ${width}x${height} is not inside ${info.path} (${level.width}x${level.height})`);
  }
  return level;
}

/** Intersection of a window with the image (or overview); undefined when empty. */
export function clipWindow(info: RasterInfo, request: WindowRequest): WindowRequest | undefined {
  const { width, height } = levelSize(info, request.overview);
  const x0 = Math.max(0, request.x);
  const y0 = Math.max(0, request.y);
  const x1 = Math.min(width, request.x + request.width);
  const y1 = Math.min(height, request.y + request.height);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { ...request, x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * Open geotiff.js readers of this thread (the IFDs are parsed once per file), keyed by path and version and
 * shared by the window readers open on the same raster: the last of them to close closes it, so that one
 * user closing never pulls the file from under another (a catalog layer and a thumbnail of the same COG).
 */
interface SharedTiff {
  users: number;
  tiff?: Promise<GeoTIFF>;
  /** A local file's descriptor and its levels' block layouts, for {@link readBlockWindow}. */
  fd?: Promise<number>;
  layouts?: Map<number, Promise<BlockLayout | undefined>>;
}
const readers = new Map<string, SharedTiff>();

function readerKey(info: RasterInfo): string {
  return `${info.path}\u0000${info.modified}`;
}

/** Counts one more user of `info`'s reader (opened on first read). */
function useTiff(info: RasterInfo): SharedTiff {
  const key = readerKey(info);
  let shared = readers.get(key);
  if (!shared) {
    shared = { users: 0 };
    readers.set(key, shared);
  }
  shared.users++;
  return shared;
}

function geotiffOf(info: RasterInfo, shared: SharedTiff): Promise<GeoTIFF> {
  if (!shared.tiff) {
    const object = info.object;
    const p = object ? openStoredBytes(storageOf(object.storage), object.key).then(openGeoTiff) : fromFile(info.path);
    shared.tiff = p;
    p.catch(() => {
      if (shared.tiff === p) shared.tiff = undefined;
    });
  }
  return shared.tiff;
}

/** One user fewer; the last one closes the reader. */
async function releaseTiff(info: RasterInfo, shared: SharedTiff): Promise<void> {
  if (--shared.users > 0) return;
  const key = readerKey(info);
  if (readers.get(key) === shared) readers.delete(key);
  await (await shared.tiff?.catch(() => undefined))?.close?.();
  const fd = await shared.fd?.catch(() => undefined);
  if (fd !== undefined) await closeFd(fd);
}

/** The block layout of level `ifd` of a local file, when tiff-blocks.ts can decode it. */
function layoutOf(info: RasterInfo, shared: SharedTiff, ifd: number): Promise<BlockLayout | undefined> {
  shared.layouts ??= new Map();
  let layout = shared.layouts.get(ifd);
  if (!layout) {
    layout = geotiffOf(info, shared)
      .then((tiff) => tiff.getImage(ifd))
      .then(blockLayoutOf);
    shared.layouts.set(ifd, layout);
  }
  return layout;
}

async function readWithBlocks(
  info: RasterInfo,
  shared: SharedTiff,
  layout: BlockLayout,
  ifd: number,
  r: WindowRequest,
  into?: Uint8Array,
): Promise<Uint8Array> {
  if (!shared.fd) {
    const fd = openFd(info.path, 'r');
    shared.fd = fd;
    fd.catch(() => {
      if (shared.fd === fd) shared.fd = undefined;
    });
  }
  const fd = await shared.fd;
  try {
    return await readBlockWindow(fd, layout, r, into);
  } catch (err) {
    // Name the file and its image: a job's record says which source is damaged.
    throw err instanceof TiffBlockError ? new TiffBlockError(`${info.path}, image ${ifd}: ${err.message}`) : err;
  }
}

/**
 * Drops what libvips keeps of decoded files (its operation cache is keyed by file name, process-wide):
 * a file replaced at the same path must be decoded again. The raster check of an upload calls it before
 * reading, and every close runs that check after the last change of the upload's files.
 */
export function forgetDecodedFiles(): void {
  const { memory, files, items } = sharp.cache();
  sharp.cache(false);
  sharp.cache({ memory: memory.max, files: files.max, items: items.max });
}

/** Forgets cached file handles (tests, or when a source file was replaced). */
export async function closeRasterSources(): Promise<void> {
  const all = [...readers.values()];
  readers.clear();
  await Promise.all([...all.map(async (r) => (await r.tiff?.catch(() => undefined))?.close?.()), closeJp2Sources()]);
}

/** Mask from nodata values: 0 where every band equals its nodata value (NaN matches NaN), as GDAL does. */
export function maskFromNodata(data: Uint8Array | Float32Array, channels: number, nodata: number[], into?: Uint8Array): Uint8Array {
  const pixels = data.length / channels;
  const mask = into && into.length >= pixels ? into.subarray(0, pixels) : new Uint8Array(pixels);
  if (data instanceof Uint8Array && channels === 3 && nodata.length >= 3) return maskFromNodataRgb8(data, pixels, nodata, mask);
  for (let p = 0, i = 0; p < pixels; p++, i += channels) {
    let all = true;
    for (let c = 0; c < channels; c++) {
      const v = data[i + c];
      const nd = nodata[c];
      if (!(v === nd || (Number.isNaN(nd) && Number.isNaN(v)))) {
        all = false;
        break;
      }
    }
    mask[p] = all ? 0 : 255;
  }
  return mask;
}

/**
 * maskFromNodata for 8-bit RGB, the usual case: nodata values that no byte can equal (NaN, out of
 * range) make every pixel valid; otherwise one comparison per channel, no NaN tests.
 */
function maskFromNodataRgb8(data: Uint8Array, pixels: number, nodata: number[], mask: Uint8Array): Uint8Array {
  const n0 = nodata[0],
    n1 = nodata[1],
    n2 = nodata[2];
  const byte = (v: number) => Number.isInteger(v) && v >= 0 && v <= 255;
  if (!byte(n0) || !byte(n1) || !byte(n2)) return mask.fill(255);
  let p = 0,
    i = 0;
  if (n0 === n1 && n1 === n2 && (data.byteOffset & 3) === 0) {
    // Four pixels (three words) at a time, branch-free: a byte equals the nodata value iff it is zero
    // in w ^ nodata·0x01010101, and zeroByteFlags marks exactly those bytes (bit 7 of each byte).
    const words = new Uint32Array(data.buffer, data.byteOffset, Math.floor(data.length / 12) * 3);
    const masks = new Uint32Array(mask.buffer, mask.byteOffset, pixels >> 2);
    const pattern = Math.imul(n0, 0x01010101);
    const groups = Math.min(words.length / 3, masks.length);
    for (let g = 0, w = 0; g < groups; g++, w += 3) {
      const a = zeroByteFlags(words[w] ^ pattern),
        b = zeroByteFlags(words[w + 1] ^ pattern),
        c = zeroByteFlags(words[w + 2] ^ pattern);
      // Little-endian: pixel 0 = bytes 0–2 of a, 1 = byte 3 of a + bytes 0–1 of b, 2 = bytes 2–3 of b
      // + byte 0 of c, 3 = bytes 1–3 of c. A pixel is nodata when its three flags are set.
      const nd0 = (a & 0x808080) === 0x808080 ? 1 : 0;
      const nd1 = a < 0 && (b & 0x8080) === 0x8080 ? 1 : 0;
      const nd2 = ((b >>> 16) & 0x8080) === 0x8080 && (c & 0x80) !== 0 ? 1 : 0;
      const nd3 = ((c >>> 8) & 0x808080) === 0x808080 ? 1 : 0;
      masks[g] = ~((nd0 * 0xff) | (nd1 * 0xff00) | (nd2 * 0xff0000) | (nd3 * 0xff000000));
    }
    p = groups * 4;
    i = p * 3;
  }
  for (; p < pixels; p++, i += 3) {
    mask[p] = data[i] === n0 && data[i + 1] === n1 && data[i + 2] === n2 ? 0 : 255;
  }
  return mask;
}

/** Bit 7 of each byte of `v` set exactly where that byte is zero (no borrow between bytes). */
function zeroByteFlags(v: number): number {
  return ~(((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v) & 0x80808080;
}

/** Mask from an alpha band: 255 where alpha > 0 (GDAL's alpha mask is the alpha value itself; only 0 vs non-0 matters, rok4.md §11.3). */
export function maskFromAlpha(data: Uint8Array, channels: number, alphaBand: number): Uint8Array {
  const pixels = data.length / channels;
  const mask = new Uint8Array(pixels);
  for (let p = 0, i = alphaBand; p < pixels; p++, i += channels) mask[p] = data[i] > 0 ? 255 : 0;
  return mask;
}

async function readWithSharp(info: RasterInfo, ifd: number, r: WindowRequest): Promise<Uint8Array> {
  const { data, info: out } = await sharp(info.path, { limitInputPixels: false, page: ifd, failOn: 'warning' })
    .extract({ left: r.x, top: r.y, width: r.width, height: r.height })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (out.channels !== info.bands || out.width !== r.width || out.height !== r.height) {
    throw new Error(`libvips returned ${out.width}x${out.height}x${out.channels} for a ${r.width}x${r.height}x${info.bands} window`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

async function readWithGeotiff(info: RasterInfo, shared: SharedTiff, ifd: number, r: WindowRequest): Promise<Uint8Array | Float32Array> {
  const tiff = await geotiffOf(info, shared);
  const image = await tiff.getImage(ifd);
  const result = await image.readRasters({ window: [r.x, r.y, r.x + r.width, r.y + r.height], interleave: true });
  if (info.sampleType === 'float32') return result instanceof Float32Array ? result : Float32Array.from(result as ArrayLike<number>);
  return result instanceof Uint8Array ? result : Uint8Array.from(result as ArrayLike<number>);
}

/** Reads the 1-bit (or 8-bit) internal mask IFD through geotiff.js and returns 0/255. */
async function readMaskIfd(info: RasterInfo, shared: SharedTiff, ifd: number, r: WindowRequest): Promise<Uint8Array> {
  const tiff = await geotiffOf(info, shared);
  const image = await tiff.getImage(ifd);
  const values = await image.readRasters({ window: [r.x, r.y, r.x + r.width, r.y + r.height], interleave: true });
  const out = new Uint8Array(r.width * r.height);
  for (let i = 0; i < out.length; i++) out[i] = (values as ArrayLike<number>)[i] ? 255 : 0;
  return out;
}

/**
 * Opens a window reader on a described raster (in a worker thread). Decoding: tiff-blocks.ts for 8-bit
 * images of a plain layout, libvips for the other 8-bit images (falls back to geotiff.js if libvips
 * refuses the file), geotiff.js for float32, mask IFDs and rasters of a Storage. `DALLAGE_TIFF_BLOCKS=off`
 * sends every 8-bit image to libvips (to compare the two).
 */
export function openRasterWindows(info: RasterInfo): RasterWindowReader {
  if (info.format === 'jp2') return openJp2Windows(info);
  // libvips reads local files; an object of a Storage is read by geotiff.js through ranged reads.
  let useSharp = info.sampleType === 'uint8' && !info.object;
  const useBlocks = useSharp && process.env.DALLAGE_TIFF_BLOCKS !== 'off';
  const shared = useTiff(info);
  let closed = false;
  return {
    info,
    async read(request, reuse) {
      const level = levelInside(info, request);
      const { width, height } = request;
      let data: Uint8Array | Float32Array;
      const layout = useBlocks ? await layoutOf(info, shared, level.ifd).catch(() => undefined) : undefined;
      if (layout)
        data = await readWithBlocks(info, shared, layout, level.ifd, request, reuse?.data instanceof Uint8Array ? reuse.data : undefined);
      else if (useSharp) {
        try {
          data = await readWithSharp(info, level.ifd, request);
        } catch {
          useSharp = false;
          data = await readWithGeotiff(info, shared, level.ifd, request);
        }
      } else data = await readWithGeotiff(info, shared, level.ifd, request);
      let mask: Uint8Array | undefined;
      if (info.mask === 'internal-mask' && level.maskIfd !== undefined) mask = await readMaskIfd(info, shared, level.maskIfd, request);
      else if (info.mask === 'nodata' && info.nodata) mask = maskFromNodata(data, info.bands, info.nodata, reuse?.mask);
      else if (info.mask === 'alpha' && info.alphaBand !== undefined) mask = maskFromAlpha(data as Uint8Array, info.bands, info.alphaBand);
      return { data, ...(mask ? { mask } : {}), width, height, channels: info.bands };
    },
    async close() {
      if (closed) return;
      closed = true;
      await releaseTiff(info, shared);
    },
  };
}
