/**
 * The list-path codec (rok4.md §6): where a slab sits relative to its pyramid's tree, as written in the
 * list. FILE: `DATA/<level>/<base-36 path>` (§4.1); object storage: `DATA_<level>_<col>_<row>` (§4.2).
 * Built and parsed here only: the writer builds, updates and merges parse.
 */
import { parseSlabObjectName, parseSlabPath, slabObjectName, slabPath, type SlabKind } from './base36.js';

/** A slab named by a list path. */
export interface ListedSlab {
  kind: SlabKind;
  level: string;
  col: number;
  row: number;
}

/** The list path of a slab; `pathDepth` is the level's FILE path depth (unused on object storage). */
export function slabListPath(storageType: 'FILE' | 'S3', slab: ListedSlab, pathDepth: number): string {
  if (storageType === 'FILE') return `${slab.kind}/${slab.level}/${slabPath(slab.col, slab.row, pathDepth)}`;
  return slabObjectName(slab.kind, slab.level, slab.col, slab.row);
}

/** The slab a list path names, or undefined for a path that is neither form. */
export function slabOfListPath(path: string): ListedSlab | undefined {
  const file = /^(DATA|MASK)\/([^/]+)\/(.+)$/.exec(path);
  if (file) {
    try {
      const { col, row } = parseSlabPath(file[3]);
      return { kind: file[1] as SlabKind, level: file[2], col, row };
    } catch {
      return undefined;
    }
  }
  try {
    return parseSlabObjectName(path);
  } catch {
    return undefined;
  }
}
