import type { RasterInfo } from '../../src/raster/geotiff-source.js';
import { transformBbox, type Bbox } from '../../src/raster/crs.js';
import {
  bottomLevelFor,
  clampRange,
  isQuadTree,
  levelsSortedByResolution,
  slabBbox,
  slabRangeOfBbox,
  tileMatrix,
  tileRangeOfBbox,
  type TileMatrix,
  type TileMatrixSet,
  type SlabSize,
} from '../../src/raster/tms.js';
import type { TileLimits } from '../../src/rok4/descriptor.js';

/** One level of the work: its matrix, the slabs to compute, its tile limits. */
export interface LevelPlan {
  tm: TileMatrix;
  /** Slabs as "col,row" keys → [col, row]. */
  slabs: Map<string, [number, number]>;
  tileLimits: TileLimits;
}

export interface PyramidPlan {
  /** Levels from the bottom (finest) to the top (coarsest). */
  levels: LevelPlan[];
  /** Union of the images' extents in the TMS CRS. */
  bbox: Bbox;
  /** Per image: its extent in the TMS CRS. */
  imageBboxes: Bbox[];
  totalSlabs: number;
}

export class PlanError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}

export const key = (col: number, row: number): string => `${col},${row}`;

/**
 * Levels, slabs and tile limits of a generation (rok4.md §8.2, §8.3):
 * - bottom: given, or the level whose cellSize is closest to the finest image's resolution (ratio in
 *   [0.8, 1.6]); top: given, or the coarsest level whose matrix still holds the images (as far as the
 *   bottom matrix holds them): the upper matrices of a TMS may cover less than its lower ones
 *   (LAMB93_50cm level 5 ends at x = 1 048 576 m, west of Corsica); a given top must be such a level;
 * - bottom slabs: every slab touched by an image's extent in the TMS CRS (union over images, §2.3
 *   truncation formula); upper slabs: the parents (col // 2, row // 2), which needs a quad-tree TMS;
 * - tile limits: the union extent per level, with tile granularity, clamped to the matrix.
 */
export function planPyramid(
  tms: TileMatrixSet,
  images: RasterInfo[],
  options: { bottom?: string; top?: string; slab: SlabSize },
): PyramidPlan {
  if (!isQuadTree(tms))
    throw new PlanError(
      'tms',
      `tile matrix set ${tms.id} is not a quad tree; only quad-tree TMS (PM, 4326, LAMB93_10cm, LAMB93_50cm…) are supported`,
    );
  const imageBboxes = images.map((img, i) => {
    try {
      return transformBbox(img.bbox, img.crs, tms.crs);
    } catch (err) {
      throw new PlanError(`images[${i}]`, `its extent cannot be expressed in ${tms.crs}: ${(err as Error).message}`);
    }
  });
  const bbox: Bbox = [
    Math.min(...imageBboxes.map((b) => b[0])),
    Math.min(...imageBboxes.map((b) => b[1])),
    Math.max(...imageBboxes.map((b) => b[2])),
    Math.max(...imageBboxes.map((b) => b[3])),
  ];

  const sorted = levelsSortedByResolution(tms);
  let bottom: TileMatrix;
  if (options.bottom !== undefined) {
    bottom = levelOrThrow(tms, options.bottom, 'bottom');
  } else {
    // §8.2: resolution of the finest image once in the TMS CRS.
    let finest = Infinity;
    images.forEach((img, i) => {
      const b = imageBboxes[i];
      finest = Math.min(finest, Math.sqrt(((b[2] - b[0]) / img.width) * ((b[3] - b[1]) / img.height)));
    });
    const found = bottomLevelFor(tms, finest);
    if (!found)
      throw new PlanError(
        'bottom',
        `no level of ${tms.id} has a resolution close to the images' (${finest.toPrecision(6)} ${tms.crs} units); give 'bottom'`,
      );
    bottom = found;
  }
  const held = intersection(bbox, matrixExtent(bottom));
  if (!held) throw new PlanError('images', `the images lie outside tile matrix set ${tms.id} at level ${bottom.id}`);
  // Levels able to be the top: from the bottom up, as long as their matrix holds what the bottom holds.
  const possibleTops: TileMatrix[] = [];
  for (const tm of sorted.filter((t) => t.cellSize >= bottom.cellSize)) {
    if (!holds(tm, held)) break;
    possibleTops.push(tm);
  }
  let top: TileMatrix;
  if (options.top !== undefined) {
    top = levelOrThrow(tms, options.top, 'top');
    if (top.cellSize < bottom.cellSize) throw new PlanError('top', `top level ${top.id} is finer than bottom level ${bottom.id}`);
    if (!possibleTops.includes(top)) {
      throw new PlanError(
        'top',
        `level ${top.id} of ${tms.id} does not hold the images (its grid covers ${matrixExtent(top)
          .map((v) => Math.round(v))
          .join(', ')} in ${tms.crs}); possible top levels from bottom ${bottom.id}: ${possibleTops.map((t) => t.id).join(', ')}`,
      );
    }
  } else {
    top = possibleTops[possibleTops.length - 1];
  }
  const chosen = sorted.filter((tm) => tm.cellSize >= bottom.cellSize && tm.cellSize <= top.cellSize);

  const levels: LevelPlan[] = [];
  let previous: LevelPlan | undefined;
  for (const tm of chosen) {
    const slabs = new Map<string, [number, number]>();
    const maxSlabCol = Math.ceil(tm.matrixWidth / options.slab.tilesPerWidth) - 1;
    const maxSlabRow = Math.ceil(tm.matrixHeight / options.slab.tilesPerHeight) - 1;
    if (!previous) {
      for (const b of imageBboxes) {
        const r = clampRange(slabRangeOfBbox(tm, b, options.slab), maxSlabCol, maxSlabRow);
        if (!r) continue;
        for (let row = r.rowMin; row <= r.rowMax; row++)
          for (let col = r.colMin; col <= r.colMax; col++) slabs.set(key(col, row), [col, row]);
      }
    } else {
      for (const [col, row] of previous.slabs.values()) slabs.set(key(col >> 1, row >> 1), [col >> 1, row >> 1]);
    }
    const t = clampRange(tileRangeOfBbox(tm, bbox), tm.matrixWidth - 1, tm.matrixHeight - 1);
    if (!t) throw new PlanError('images', `the images lie outside tile matrix set ${tms.id} at level ${tm.id}`);
    const level: LevelPlan = { tm, slabs, tileLimits: { min_col: t.colMin, max_col: t.colMax, min_row: t.rowMin, max_row: t.rowMax } };
    levels.push(level);
    previous = level;
  }
  return { levels, bbox, imageBboxes, totalSlabs: levels.reduce((n, l) => n + l.slabs.size, 0) };
}

/** Extent of a matrix in the TMS CRS: [xmin, ymin, xmax, ymax]. */
function matrixExtent(tm: TileMatrix): Bbox {
  const [x0, y0] = tm.pointOfOrigin;
  return [x0, y0 - tm.matrixHeight * tm.tileHeight * tm.cellSize, x0 + tm.matrixWidth * tm.tileWidth * tm.cellSize, y0];
}

function intersection(a: Bbox, b: Bbox): Bbox | undefined {
  const r: Bbox = [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])];
  return r[0] < r[2] && r[1] < r[3] ? r : undefined;
}

/** True when the matrix covers `b` (up to a millionth of its pixel: extents computed in floating point). */
function holds(tm: TileMatrix, b: Bbox): boolean {
  const e = matrixExtent(tm);
  const eps = tm.cellSize * 1e-6;
  return b[0] >= e[0] - eps && b[1] >= e[1] - eps && b[2] <= e[2] + eps && b[3] <= e[3] + eps;
}

function levelOrThrow(tms: TileMatrixSet, id: string, input: string): TileMatrix {
  try {
    return tileMatrix(tms, id);
  } catch {
    throw new PlanError(
      input,
      `level '${id}' does not exist in ${tms.id} (levels ${levelsSortedByResolution(tms)
        .map((t) => t.id)
        .join(', ')})`,
    );
  }
}

/** Images whose extent (in the TMS CRS) touches a slab: only those are read for it. */
export function imagesTouching(plan: PyramidPlan, tm: TileMatrix, col: number, row: number, slab: SlabSize): number[] {
  const [x0, y0, x1, y1] = slabBbox(tm, col, row, slab);
  const out: number[] = [];
  plan.imageBboxes.forEach((b, i) => {
    if (b[0] < x1 && b[2] > x0 && b[1] < y1 && b[3] > y0) out.push(i);
  });
  return out;
}

/** Z-order (Morton) rank of a slab: children of one parent are consecutive, so memory stays bounded. */
export function mortonRank(col: number, row: number): number {
  let r = 0;
  for (let bit = 0; bit < 26; bit++) r += ((col >> bit) & 1) * 2 ** (2 * bit) + ((row >> bit) & 1) * 2 ** (2 * bit + 1);
  return r;
}
