import { slabOfListPath } from '../../src/rok4/list-path.js';
import type { SlabList } from '../../src/rok4/list.js';
import type { PyramidDescriptor, TileLimits } from '../../src/rok4/descriptor.js';

/** One input pyramid as the merge sees it. */
export interface MergeSource {
  /** Position in the request: 0 = on top (highest priority). */
  index: number;
  name: string;
  descriptor: PyramidDescriptor;
  list: SlabList;
}

export interface SlabJob {
  level: string;
  col: number;
  row: number;
  /** Sources listing this DATA slab, in priority order (first = on top). */
  sources: number[];
}

export interface MergePlan {
  /** Level ids from the bottom (finest) to the top. */
  levels: string[];
  /** Per level: slabs to reference (one source) and to recompute (several). */
  slabs: Map<string, SlabJob[]>;
  tileLimits: Map<string, TileLimits>;
  referenced: number;
  recomputed: number;
}

/**
 * Which slabs of which levels come from which inputs (rok4.md §9.3, JOINCACHE): each level is handled on
 * its own (upper levels are not recomputed from lower ones); a DATA slab listed by one source inside the
 * area is referenced, one listed by several is recomputed from all of them (REPLACE keeps only the first).
 * Slabs existing only as MASK are ignored. `area` holds, per level, the slab index range allowed (from the bbox).
 */
export function planMerge(
  sources: MergeSource[],
  levels: string[],
  options: { replace: boolean; area?: (level: string, col: number, row: number) => boolean },
): MergePlan {
  const slabs = new Map<string, SlabJob[]>();
  const tileLimits = new Map<string, TileLimits>();
  let referenced = 0;
  let recomputed = 0;
  const wanted = new Set(levels);
  const byKey = new Map<string, SlabJob>();
  for (const source of sources) {
    for (const entry of source.list.entries()) {
      const slab = slabOfListPath(entry.path);
      if (!slab || slab.kind !== 'DATA' || !wanted.has(slab.level)) continue;
      if (options.area && !options.area(slab.level, slab.col, slab.row)) continue;
      const k = `${slab.level}/${slab.col}/${slab.row}`;
      let job = byKey.get(k);
      if (!job) {
        job = { level: slab.level, col: slab.col, row: slab.row, sources: [] };
        byKey.set(k, job);
        if (!slabs.has(slab.level)) slabs.set(slab.level, []);
        slabs.get(slab.level)!.push(job);
      }
      if (!options.replace || job.sources.length === 0) job.sources.push(source.index);
    }
  }
  for (const jobs of slabs.values()) {
    for (const job of jobs) {
      job.sources.sort((a, b) => a - b);
      if (job.sources.length === 1) referenced++;
      else recomputed++;
    }
  }
  // Tile limits: union of the inputs' limits per level (pytools JOINCACHE), rok4.md §3.4.
  for (const level of levels) {
    let limits: TileLimits | undefined;
    for (const s of sources) {
      const l = s.descriptor.levels.find((x) => x.id === level)?.tile_limits;
      if (!l) continue;
      limits = limits
        ? {
            min_col: Math.min(limits.min_col, l.min_col),
            max_col: Math.max(limits.max_col, l.max_col),
            min_row: Math.min(limits.min_row, l.min_row),
            max_row: Math.max(limits.max_row, l.max_row),
          }
        : { ...l };
    }
    if (limits) tileLimits.set(level, limits);
  }
  return { levels, slabs, tileLimits, referenced, recomputed };
}
