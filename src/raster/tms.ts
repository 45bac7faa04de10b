/**
 * Tile matrix sets in the ROK4 JSON shape (rok4.md §2.1), the four grids offered by the Entrepôt computed
 * from their published parameters (§2.2), loading of other TMS files, and the grid arithmetic of §2.3.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { metersPerUnit, resolveCrs, type Bbox } from './crs.js';

/** One level of a TMS (rok4.md §2.1). */
export interface TileMatrix {
  /** Level id, a string without `_`. */
  id: string;
  /** Pixel-corner scale denominator (0.28 mm pixel); informative. */
  scaleDenominator: number;
  /** CRS units per pixel. */
  cellSize: number;
  /** [x, y] of the top-left corner of tile (0, 0), x/lon first. */
  pointOfOrigin: [number, number];
  tileWidth: number;
  tileHeight: number;
  matrixWidth: number;
  matrixHeight: number;
}

/** A tile matrix set as in ROK4's `<name>.json` files. */
export interface TileMatrixSet {
  id: string;
  /** `AUTHORITY:CODE` (e.g. `EPSG:3857`, `IGNF:LAMB93`). */
  crs: string;
  orderedAxes: [string, string];
  tileMatrices: TileMatrix[];
}

/** Error for a TMS we cannot find or that is malformed. */
export class TmsError extends Error {
  constructor(
    readonly code: 'TMS_NOT_FOUND' | 'TMS_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'TmsError';
  }
}

/**
 * Rounds to 15 significant digits, the precision of the numbers written in ROK4's TMS files, as C's
 * `%.15g` does: exact decimal value of the double, ties to even (JS `toPrecision` breaks ties upwards, which
 * differs for exact binary fractions such as 0.703125/2^14 = 4.291534423828125e-5).
 */
export function round15(value: number): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const [mantissa, exponent] = Math.abs(value).toExponential(60).split('e');
  const digits = mantissa.replace('.', '');
  if (/^50*$/.test(digits.slice(15)) && Number(digits[14]) % 2 === 0) {
    return Math.sign(value) * Number(`${digits[0]}.${digits.slice(1, 15)}e${exponent}`);
  }
  return Number(value.toPrecision(15));
}

/**
 * Meters per degree used by ROK4 for the scale denominators of geographic TMS: 111319.492 (its files give
 * 279541135.044643 for 0.703125°, i.e. this rounded value, not 2π·6378137/360 = 111319.4908).
 */
const ROK4_METERS_PER_DEGREE = 111319.492;

/**
 * Scale denominator of a cell size, with the OGC 0.28 mm "standardized rendering pixel size", computed
 * from the unrounded cell size (that is what reproduces every digit of ROK4's files).
 */
function scaleDenominatorOf(cellSize: number, unitMeters: number): number {
  return round15((cellSize * unitMeters) / 0.00028);
}

function buildTms(
  id: string,
  crs: string,
  levels: number,
  origin: [number, number],
  cellSizeAt: (z: number) => number,
  matrixSizeAt: (z: number) => [number, number],
): TileMatrixSet {
  const crsInfo = resolveCrs(crs);
  const unitMeters = crsInfo.geographic ? ROK4_METERS_PER_DEGREE : metersPerUnit(crsInfo);
  const tileMatrices: TileMatrix[] = [];
  for (let z = 0; z < levels; z++) {
    const exactCellSize = cellSizeAt(z);
    const [matrixWidth, matrixHeight] = matrixSizeAt(z);
    tileMatrices.push({
      id: String(z),
      scaleDenominator: scaleDenominatorOf(exactCellSize, unitMeters),
      cellSize: round15(exactCellSize),
      pointOfOrigin: [round15(origin[0]), round15(origin[1])],
      tileWidth: 256,
      tileHeight: 256,
      matrixWidth,
      matrixHeight,
    });
  }
  return { id, crs, orderedAxes: crsInfo.geographic ? ['Lon', 'Lat'] : ['X', 'Y'], tileMatrices };
}

/** Web Mercator quad (OGC WebMercatorQuad): whole sphere of radius 6378137 in one tile at level 0. */
function buildPM(): TileMatrixSet {
  const halfWorld = Math.PI * 6378137;
  return buildTms(
    'PM',
    'EPSG:3857',
    22,
    [-halfWorld, halfWorld],
    (z) => (2 * halfWorld) / 256 / 2 ** z,
    (z) => [2 ** z, 2 ** z],
  );
}

/** Geographic quad: level 0 = 2×1 tiles of 0.703125°/px covering the world. */
function build4326(): TileMatrixSet {
  return buildTms(
    '4326',
    'EPSG:4326',
    20,
    [-180, 90],
    (z) => 0.703125 / 2 ** z,
    (z) => [2 * 2 ** z, 2 ** z],
  );
}

/**
 * LAMB93_10cm: the France grid at 0.1·2^(21−z) m from the origin (0, 12000000). Columns: the finest level
 * has 50400 tiles (x up to 1 290 240 m) and each coarser level ceil(50400 / 2^(21−z)). Rows: the row of
 * the grid's southern limit y = 1 237 555.2 m, plus one (`int((Y0 − ymin) / span) + 1`, in floating point
 * as ROK4's tools compute it). Level 19 is the one exception in ROK4's file (105102 rows where the rule
 * gives 105103: the limit falls exactly on a tile boundary there); we keep the published value.
 */
function buildLamb93_10cm(): TileMatrixSet {
  const origin: [number, number] = [0, 12000000];
  const southLimit = 1237555.2;
  const publishedRows: Record<number, number> = { 19: 105102 };
  return buildTms(
    'LAMB93_10cm',
    'IGNF:LAMB93',
    22,
    origin,
    (z) => 0.1 * 2 ** (21 - z),
    (z) => {
      const tileSpan = 0.1 * 2 ** (21 - z) * 256;
      return [Math.ceil(50400 / 2 ** (21 - z)), publishedRows[z] ?? Math.trunc((origin[1] - southLimit) / tileSpan) + 1];
    },
  );
}

/**
 * LAMB93_50cm: the France grid at 0.5·2^(18−z) m. Unlike LAMB93_10cm, the tile counts of ROK4's file
 * follow no single rounding rule (neither ceil, floor nor round of one extent fits all levels: at level 12
 * 157 tiles of 8192 m reach 1 286 144 m while level 13 reaches 1 290 240 m), so they are the grid's
 * published per-level parameters, listed here as [matrixWidth, matrixHeight] for levels 0..18.
 */
const LAMB93_50CM_MATRIX_SIZES: Array<[number, number]> = [
  [1, 1],
  [1, 1],
  [1, 1],
  [1, 3],
  [1, 5],
  [1, 10],
  [2, 21],
  [5, 41],
  [10, 82],
  [20, 164],
  [39, 328],
  [79, 656],
  [157, 1313],
  [315, 2627],
  [630, 5255],
  [1260, 10510],
  [2520, 21020],
  [5040, 42040],
  [10080, 84081],
];

function buildLamb93_50cm(): TileMatrixSet {
  return buildTms(
    'LAMB93_50cm',
    'IGNF:LAMB93',
    19,
    [0, 12000000],
    (z) => 0.5 * 2 ** (18 - z),
    (z) => LAMB93_50CM_MATRIX_SIZES[z],
  );
}

const BUILT_INS: Record<string, () => TileMatrixSet> = {
  PM: buildPM,
  '4326': build4326,
  LAMB93_10cm: buildLamb93_10cm,
  LAMB93_50cm: buildLamb93_50cm,
};

/** Names of the built-in TMS (the grids offered by the Entrepôt, rok4.md §8.1). */
export const BUILT_IN_TMS_NAMES = Object.keys(BUILT_INS);

const builtInCache = new Map<string, TileMatrixSet>();

/** A built-in TMS (a fresh deep copy: callers may mutate it), or undefined. */
export function builtInTms(name: string): TileMatrixSet | undefined {
  const build = BUILT_INS[name];
  if (!build) return undefined;
  let tms = builtInCache.get(name);
  if (!tms) builtInCache.set(name, (tms = build()));
  return structuredClone(tms);
}

/**
 * Loads a TMS by name (the file name without `.json`, rok4.md §2.1): a built-in (PM, 4326, LAMB93_10cm,
 * LAMB93_50cm) unless a configured folder holds `<name>.json`; folders are searched in order, and checked
 * before the built-ins so that a deployment can pin ROK4's own files.
 * @throws TmsError TMS_NOT_FOUND (naming the folders searched) or TMS_INVALID (naming the file and field).
 */
export async function loadTms(name: string, folders: string[] = []): Promise<TileMatrixSet> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) {
    throw new TmsError('TMS_NOT_FOUND', `invalid tile matrix set name "${name}"`);
  }
  for (const folder of folders) {
    const file = path.join(folder, `${name}.json`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new TmsError('TMS_INVALID', `cannot read tile matrix set ${file}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TmsError('TMS_INVALID', `tile matrix set ${file} is not valid JSON: ${(err as Error).message}`);
    }
    return validateTms(json, file);
  }
  const builtIn = builtInTms(name);
  if (builtIn) return builtIn;
  throw new TmsError(
    'TMS_NOT_FOUND',
    `unknown tile matrix set "${name}": not built in (${BUILT_IN_TMS_NAMES.join(', ')})` +
      (folders.length ? ` and no ${name}.json in ${folders.join(', ')}` : ' and no TMS folder configured'),
  );
}

/**
 * Checks that a parsed JSON document is a ROK4 TMS (rok4.md §2.1) and returns it typed.
 * @param where file name or label used in error messages.
 * @throws TmsError TMS_INVALID naming the bad field.
 */
export function validateTms(json: unknown, where = 'tile matrix set'): TileMatrixSet {
  const fail = (what: string): never => {
    throw new TmsError('TMS_INVALID', `${where}: ${what}`);
  };
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('not a JSON object');
  const obj = json as Record<string, unknown>;
  if (typeof obj.id !== 'string' || !obj.id) fail('"id" must be a non-empty string');
  if (typeof obj.crs !== 'string' || !obj.crs) fail('"crs" must be a non-empty string');
  const axes = obj.orderedAxes;
  if (!Array.isArray(axes) || axes.length !== 2 || !axes.every((a) => typeof a === 'string')) {
    fail('"orderedAxes" must be two strings');
  }
  const axesKey = (axes as string[]).map((a) => a.toUpperCase()).join(',');
  if (axesKey !== 'X,Y' && axesKey !== 'LON,LAT') fail(`"orderedAxes" must be ["X","Y"] or ["Lon","Lat"], got ${JSON.stringify(axes)}`);
  if (!Array.isArray(obj.tileMatrices) || obj.tileMatrices.length === 0) fail('"tileMatrices" must be a non-empty array');
  const ids = new Set<string>();
  (obj.tileMatrices as unknown[]).forEach((tm, i) => {
    const at = `tileMatrices[${i}]`;
    if (!tm || typeof tm !== 'object') fail(`${at} is not an object`);
    const t = tm as Record<string, unknown>;
    if (typeof t.id !== 'string' || !t.id || t.id.includes('_')) fail(`${at}.id must be a non-empty string without "_"`);
    if (ids.has(t.id as string)) fail(`${at}.id "${t.id}" is duplicated`);
    ids.add(t.id as string);
    for (const key of ['cellSize', 'scaleDenominator']) {
      if (typeof t[key] !== 'number' || !((t[key] as number) > 0)) fail(`${at}.${key} must be a positive number`);
    }
    for (const key of ['tileWidth', 'tileHeight', 'matrixWidth', 'matrixHeight']) {
      if (!Number.isInteger(t[key]) || (t[key] as number) < 1) fail(`${at}.${key} must be a positive integer`);
    }
    const o = t.pointOfOrigin;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(`${at}.pointOfOrigin must be two numbers`);
    }
  });
  return json as TileMatrixSet;
}

/** The TMS levels sorted from the finest (smallest cellSize) to the coarsest. */
export function levelsSortedByResolution(tms: TileMatrixSet): TileMatrix[] {
  return [...tms.tileMatrices].sort((a, b) => a.cellSize - b.cellSize);
}

/** A level by id. @throws Error naming the level and the TMS when absent. */
export function tileMatrix(tms: TileMatrixSet, levelId: string): TileMatrix {
  const tm = tms.tileMatrices.find((t) => t.id === levelId);
  if (!tm) throw new Error(`level "${levelId}" does not exist in tile matrix set ${tms.id}`);
  return tm;
}

/**
 * Quad tree test of ROK4::Core::TileMatrixSet (rok4.md §2.2): sorted by resolution, each level's cellSize
 * is twice the finer one (tolerance finest cellSize / 100), and all levels share origin and tile size.
 */
export function isQuadTree(tms: TileMatrixSet): boolean {
  const levels = levelsSortedByResolution(tms);
  if (levels.length === 0) return false;
  const tolerance = levels[0].cellSize / 100;
  const first = levels[0];
  for (let i = 0; i < levels.length; i++) {
    const tm = levels[i];
    if (tm.tileWidth !== first.tileWidth || tm.tileHeight !== first.tileHeight) return false;
    if (tm.pointOfOrigin[0] !== first.pointOfOrigin[0] || tm.pointOfOrigin[1] !== first.pointOfOrigin[1]) return false;
    if (i > 0 && Math.abs(tm.cellSize - 2 * levels[i - 1].cellSize) > tolerance) return false;
  }
  return true;
}

/**
 * Bottom level for a source resolution (rok4.md §8.2): the level whose `resolution / cellSize` lies in
 * [0.8, 1.6] and is closest to 1; undefined when none does.
 */
export function bottomLevelFor(tms: TileMatrixSet, resolution: number): TileMatrix | undefined {
  let best: TileMatrix | undefined;
  let bestDistance = Infinity;
  for (const tm of tms.tileMatrices) {
    const ratio = resolution / tm.cellSize;
    if (ratio < 0.8 || ratio > 1.6) continue;
    const distance = Math.abs(ratio - 1);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = tm;
    }
  }
  return best;
}

/** Top level (coarsest: largest cellSize) of a TMS, the default `top` of rok4.md §8.2. */
export function topLevel(tms: TileMatrixSet): TileMatrix {
  const levels = levelsSortedByResolution(tms);
  return levels[levels.length - 1];
}

/** Inclusive range of columns and rows. */
export interface IndexRange {
  colMin: number;
  colMax: number;
  rowMin: number;
  rowMax: number;
}

/** Slab size in tiles (rok4.md §1: tiles_per_width × tiles_per_height). */
export interface SlabSize {
  tilesPerWidth: number;
  tilesPerHeight: number;
}

/** Tile column and row holding a point (rok4.md §2.3, floor). */
export function tileOfPoint(tm: TileMatrix, x: number, y: number): { col: number; row: number } {
  return {
    col: Math.floor((x - tm.pointOfOrigin[0]) / (tm.cellSize * tm.tileWidth)),
    row: Math.floor((tm.pointOfOrigin[1] - y) / (tm.cellSize * tm.tileHeight)),
  };
}

/**
 * Tiles touched by a bbox (rok4.md §2.3, ROK4's truncation: an edge lying exactly on a tile boundary pulls
 * in the next tile). Not clamped to the matrix; use {@link clampRange}.
 */
export function tileRangeOfBbox(tm: TileMatrix, bbox: Bbox): IndexRange {
  return rangeOf(tm, bbox, tm.cellSize * tm.tileWidth, tm.cellSize * tm.tileHeight);
}

/** Slabs touched by a bbox, with the same truncation formula BE4/JOINCACHE use (rok4.md §2.3, §8.3). */
export function slabRangeOfBbox(tm: TileMatrix, bbox: Bbox, slab: SlabSize): IndexRange {
  return rangeOf(tm, bbox, tm.cellSize * tm.tileWidth * slab.tilesPerWidth, tm.cellSize * tm.tileHeight * slab.tilesPerHeight);
}

function rangeOf(tm: TileMatrix, bbox: Bbox, spanX: number, spanY: number): IndexRange {
  const [x0, y0] = tm.pointOfOrigin;
  // ROK4 truncates toward zero (int()); we floor, which is the same inside the grid and stays correct for a
  // bbox reaching left of / above the origin.
  return {
    colMin: Math.floor((bbox[0] - x0) / spanX),
    colMax: Math.floor((bbox[2] - x0) / spanX),
    rowMin: Math.floor((y0 - bbox[3]) / spanY),
    rowMax: Math.floor((y0 - bbox[1]) / spanY),
  };
}

/** Clamps a range to [0, max] on each axis; undefined when the range lies outside entirely. */
export function clampRange(range: IndexRange, maxCol: number, maxRow: number): IndexRange | undefined {
  const r = {
    colMin: Math.max(0, range.colMin),
    colMax: Math.min(maxCol, range.colMax),
    rowMin: Math.max(0, range.rowMin),
    rowMax: Math.min(maxRow, range.rowMax),
  };
  return r.colMin <= r.colMax && r.rowMin <= r.rowMax ? r : undefined;
}

/** Extent of a tile: [xmin, ymin, xmax, ymax]. */
export function tileBbox(tm: TileMatrix, col: number, row: number): Bbox {
  return slabBbox(tm, col, row, { tilesPerWidth: 1, tilesPerHeight: 1 });
}

/** Extent of a slab (rok4.md §2.3): xmin = X0 + col·tpw·tw·r, ymax = Y0 − row·tph·th·r. */
export function slabBbox(tm: TileMatrix, slabCol: number, slabRow: number, slab: SlabSize): Bbox {
  const width = slab.tilesPerWidth * tm.tileWidth * tm.cellSize;
  const height = slab.tilesPerHeight * tm.tileHeight * tm.cellSize;
  const xmin = tm.pointOfOrigin[0] + slabCol * width;
  const ymax = tm.pointOfOrigin[1] - slabRow * height;
  return [xmin, ymax - height, xmin + width, ymax];
}

/** Slab holding a tile, and the tile's index inside the slab (row-major, rok4.md §2.3). */
export function slabOfTile(col: number, row: number, slab: SlabSize): { slabCol: number; slabRow: number; index: number } {
  const slabCol = Math.floor(col / slab.tilesPerWidth);
  const slabRow = Math.floor(row / slab.tilesPerHeight);
  const index = (row - slabRow * slab.tilesPerHeight) * slab.tilesPerWidth + (col - slabCol * slab.tilesPerWidth);
  return { slabCol, slabRow, index };
}

/** Pixel (inside its tile) holding a point (rok4.md §2.3). */
export function pixelInTile(tm: TileMatrix, x: number, y: number): { px: number; py: number } {
  const gx = Math.floor((x - tm.pointOfOrigin[0]) / tm.cellSize);
  const gy = Math.floor((tm.pointOfOrigin[1] - y) / tm.cellSize);
  return { px: ((gx % tm.tileWidth) + tm.tileWidth) % tm.tileWidth, py: ((gy % tm.tileHeight) + tm.tileHeight) % tm.tileHeight };
}

/** Slabs per row/column of a level (a partial slab at the edge counts). */
export function slabMatrixSize(tm: TileMatrix, slab: SlabSize): { slabColumns: number; slabRows: number } {
  return {
    slabColumns: Math.ceil(tm.matrixWidth / slab.tilesPerWidth),
    slabRows: Math.ceil(tm.matrixHeight / slab.tilesPerHeight),
  };
}
