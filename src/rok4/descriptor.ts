import { MASK_FORMAT, parseFormat } from './formats.js';

/**
 * The pyramid descriptor `<name>.json` (rok4.md §3). Keys keep their ROK4 (snake_case) names so that
 * what is parsed is what is written.
 */

export interface TileLimits {
  min_col: number;
  max_col: number;
  min_row: number;
  max_row: number;
}

export interface FileLevelStorage {
  type: 'FILE';
  image_directory: string;
  path_depth: number;
  mask_directory?: string;
}

export interface ObjectLevelStorage {
  type: 'S3' | 'CEPH' | 'SWIFT';
  /** S3 */
  bucket_name?: string;
  /** CEPH */
  pool_name?: string;
  /** SWIFT */
  container_name?: string;
  image_prefix: string;
  mask_prefix?: string;
}

export type LevelStorage = FileLevelStorage | ObjectLevelStorage;

export interface PyramidLevel {
  /** Tile matrix id: always a string (§3.5). */
  id: string;
  tiles_per_width: number;
  tiles_per_height: number;
  tile_limits: TileLimits;
  storage: LevelStorage;
}

export type Photometric = 'rgb' | 'gray' | 'mask';
export type Interpolation = 'nn' | 'linear' | 'bicubic' | 'lanczos';

export interface RasterSpecifications {
  channels: number;
  /** One value per channel, comma separated, no spaces: `"255,255,255"`, `"-99999"` (§3.3). */
  nodata: string;
  photometric: Photometric;
  interpolation: Interpolation;
}

export interface PyramidDescriptor {
  tile_matrix_set: string;
  format: string;
  /** Present iff the pyramid has mask slabs; only value `TIFF_ZIP_UINT8`. */
  mask_format?: typeof MASK_FORMAT;
  raster_specifications: RasterSpecifications;
  /** Top (largest cellSize) to bottom. */
  levels: PyramidLevel[];
}

/** A descriptor validation failure; `key` is the JSON path of the offending member. */
export class DescriptorError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`pyramid descriptor: ${key}: ${message}`);
    this.name = 'DescriptorError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (!isObject(value)) throw new DescriptorError(path, value === undefined ? 'missing' : 'must be an object');
  return value;
}

function string(parent: Json, key: string, path: string, optional?: false): string;
function string(parent: Json, key: string, path: string, optional: true): string | undefined;
function string(parent: Json, key: string, path: string, optional = false): string | undefined {
  const value = parent[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') throw new DescriptorError(path, value === undefined ? 'missing' : 'must be a string');
  if (value === '') throw new DescriptorError(path, 'must not be empty');
  return value;
}

function integer(parent: Json, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = parent[key];
  if (value === undefined) throw new DescriptorError(path, 'missing');
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new DescriptorError(path, 'must be an integer');
  if (value < min || value > max) throw new DescriptorError(path, `must be between ${min} and ${max}`);
  return value;
}

const PHOTOMETRICS: readonly string[] = ['rgb', 'gray', 'mask'];
const INTERPOLATIONS: readonly string[] = ['nn', 'linear', 'bicubic', 'lanczos'];

/**
 * Parses and validates a descriptor (JSON text or parsed value). Throws a {@link DescriptorError}
 * naming the key at fault (e.g. `levels[2].storage.mask_directory`).
 */
export function parseDescriptor(json: string | unknown): PyramidDescriptor {
  let root: unknown = json;
  if (typeof json === 'string') {
    try {
      root = JSON.parse(json);
    } catch (err) {
      throw new DescriptorError('(root)', `not JSON: ${(err as Error).message}`);
    }
  }
  if (!isObject(root)) throw new DescriptorError('(root)', 'must be an object');

  const tileMatrixSet = string(root, 'tile_matrix_set', 'tile_matrix_set');
  const format = string(root, 'format', 'format');
  let formatInfo: ReturnType<typeof parseFormat>;
  try {
    formatInfo = parseFormat(format);
  } catch {
    throw new DescriptorError('format', `unknown raster format ${JSON.stringify(format)}`);
  }
  const maskFormat = string(root, 'mask_format', 'mask_format', true);
  if (maskFormat !== undefined && maskFormat !== MASK_FORMAT) throw new DescriptorError('mask_format', `must be ${MASK_FORMAT}`);
  const hasMasks = maskFormat !== undefined;

  const specs = object(root, 'raster_specifications', 'raster_specifications');
  const channels = integer(specs, 'channels', 'raster_specifications.channels', 1, 4);
  if (!formatInfo.channels.includes(channels)) {
    throw new DescriptorError(
      'raster_specifications.channels',
      `${format} allows ${formatInfo.channels.join(' or ')} channel(s), not ${channels}`,
    );
  }
  const nodata = string(specs, 'nodata', 'raster_specifications.nodata');
  const nodataValues = nodata.split(',');
  if (nodataValues.some((v) => v.trim() !== v || v === '' || !Number.isFinite(Number(v)))) {
    throw new DescriptorError(
      'raster_specifications.nodata',
      `must be comma-separated numbers without spaces, got ${JSON.stringify(nodata)}`,
    );
  }
  if (nodataValues.length < channels)
    throw new DescriptorError('raster_specifications.nodata', `needs ${channels} values (one per channel)`);
  const photometric = string(specs, 'photometric', 'raster_specifications.photometric').toLowerCase();
  if (!PHOTOMETRICS.includes(photometric))
    throw new DescriptorError('raster_specifications.photometric', `must be one of ${PHOTOMETRICS.join(', ')}`);
  const interpolation = string(specs, 'interpolation', 'raster_specifications.interpolation');
  if (!INTERPOLATIONS.includes(interpolation))
    throw new DescriptorError('raster_specifications.interpolation', `must be one of ${INTERPOLATIONS.join(', ')}`);

  const levelsValue = root.levels;
  if (!Array.isArray(levelsValue)) throw new DescriptorError('levels', levelsValue === undefined ? 'missing' : 'must be an array');
  if (levelsValue.length === 0) throw new DescriptorError('levels', 'must hold at least one level');
  const ids = new Set<string>();
  let storageType: string | undefined;
  let pathDepth: number | undefined;
  const levels = levelsValue.map((value, i): PyramidLevel => {
    const at = `levels[${i}]`;
    if (!isObject(value)) throw new DescriptorError(at, 'must be an object');
    const id = value.id;
    if (typeof id !== 'string')
      throw new DescriptorError(`${at}.id`, id === undefined ? 'missing' : 'must be a string (level ids are strings)');
    if (id === '' || id.includes('_')) throw new DescriptorError(`${at}.id`, 'must be non-empty and contain no "_"');
    if (ids.has(id)) throw new DescriptorError(`${at}.id`, `duplicate level id ${JSON.stringify(id)}`);
    ids.add(id);
    const tilesPerWidth = integer(value, 'tiles_per_width', `${at}.tiles_per_width`, 1);
    const tilesPerHeight = integer(value, 'tiles_per_height', `${at}.tiles_per_height`, 1);
    const limits = object(value, 'tile_limits', `${at}.tile_limits`);
    const tileLimits: TileLimits = {
      min_col: integer(limits, 'min_col', `${at}.tile_limits.min_col`, 0),
      max_col: integer(limits, 'max_col', `${at}.tile_limits.max_col`, 0),
      min_row: integer(limits, 'min_row', `${at}.tile_limits.min_row`, 0),
      max_row: integer(limits, 'max_row', `${at}.tile_limits.max_row`, 0),
    };
    if (tileLimits.min_col > tileLimits.max_col) throw new DescriptorError(`${at}.tile_limits.min_col`, 'is greater than max_col');
    if (tileLimits.min_row > tileLimits.max_row) throw new DescriptorError(`${at}.tile_limits.min_row`, 'is greater than max_row');

    const storage = object(value, 'storage', `${at}.storage`);
    const type = string(storage, 'type', `${at}.storage.type`);
    if (storageType !== undefined && type !== storageType)
      throw new DescriptorError(`${at}.storage.type`, `all levels must use the same storage type (${storageType})`);
    storageType = type;
    let levelStorage: LevelStorage;
    if (type === 'FILE') {
      const depth = integer(storage, 'path_depth', `${at}.storage.path_depth`, 1);
      if (pathDepth !== undefined && depth !== pathDepth)
        throw new DescriptorError(`${at}.storage.path_depth`, `all FILE levels must share one path_depth (${pathDepth})`);
      pathDepth = depth;
      const imageDirectory = string(storage, 'image_directory', `${at}.storage.image_directory`);
      const maskDirectory = string(storage, 'mask_directory', `${at}.storage.mask_directory`, true);
      if (hasMasks && maskDirectory === undefined)
        throw new DescriptorError(`${at}.storage.mask_directory`, 'missing (mask_format is set)');
      if (!hasMasks && maskDirectory !== undefined)
        throw new DescriptorError(`${at}.storage.mask_directory`, 'present but mask_format is not set');
      levelStorage = {
        type,
        image_directory: imageDirectory,
        path_depth: depth,
        ...(maskDirectory !== undefined ? { mask_directory: maskDirectory } : {}),
      };
    } else if (type === 'S3' || type === 'CEPH' || type === 'SWIFT') {
      const containerKey = type === 'S3' ? 'bucket_name' : type === 'CEPH' ? 'pool_name' : 'container_name';
      const container = string(storage, containerKey, `${at}.storage.${containerKey}`);
      const imagePrefix = string(storage, 'image_prefix', `${at}.storage.image_prefix`);
      const maskPrefix = string(storage, 'mask_prefix', `${at}.storage.mask_prefix`, true);
      if (hasMasks && maskPrefix === undefined) throw new DescriptorError(`${at}.storage.mask_prefix`, 'missing (mask_format is set)');
      if (!hasMasks && maskPrefix !== undefined)
        throw new DescriptorError(`${at}.storage.mask_prefix`, 'present but mask_format is not set');
      levelStorage = {
        type,
        [containerKey]: container,
        image_prefix: imagePrefix,
        ...(maskPrefix !== undefined ? { mask_prefix: maskPrefix } : {}),
      };
    } else {
      throw new DescriptorError(`${at}.storage.type`, `must be FILE, S3, CEPH or SWIFT, got ${JSON.stringify(type)}`);
    }
    return { id, tiles_per_width: tilesPerWidth, tiles_per_height: tilesPerHeight, tile_limits: tileLimits, storage: levelStorage };
  });

  return {
    tile_matrix_set: tileMatrixSet,
    format,
    ...(hasMasks ? { mask_format: MASK_FORMAT } : {}),
    raster_specifications: { channels, nodata, photometric: photometric as Photometric, interpolation: interpolation as Interpolation },
    levels,
  };
}

function serializeStorage(storage: LevelStorage): Json {
  if (storage.type === 'FILE') {
    return {
      type: 'FILE',
      image_directory: storage.image_directory,
      ...(storage.mask_directory !== undefined ? { mask_directory: storage.mask_directory } : {}),
      path_depth: storage.path_depth,
    };
  }
  const containerKey = storage.type === 'S3' ? 'bucket_name' : storage.type === 'CEPH' ? 'pool_name' : 'container_name';
  return {
    type: storage.type,
    [containerKey]: storage[containerKey],
    image_prefix: storage.image_prefix,
    ...(storage.mask_prefix !== undefined ? { mask_prefix: storage.mask_prefix } : {}),
  };
}

/**
 * The descriptor as ROK4 writes it: exactly the keys of §3, nothing else. Levels are written in the
 * given order unless `cellSizes` (level id → TMS cellSize) is given, then from the largest cellSize
 * (top) to the smallest (bottom), as ROK4 does.
 */
export function serializeDescriptor(
  d: PyramidDescriptor,
  cellSizes?: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
): string {
  let levels = d.levels;
  if (cellSizes) {
    const size = (id: string): number => {
      const value = cellSizes instanceof Map ? cellSizes.get(id) : (cellSizes as Record<string, number>)[id];
      if (value === undefined) throw new Error(`serializeDescriptor: no cellSize for level ${id}`);
      return value;
    };
    levels = [...levels].sort((a, b) => size(b.id) - size(a.id));
  }
  const out = {
    tile_matrix_set: d.tile_matrix_set,
    format: d.format,
    ...(d.mask_format ? { mask_format: d.mask_format } : {}),
    raster_specifications: {
      channels: d.raster_specifications.channels,
      nodata: d.raster_specifications.nodata,
      photometric: d.raster_specifications.photometric,
      interpolation: d.raster_specifications.interpolation,
    },
    levels: levels.map((level) => ({
      id: level.id,
      tiles_per_width: level.tiles_per_width,
      tiles_per_height: level.tiles_per_height,
      tile_limits: {
        min_col: level.tile_limits.min_col,
        max_col: level.tile_limits.max_col,
        min_row: level.tile_limits.min_row,
        max_row: level.tile_limits.max_row,
      },
      storage: serializeStorage(level.storage),
    })),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Conventional FILE storage block of a level: `<name>/DATA/<id>`, `<name>/MASK/<id>` (§3.4). */
export function fileLevelStorage(name: string, levelId: string, pathDepth = 2, withMask = false): FileLevelStorage {
  return {
    type: 'FILE',
    image_directory: `${name}/DATA/${levelId}`,
    path_depth: pathDepth,
    ...(withMask ? { mask_directory: `${name}/MASK/${levelId}` } : {}),
  };
}

/** Conventional S3 storage block of a level: prefixes `<name>/DATA_<id>`, `<name>/MASK_<id>` (§3.4). */
export function s3LevelStorage(bucket: string, name: string, levelId: string, withMask = false): ObjectLevelStorage {
  return {
    type: 'S3',
    bucket_name: bucket,
    image_prefix: `${name}/DATA_${levelId}`,
    ...(withMask ? { mask_prefix: `${name}/MASK_${levelId}` } : {}),
  };
}

/** Nodata values per channel, as numbers (§3.3). */
export function nodataValues(specs: Pick<RasterSpecifications, 'nodata' | 'channels'>): number[] {
  return specs.nodata.split(',').slice(0, specs.channels).map(Number);
}
