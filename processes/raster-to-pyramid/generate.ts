import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { resolveCrs } from '../../src/raster/crs.js';
import type { RasterInfo } from '../../src/raster/geotiff-source.js';
import type { KernelName } from '../../src/raster/kernels.js';
import type { TileMatrixSet } from '../../src/raster/tms.js';
import type { PyramidDescriptor } from '../../src/rok4/descriptor.js';
import { formatName, MASK_FORMAT } from '../../src/rok4/formats.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import type { Storage } from '../../src/storage/storage.js';
import type { WorkerPool } from '../../src/workers/pool.js';
import { PriorityScheduler } from '../../src/workers/scheduler.js';
import { levelStorage, type PyramidLocation } from '../../src/pyramid/location.js';
import { SiblingTasks } from '../../src/pyramid/siblings.js';
import type { StorageDescriptor } from '../../src/storage/factory.js';
import type { BackgroundRef } from './background.js';
import { imagesTouching, key, mortonRank, type PyramidPlan } from './plan.js';
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import type { BottomSlabTask, HalfSlab, SlabResult, UpperSlabTask } from './slab-tasks.js';

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slab-tasks.js');

/** Starts the pool's threads with the slab tasks loaded while the run still prepares (src/workers/pool.ts). */
export function warmSlabThreads(pool: WorkerPool): void {
  pool.warm?.(TASKS);
}

export interface GenerateRequest {
  storage: Storage;
  pool: WorkerPool;
  signal: AbortSignal;
  progress: (percent: number, message: string) => void;
  location: PyramidLocation;
  tms: TileMatrixSet;
  plan: PyramidPlan;
  spec: SlabSpec;
  interpolation: KernelName;
  images: RasterInfo[];
  /** Update (rok4.md §8.7): the ancestor pyramid, whose slabs are the background of recomputed ones. */
  ancestor?: {
    storage: StorageDescriptor;
    location: PyramidLocation;
    /** Its stored data id. */
    id: string;
    /** True when the ancestor has a data slab there. */
    has(level: string, col: number, row: number): boolean;
  };
  /** Called with the writer before any slab is computed (updates write their references there). */
  beforeWalk?: (writer: Rok4PyramidWriter) => Promise<void>;
  /**
   * A part of a split generation (issue 14, BE4's parallelization): only the subtrees of `roots`, slabs
   * of level `levelIndex`, are computed and written; their halves are returned for the finisher.
   */
  subtree?: { levelIndex: number; roots: Array<[number, number]> };
  /**
   * The finisher of a split generation: the levels above `levelIndex` only, from that level's halves
   * (null for an empty slab) as the parts computed them — the same pixels a single run hands from child
   * to parent, so the output is the same byte for byte. Read when the walk needs them (memory bounded).
   */
  above?: { levelIndex: number; half(col: number, row: number): Promise<HalfSlab | null> };
}

export interface GenerateResult {
  descriptor: PyramidDescriptor;
  writer: Rok4PyramidWriter;
  slabsWritten: number;
  /** Bytes of data and mask slabs written. */
  bytes: number;
  /** A part's run ({@link GenerateRequest.subtree}): the halves of its roots, keys "col,row". */
  halves?: Map<string, HalfSlab | null>;
}

/** The descriptor of a new pyramid at `location` of `storage` for a plan (rok4.md §3): levels top → bottom. */
export function describePyramid(
  storage: Storage,
  location: PyramidLocation,
  tms: TileMatrixSet,
  plan: PyramidPlan,
  spec: SlabSpec,
  interpolation: KernelName,
): PyramidDescriptor {
  return {
    tile_matrix_set: tms.id,
    format: formatName(spec.compression, spec.sampleType),
    ...(spec.mask ? { mask_format: MASK_FORMAT } : {}),
    raster_specifications: {
      channels: spec.channels,
      nodata: spec.nodata.map((v) => String(v)).join(','),
      photometric: spec.channels >= 3 ? 'rgb' : 'gray',
      interpolation,
    },
    levels: [...plan.levels].reverse().map((l) => ({
      id: l.tm.id,
      tiles_per_width: spec.tilesPerWidth,
      tiles_per_height: spec.tilesPerHeight,
      tile_limits: l.tileLimits,
      storage: levelStorage(storage, location, l.tm.id, spec.mask),
    })),
  } as PyramidDescriptor;
}

/**
 * Writes a pyramid: bottom slabs from the images, upper slabs from their children's halves, walked
 * depth-first in Z-order through a priority scheduler (parents first), so memory stays bounded by a few
 * quadrants per level (DESIGN §6). Slabs are written as they come; the list and the descriptor are written
 * by the caller's `writer.commit()` once everything succeeded (the descriptor is the commit point, §7).
 * Progress = slabs done / slabs planned.
 */
export async function generatePyramid(req: GenerateRequest): Promise<GenerateResult> {
  const { plan, spec, storage, pool, signal } = req;
  const descriptor = describePyramid(storage, req.location, req.tms, plan, spec, req.interpolation);
  const writer = new Rok4PyramidWriter(storage, req.location.name, descriptor, { folder: req.location.folder });
  // On the first failure the other slabs stop too, and those already running are waited for before
  // rethrowing, so that nothing is written after the caller cleans up (DESIGN §7).
  const siblings = new SiblingTasks(signal);
  const scheduler = new PriorityScheduler(pool.threads, siblings.signal);
  const slab = { tilesPerWidth: spec.tilesPerWidth, tilesPerHeight: spec.tilesPerHeight };
  const top = plan.levels.length - 1;
  const tmsCrs = resolveCrs(req.tms.crs);
  const doneByLevel = plan.levels.map(() => 0);
  const planned = plannedSlabs(plan, req);
  let done = 0;
  let slabsWritten = 0;
  let bytes = 0;
  const writes: Array<Promise<void>> = [];

  const report = (levelIndex: number) => {
    done++;
    doneByLevel[levelIndex]++;
    const l = plan.levels[levelIndex];
    req.progress((done / planned) * 100, `level ${l.tm.id}: ${doneByLevel[levelIndex]}/${l.slabs.size} slabs (${done}/${planned} in all)`);
  };

  const write = async (levelIndex: number, col: number, row: number, r: SlabResult) => {
    if (r.empty || !r.data) return;
    const id = plan.levels[levelIndex].tm.id;
    await writer.writeSlab(id, col, row, 'DATA', r.data);
    bytes += r.data.byteLength;
    slabsWritten++;
    if (r.mask) {
      await writer.writeSlab(id, col, row, 'MASK', r.mask);
      bytes += r.mask.byteLength;
    }
  };

  const backgroundOf = (levelIndex: number, col: number, row: number): BackgroundRef | undefined => {
    const level = plan.levels[levelIndex].tm.id;
    const a = req.ancestor;
    return a && a.has(level, col, row)
      ? { storage: a.storage, name: a.location.name, folder: a.location.folder, id: a.id, level, col, row }
      : undefined;
  };

  const compute = async (levelIndex: number, col: number, row: number): Promise<HalfSlab | null> => {
    siblings.signal.throwIfAborted();
    if (req.above && levelIndex === req.above.levelIndex) return req.above.half(col, row);
    const tm = plan.levels[levelIndex].tm;
    const priority = [top - levelIndex, mortonRank(col, row)];
    let result: SlabResult;
    if (levelIndex === 0) {
      const touching = imagesTouching(plan, tm, col, row, slab);
      const task: BottomSlabTask = {
        spec,
        interpolation: req.interpolation,
        tmsCrs,
        xmin: tm.pointOfOrigin[0] + col * spec.tilesPerWidth * tm.tileWidth * tm.cellSize,
        ymax: tm.pointOfOrigin[1] - row * spec.tilesPerHeight * tm.tileHeight * tm.cellSize,
        resolution: tm.cellSize,
        images: touching.map((i) => req.images[i]),
        background: backgroundOf(levelIndex, col, row),
      };
      result =
        touching.length === 0
          ? { empty: true, validPixels: 0 }
          : await scheduler.run(priority, () => pool.run<SlabResult>(TASKS, 'bottomSlab', task, { signal: siblings.signal }));
    } else {
      const below = plan.levels[levelIndex - 1].slabs;
      const childCoords: Array<[number, number]> = [
        [2 * col, 2 * row],
        [2 * col + 1, 2 * row],
        [2 * col, 2 * row + 1],
        [2 * col + 1, 2 * row + 1],
      ];
      // allSettled: a failing child must not leave its siblings writing after we rethrow.
      const settled = await Promise.allSettled(
        childCoords.map(([c, r]) => (below.has(key(c, r)) ? compute(levelIndex - 1, c, r) : Promise.resolve(null))),
      );
      const failed = settled.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
      const children = settled.map((o) => (o as PromiseFulfilledResult<HalfSlab | null>).value) as UpperSlabTask['children'];
      const background = backgroundOf(levelIndex, col, row);
      if (children.every((c) => c === null) && !background) {
        result = { empty: true, validPixels: 0 };
      } else {
        const transfer = [...new Set(children.flatMap((c) => (c ? [c.data.buffer, c.mask.buffer] : [])))] as ArrayBuffer[];
        result = await scheduler.run(priority, () =>
          pool.run<SlabResult>(TASKS, 'upperSlab', { spec, children, background } satisfies UpperSlabTask, {
            signal: siblings.signal,
            transferList: transfer,
          }),
        );
      }
    }
    // The parent may start while the slab is being written (the chain of single top slabs would
    // otherwise wait for each write); every write is awaited before the pyramid is committed.
    const written = write(levelIndex, col, row, result).then(() => report(levelIndex));
    written.catch((err: unknown) => siblings.fail(err));
    writes.push(written);
    return result.empty ? null : (result.half ?? null);
  };

  // A part walks from its roots; a whole run and a finisher from the top slabs.
  const startLevel = req.subtree ? req.subtree.levelIndex : top;
  const starts = (req.subtree ? req.subtree.roots : [...plan.levels[top].slabs.values()]).sort(
    (a, b) => mortonRank(a[0], a[1]) - mortonRank(b[0], b[1]),
  );
  const halves = new Map<string, HalfSlab | null>();
  const walk = async (): Promise<void> => {
    if (req.beforeWalk) await req.beforeWalk(writer);
    // allSettled: every top slab's walk ends (and has pushed its writes) before the writes are awaited.
    const outcomes = await Promise.allSettled(
      // Only a part hands its roots' halves on; a whole run drops its top slabs' halves at once.
      starts.map(([c, r]) =>
        siblings.track(
          req.subtree ? compute(startLevel, c, r).then((half) => void halves.set(key(c, r), half)) : compute(startLevel, c, r),
        ),
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  };
  // Slab writes still running are waited for, failed or not: nothing is written after we return.
  await siblings.settle(
    () => [siblings.track(walk())],
    () => writes,
  );
  return { descriptor, writer, slabsWritten, bytes, ...(req.subtree ? { halves } : {}) };
}

/** Slabs a run computes: all of the plan's, a part's subtrees, or the levels above a finisher's cut. */
function plannedSlabs(plan: PyramidPlan, req: GenerateRequest): number {
  if (req.above) return plan.levels.slice(req.above.levelIndex + 1).reduce((n, l) => n + l.slabs.size, 0);
  if (!req.subtree) return plan.totalSlabs;
  const { levelIndex, roots } = req.subtree;
  const rootKeys = new Set(roots.map(([c, r]) => key(c, r)));
  let n = 0;
  for (let l = 0; l <= levelIndex; l++) {
    const shift = levelIndex - l;
    for (const [c, r] of plan.levels[l].slabs.values()) if (rootKeys.has(key(c >> shift, r >> shift))) n++;
  }
  return n;
}
