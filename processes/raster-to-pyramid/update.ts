import { invalidInput } from '../../src/errors.js';
import type { OriginalReferences } from '../../src/pyramid/reference.js';
import type { TileLimits } from '../../src/rok4/descriptor.js';
import type { SlabList } from '../../src/rok4/list.js';
import { slabOfListPath } from '../../src/rok4/list-path.js';

/** Inputs an update takes from the ancestor instead of the request (rok4.md §8.7.1). */
export const INHERITED_INPUTS = ['tms', 'compression', 'interpolation', 'mask', 'width', 'height', 'nodata', 'bottom', 'top'] as const;

/** 400 when an update request also sets what the ancestor decides (schema defaults filled in do not count). */
export function refuseInherited(inputs: Record<string, unknown>, defaulted: readonly string[] = []): void {
  const given = INHERITED_INPUTS.filter((k) => inputs[k] !== undefined && !defaulted.includes(k));
  if (given.length) {
    throw invalidInput(
      given[0],
      `an update (stored_data given) takes ${INHERITED_INPUTS.join(', ')} from the existing pyramid; remove ${given.join(', ')}`,
    );
  }
}

/**
 * References every slab of the ancestor (data and masks) at the same path in the new pyramid, pointing to
 * the original slab (rok4.md §8.7.2). The owners of the originals are collected by `refs`. `written`: list
 * paths this pyramid already holds its own slab at (the parts of a split update wrote them before the
 * references are made; a single run makes the references first and recomputed slabs replace them).
 */
export async function referenceAncestor(
  refs: OriginalReferences,
  name: string,
  list: SlabList,
  signal: AbortSignal,
  written?: ReadonlySet<string>,
): Promise<void> {
  for (const entry of list.entries()) {
    signal.throwIfAborted();
    if (written?.has(entry.path)) continue;
    const slab = slabOfListPath(entry.path);
    if (slab) await refs.link(list, name, entry, slab);
  }
}

/** Union of tile limits (rok4.md §8.3: limits merged with the previous ones on update). */
export function unionLimits(a: TileLimits | undefined, b: TileLimits | undefined): TileLimits {
  if (!a) return { ...b! };
  if (!b) return { ...a };
  return {
    min_col: Math.min(a.min_col, b.min_col),
    max_col: Math.max(a.max_col, b.max_col),
    min_row: Math.min(a.min_row, b.min_row),
    max_row: Math.max(a.max_row, b.max_row),
  };
}
