/**
 * Split generation (issue 14, "split big pyramids"), as ROK4's BE4 parallelization does it: the bottom
 * slabs are cut into subtrees below a cut level, each computed by a part on any worker process (every
 * slab of the subtree, written to the shared storage), then the finisher — the job itself — computes the
 * levels above the cut from the parts' halves. A parent slab is made from its children's halves in a
 * single run too, so the slabs are the same bytes either way. An update (rok4.md §8.7) splits the same way:
 * each part takes the ancestor's slabs of its subtrees as background, and the finisher references the
 * ancestor's slabs the parts did not rewrite before it computes the levels above the cut.
 */
import type { RasterInfo } from '../../src/raster/geotiff-source.js';
import type { KernelName } from '../../src/raster/kernels.js';
import { slabBbox, type SlabSize, type TileMatrixSet } from '../../src/raster/tms.js';
import type { PartContext, PartRunner } from '../../src/manager/parts.js';
import { partModuleName } from '../../src/manager/parts.js';
import type { PyramidLocation } from '../../src/pyramid/location.js';
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import { type GenerateRequest, type GenerateResult, generatePyramid, warmSlabThreads } from './generate.js';
import { key, mortonRank, planPyramid, type PyramidPlan } from './plan.js';
import type { HalfSlab } from './slab-tasks.js';
import type { Rok4PyramidWriter } from '../../src/rok4/writer.js';

/** A cut: the level whose slabs root the parts' subtrees, and the roots of each part (heaviest part first). */
export interface Cut {
  levelIndex: number;
  groups: Array<{ roots: Array<[number, number]>; slabs: number; work: number }>;
}

/**
 * Estimated work of a slab: a fixed share, plus the share of its extent the images' extents cover (a
 * slab on the edge of the data is mostly nodata, which costs next to nothing to warp and encode); slabs
 * above the bottom cost about half (a 2 × 2 reduction of their children, no warp).
 */
function slabWork(plan: PyramidPlan, levelIndex: number, col: number, row: number, slab: SlabSize): number {
  const [x0, y0, x1, y1] = slabBbox(plan.levels[levelIndex].tm, col, row, slab);
  const area = (x1 - x0) * (y1 - y0);
  let covered = 0;
  for (const b of plan.imageBboxes) {
    const w = Math.min(x1, b[2]) - Math.max(x0, b[0]),
      h = Math.min(y1, b[3]) - Math.max(y0, b[1]);
    if (w > 0 && h > 0) covered += (w * h) / area;
  }
  return (0.1 + Math.min(1, covered)) * (levelIndex === 0 ? 1 : 0.5);
}

/**
 * Where to cut `plan` into at most `parts` parts, undefined when it is too small to be worth it (fewer than
 * `minBottomSlabs` bottom slabs). Each level below the top is a candidate cut; its cost is estimated as the
 * parts' makespan — at least the work below the cut spread over `parts`, at least the heaviest root's subtree —
 * plus the finisher's work above the cut, which only the job's own process does (counted whole: an upper bound
 * now that it overlaps the parts, see {@link generateSplit}): a cut at the bottom leaves the finisher every upper
 * level (a quarter of the work), a cut near the top leaves parts as uneven as their roots.
 * The cheapest wins. Its roots, in Z-order, are grouped into runs of about equal work.
 *
 * Measured on L (bench:scale, 2 worker processes, 8 parts): the former rule (the coarsest level with four roots
 * per part) cut at the bottom level; the finisher then ran 7 s alone after 35 s of parts.
 */
export function cutPlan(plan: PyramidPlan, parts: number, minBottomSlabs: number, slab: SlabSize): Cut | undefined {
  if (plan.levels.length < 2 || plan.levels[0].slabs.size < Math.max(minBottomSlabs, parts)) return undefined;
  // Work and slab count of every subtree rooted at each level (a level's sums start from its own slabs).
  const subtree: Array<Map<string, { work: number; slabs: number }>> = [];
  const levelWork: number[] = [];
  for (let l = 0; l < plan.levels.length; l++) {
    const sums = new Map<string, { work: number; slabs: number }>();
    let own = 0;
    for (const [k, [c, r]] of plan.levels[l].slabs) {
      const w = slabWork(plan, l, c, r, slab);
      own += w;
      sums.set(k, { work: w, slabs: 1 });
    }
    if (l > 0)
      for (const [k, child] of subtree[l - 1]) {
        const [c, r] = plan.levels[l - 1].slabs.get(k)!;
        const parent = sums.get(key(c >> 1, r >> 1))!;
        parent.work += child.work;
        parent.slabs += child.slabs;
      }
    subtree.push(sums);
    levelWork.push(own);
  }
  const total = levelWork.reduce((a, b) => a + b, 0);
  let best: { levelIndex: number; cost: number } | undefined;
  for (let l = 0; l < plan.levels.length - 1; l++) {
    const above = levelWork.slice(l + 1).reduce((a, b) => a + b, 0);
    const roots = [...subtree[l].values()];
    const heaviest = roots.reduce((m, r) => Math.max(m, r.work), 0);
    const cost = Math.max((total - above) / Math.min(parts, roots.length), heaviest) + above;
    if (!best || cost < best.cost) best = { levelIndex: l, cost };
  }
  const levelIndex = best!.levelIndex;
  const roots = [...plan.levels[levelIndex].slabs.values()].sort((a, b) => mortonRank(a[0], a[1]) - mortonRank(b[0], b[1]));
  const rootSums = subtree[levelIndex];
  const below = [...rootSums.values()].reduce((a, b) => a + b.work, 0);
  const groups: Cut['groups'] = [];
  let current: Cut['groups'][number] = { roots: [], slabs: 0, work: 0 };
  for (const root of roots) {
    const sums = rootSums.get(key(root[0], root[1]))!;
    current.roots.push(root);
    current.work += sums.work;
    current.slabs += sums.slabs;
    // Close a group once it holds its share of the work, keeping a root for every group still to come.
    if (parts - groups.length > 1 && current.work >= below / parts) {
      groups.push(current);
      current = { roots: [], slabs: 0, work: 0 };
    }
  }
  if (current.roots.length) groups.push(current);
  // Workers take parts in the order they are queued: the heaviest first, so that the last ones are short.
  groups.sort((a, b) => b.work - a.work);
  return { levelIndex, groups };
}

/** What a part needs to plan and compute its subtrees (sent as V8 values through the queue). */
export interface SubtreeArgs {
  location: PyramidLocation;
  tms: TileMatrixSet;
  images: RasterInfo[];
  /** The plan's bottom and top levels and slab size: the part plans again, the same plan. */
  bottom: string;
  top: string;
  spec: SlabSpec;
  interpolation: KernelName;
  levelIndex: number;
  roots: Array<[number, number]>;
  /** An update's ancestor, with its data slabs ("level/col/row") inside this part's subtrees only. */
  ancestor?: Omit<NonNullable<GenerateRequest['ancestor']>, 'has'> & { slabs: string[] };
}

/** What the finisher of a split update needs besides the request's `ancestor` (the background). */
export interface SplitUpdate {
  /** The ancestor's data slabs, "level/col/row". */
  slabs: ReadonlySet<string>;
  /** References the ancestor's slabs in `writer`, except at the list paths the parts wrote. */
  reference(writer: Rok4PyramidWriter, written: ReadonlySet<string>): Promise<void>;
}

/** What a part hands back: its slabs as list lines (root 0) and what it wrote. */
export interface SubtreeResult {
  listPaths: string[];
  slabsWritten: number;
  bytes: number;
}

/**
 * Temp objects holding the parts' halves for the finisher, in the pyramid's own folder (a failure removes it
 * whole): the pixels and the mask as two objects, written from and read into their own buffers with no copy
 * (measured on L, bench:scale: packing both into one object and unpacking it cost 2.8 s of CPU, 4 % of the run).
 */
function halfKey(location: PyramidLocation, col: number, row: number, part: 'data' | 'mask'): string {
  return `${location.folder}.split-halves/${col}_${row}.${part}`;
}

async function writeHalf(
  storage: PartContext['storage'],
  location: PyramidLocation,
  col: number,
  row: number,
  half: HalfSlab,
): Promise<void> {
  await storage.write(halfKey(location, col, row, 'data'), new Uint8Array(half.data.buffer, half.data.byteOffset, half.data.byteLength));
  await storage.write(halfKey(location, col, row, 'mask'), half.mask);
}

/** A read object as bytes that own their whole buffer (moved, not copied, to a worker thread). */
function ownBytes(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? new Uint8Array(b.buffer) : new Uint8Array(b);
}

async function readHalf(
  storage: PartContext['storage'],
  location: PyramidLocation,
  col: number,
  row: number,
  spec: SlabSpec,
): Promise<HalfSlab | null> {
  const dataKey = halfKey(location, col, row, 'data');
  // A part writes no half for an empty slab.
  if (!(await storage.exists(dataKey))) return null;
  const data = ownBytes(await storage.read(dataKey));
  const mask = ownBytes(await storage.read(halfKey(location, col, row, 'mask')));
  return { data: spec.sampleType === 'float32' ? new Float32Array(data.buffer, 0, data.byteLength / 4) : data, mask };
}

/** A part (runs on any worker): the subtrees of its roots, written; their halves left for the finisher. */
export async function subtreePart(args: SubtreeArgs, ctx: PartContext): Promise<SubtreeResult> {
  warmSlabThreads(ctx.pool);
  const plan = planPyramid(args.tms, args.images, {
    bottom: args.bottom,
    top: args.top,
    slab: { tilesPerWidth: args.spec.tilesPerWidth, tilesPerHeight: args.spec.tilesPerHeight },
  });
  const result = await generatePyramid({
    storage: ctx.storage,
    pool: ctx.pool,
    signal: ctx.signal,
    progress: (percent) => ctx.progress(percent / 100),
    location: args.location,
    tms: args.tms,
    plan,
    spec: args.spec,
    interpolation: args.interpolation,
    images: args.images,
    subtree: { levelIndex: args.levelIndex, roots: args.roots },
    ...(args.ancestor ? { ancestor: ancestorOf(args.ancestor) } : {}),
  });
  for (const [k, half] of result.halves ?? []) {
    if (!half) continue;
    const [col, row] = k.split(',').map(Number);
    await writeHalf(ctx.storage, args.location, col, row, half);
  }
  return {
    listPaths: [...result.writer.list.entries()].map((e) => e.path),
    slabsWritten: result.slabsWritten,
    bytes: result.bytes,
  };
}

function ancestorOf(a: NonNullable<SubtreeArgs['ancestor']>): NonNullable<GenerateRequest['ancestor']> {
  const { slabs, ...where } = a;
  const set = new Set(slabs);
  return { ...where, has: (level, col, row) => set.has(`${level}/${col}/${row}`) };
}

/** The ancestor's slabs under the subtrees of `roots` (slabs of level `levelIndex`): what a part reads. */
function slabsUnder(plan: PyramidPlan, slabs: ReadonlySet<string>, levelIndex: number, roots: Array<[number, number]>): string[] {
  const rootSet = new Set(roots.map(([c, r]) => key(c, r)));
  const indexOf = new Map(plan.levels.map((l, i) => [l.tm.id, i]));
  const out: string[] = [];
  for (const s of slabs) {
    const [level, col, row] = s.split('/');
    const i = indexOf.get(level);
    if (i === undefined || i > levelIndex) continue;
    const shift = levelIndex - i;
    if (rootSet.has(key(Number(col) >> shift, Number(row) >> shift))) out.push(s);
  }
  return out;
}

const PART_MODULE = partModuleName(import.meta.url);

/** A promise settled from outside; its rejection is handled (a part's end nobody waits for is no error). */
function deferred(): { promise: Promise<void>; resolve(): void; reject(err: unknown): void } {
  let resolve!: () => void, reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * The whole generation cut in parts run by `parts`, then finished here: the same result as
 * {@link generatePyramid}. For an update, `req.ancestor` is the background and `update` makes the references.
 *
 * A generation's finisher starts with the parts: a slab above the cut is computed as soon as the parts holding
 * its children have ended, so only the slabs above the last part's roots are left when it ends (measured on L,
 * bench:scale, 2 processes × 1 thread: the finisher ran 2.7 s alone after the parts when it waited for all of
 * them). An update's finisher still waits for every part: the ancestor's slabs the parts did not rewrite are
 * referenced before the levels above the cut are written, where recomputed slabs replace their references.
 */
export async function generateSplit(
  req: GenerateRequest & { tms: TileMatrixSet; jobId: string; parts: PartRunner },
  cut: Cut,
  update?: SplitUpdate,
): Promise<GenerateResult> {
  const { plan, storage } = req;
  const cutLevel = plan.levels[cut.levelIndex];
  const above = plan.levels.slice(cut.levelIndex + 1).reduce((n, l) => n + l.slabs.size, 0);
  const partsShare = (plan.totalSlabs - above) / plan.totalSlabs;
  req.progress(0, `${plan.totalSlabs} slabs in ${cut.groups.length} parts below level ${cutLevel.tm.id}, then ${above} above`);
  // Progress: the parts' weighted sum and the finisher's, each for its share of the slabs.
  let partsDone = 0,
    finisherDone = 0,
    message = '';
  const report = () => req.progress((partsDone * partsShare + finisherDone * (1 - partsShare)) * 100, message);
  const partOfRoot = new Map<string, number>();
  cut.groups.forEach((g, i) => {
    for (const [c, r] of g.roots) partOfRoot.set(key(c, r), i);
  });
  const ended = cut.groups.map(() => deferred());
  // A failing finisher stops the parts (a failing part stops the finisher through `ended`).
  const finisherFailed = new AbortController();
  const partsRun = req.parts.run<SubtreeResult>(
    req.jobId,
    cut.groups.map((g) => ({
      module: PART_MODULE,
      fn: 'subtreePart',
      weight: g.slabs,
      args: {
        location: req.location,
        tms: req.tms,
        images: req.images,
        bottom: plan.levels[0].tm.id,
        top: plan.levels[plan.levels.length - 1].tm.id,
        spec: req.spec,
        interpolation: req.interpolation,
        levelIndex: cut.levelIndex,
        roots: g.roots,
        ...(req.ancestor && update
          ? {
              ancestor: {
                storage: req.ancestor.storage,
                location: req.ancestor.location,
                id: req.ancestor.id,
                slabs: slabsUnder(plan, update.slabs, cut.levelIndex, g.roots),
              },
            }
          : {}),
      } satisfies SubtreeArgs,
    })),
    {
      signal: AbortSignal.any([req.signal, finisherFailed.signal]),
      progress: (f) => {
        partsDone = f;
        message = `parts: ${Math.round(f * (plan.totalSlabs - above))}/${plan.totalSlabs - above} slabs below the cut`;
        report();
      },
      ended: (i) => ended[i].resolve(),
    },
  );
  partsRun.then(
    () => {},
    (err: unknown) => {
      for (const e of ended) e.reject(err);
    },
  );
  const half = async (col: number, row: number): Promise<HalfSlab | null> => {
    // Read once the parts of the parent's four children have ended: the parent can then start at once, so
    // a read half is not held while a part still runs (memory bounded as in a single run).
    const pc = col >> 1,
      pr = row >> 1;
    const parts = new Set<number>();
    for (const [c, r] of [
      [2 * pc, 2 * pr],
      [2 * pc + 1, 2 * pr],
      [2 * pc, 2 * pr + 1],
      [2 * pc + 1, 2 * pr + 1],
    ]) {
      const i = partOfRoot.get(key(c, r));
      if (i !== undefined) parts.add(i);
    }
    await Promise.all([...parts].map((i) => ended[i].promise));
    return readHalf(storage, req.location, col, row, req.spec);
  };
  let results: SubtreeResult[] | undefined;
  if (update) results = await partsRun;
  const finishing = generatePyramid({
    ...req,
    above: { levelIndex: cut.levelIndex, half },
    progress: (percent, finisherMessage) => {
      finisherDone = percent / 100;
      message = finisherMessage;
      report();
    },
    ...(update
      ? {
          beforeWalk: async (writer: Rok4PyramidWriter) => {
            const written = new Set(results!.flatMap((r) => r.listPaths));
            await update.reference(writer, written);
            for (const p of written) writer.list.setEntry(0, p);
          },
        }
      : {}),
  });
  finishing.catch(() => finisherFailed.abort());
  const [partsOutcome, finisherOutcome] = await Promise.allSettled([partsRun, finishing]);
  // Every part and every finisher write has stopped: report the cause (a part's failure reaches the finisher too).
  if (finisherOutcome.status === 'rejected' && (partsOutcome.status === 'fulfilled' || finisherFailed.signal.aborted))
    throw finisherOutcome.reason;
  if (partsOutcome.status === 'rejected') throw partsOutcome.reason;
  if (finisherOutcome.status === 'rejected') throw finisherOutcome.reason;
  results = partsOutcome.value;
  const finished = finisherOutcome.value;
  // The parts' slabs join the list (an update's were set before its walk).
  if (!update) for (const p of results.flatMap((r) => r.listPaths)) finished.writer.list.setEntry(0, p);
  await storage.deletePrefix(`${req.location.folder}.split-halves/`);
  return {
    ...finished,
    slabsWritten: finished.slabsWritten + results.reduce((n, r) => n + r.slabsWritten, 0),
    bytes: finished.bytes + results.reduce((n, r) => n + r.bytes, 0),
  };
}
