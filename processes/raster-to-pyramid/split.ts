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
import type { TileMatrixSet } from '../../src/raster/tms.js';
import type { PartContext, PartRunner } from '../../src/manager/parts.js';
import { partModuleName } from '../../src/manager/parts.js';
import type { PyramidLocation } from '../../src/pyramid/location.js';
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import { type GenerateRequest, type GenerateResult, generatePyramid } from './generate.js';
import { key, mortonRank, planPyramid, type PyramidPlan } from './plan.js';
import type { HalfSlab } from './slab-tasks.js';
import type { Rok4PyramidWriter } from '../../src/rok4/writer.js';

/** A cut: the level whose slabs root the parts' subtrees, and the roots of each part. */
export interface Cut {
  levelIndex: number;
  groups: Array<{ roots: Array<[number, number]>; slabs: number }>;
}

/**
 * Where to cut `plan` into `parts` parts: the coarsest level below the top with at least four roots per
 * part (so parts can be balanced), or the bottom level; roots in Z-order, grouped into consecutive runs
 * of about equal work (slabs of their subtrees). Undefined when the plan is too small to be worth it.
 */
export function cutPlan(plan: PyramidPlan, parts: number, minBottomSlabs: number): Cut | undefined {
  if (plan.levels.length < 2 || plan.levels[0].slabs.size < Math.max(minBottomSlabs, parts)) return undefined;
  let levelIndex = 0;
  for (let l = plan.levels.length - 2; l >= 0; l--) {
    if (plan.levels[l].slabs.size >= 4 * parts) {
      levelIndex = l;
      break;
    }
  }
  const roots = [...plan.levels[levelIndex].slabs.values()].sort((a, b) => mortonRank(a[0], a[1]) - mortonRank(b[0], b[1]));
  const weight = new Map(roots.map(([c, r]) => [key(c, r), 0]));
  for (let l = 0; l <= levelIndex; l++) {
    const shift = levelIndex - l;
    for (const [c, r] of plan.levels[l].slabs.values()) {
      const k = key(c >> shift, r >> shift);
      weight.set(k, (weight.get(k) ?? 0) + 1);
    }
  }
  const total = [...weight.values()].reduce((a, b) => a + b, 0);
  const groups: Cut['groups'] = [];
  let current: Cut['groups'][number] = { roots: [], slabs: 0 };
  for (const root of roots) {
    current.roots.push(root);
    current.slabs += weight.get(key(root[0], root[1]))!;
    // Close a group once it holds its share of what is left, keeping a root for every group still to come.
    const left = parts - groups.length;
    if (left > 1 && current.slabs >= total / parts) {
      groups.push(current);
      current = { roots: [], slabs: 0 };
    }
  }
  if (current.roots.length) groups.push(current);
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

/** Temp objects holding the parts' halves for the finisher, in the pyramid's own folder (a failure removes it whole). */
function halfKey(location: PyramidLocation, col: number, row: number): string {
  return `${location.folder}.split-halves/${col}_${row}`;
}

function packHalf(half: HalfSlab): Uint8Array {
  const data = new Uint8Array(half.data.buffer, half.data.byteOffset, half.data.byteLength);
  const out = new Uint8Array(4 + data.byteLength + half.mask.byteLength);
  new DataView(out.buffer).setUint32(0, data.byteLength, true);
  out.set(data, 4);
  out.set(half.mask, 4 + data.byteLength);
  return out;
}

function unpackHalf(bytes: Buffer, spec: SlabSpec): HalfSlab {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const dataBytes = new DataView(copy.buffer).getUint32(0, true);
  const data = copy.slice(4, 4 + dataBytes);
  return {
    data: spec.sampleType === 'float32' ? new Float32Array(data.buffer, 0, dataBytes / 4) : data,
    mask: copy.slice(4 + dataBytes),
  };
}

/** A part (runs on any worker): the subtrees of its roots, written; their halves left for the finisher. */
export async function subtreePart(args: SubtreeArgs, ctx: PartContext): Promise<SubtreeResult> {
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
    await ctx.storage.write(halfKey(args.location, col, row), packHalf(half));
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

/**
 * The whole generation cut in parts run by `parts`, then finished here: the same result as
 * {@link generatePyramid}. For an update, `req.ancestor` is the background and `update` makes the references.
 */
export async function generateSplit(
  req: GenerateRequest & { tms: TileMatrixSet; jobId: string; parts: PartRunner },
  cut: Cut,
  update?: SplitUpdate,
): Promise<GenerateResult> {
  const { plan, storage } = req;
  const above = plan.levels.slice(cut.levelIndex + 1).reduce((n, l) => n + l.slabs.size, 0);
  const partsShare = (plan.totalSlabs - above) / plan.totalSlabs;
  req.progress(
    0,
    `${plan.totalSlabs} slabs in ${cut.groups.length} parts below level ${plan.levels[cut.levelIndex].tm.id}, then ${above} above`,
  );
  const results = await req.parts.run<SubtreeResult>(
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
      signal: req.signal,
      progress: (f) =>
        req.progress(
          f * partsShare * 100,
          `parts: ${Math.round(f * (plan.totalSlabs - above))}/${plan.totalSlabs - above} slabs below the cut`,
        ),
    },
  );
  const half = async (col: number, row: number): Promise<HalfSlab | null> => {
    const k = halfKey(req.location, col, row);
    // A part writes no half for an empty slab.
    return (await storage.exists(k)) ? unpackHalf(await storage.read(k), req.spec) : null;
  };
  const finished = await generatePyramid({
    ...req,
    above: { levelIndex: cut.levelIndex, half },
    progress: (percent, message) => req.progress((partsShare + (percent / 100) * (1 - partsShare)) * 100, message),
    beforeWalk: async (writer) => {
      const written = new Set(results.flatMap((r) => r.listPaths));
      if (update) await update.reference(writer, written);
      for (const p of written) writer.list.setEntry(0, p);
    },
  });
  await storage.deletePrefix(`${req.location.folder}.split-halves/`);
  return {
    ...finished,
    slabsWritten: finished.slabsWritten + results.reduce((n, r) => n + r.slabsWritten, 0),
    bytes: finished.bytes + results.reduce((n, r) => n + r.bytes, 0),
  };
}
