/**
 * A published layer (issue 10): a name, its metadata, and one or more READY pyramids with disjoint level
 * ranges (same tile matrix set and format), read through the Storage interface and the ROK4 reader. The
 * layer is immutable once opened: a switch to other pyramids opens a new layer (see layer-registry.ts),
 * so that requests in flight finish on the pyramids they started with, and the old readers' slab-index
 * caches (rok4.md §5.4) go away with them.
 */
import { invalidInput } from '../errors.js';
import { transformBbox, type Bbox } from '../raster/crs.js';
import { loadTms, tileMatrix, type TileMatrix, type TileMatrixSet } from '../raster/tms.js';
import { nodataValues, type TileLimits } from '../rok4/descriptor.js';
import type { FormatInfo } from '../rok4/formats.js';
import { Rok4Reader } from '../rok4/reader.js';
import { randomUUID } from 'node:crypto';
import { describeStorage, type StorageDescriptor } from '../storage/factory.js';
import type { Storage } from '../storage/storage.js';
import type { CatalogTiles } from './catalog-layer.js';
import { offeredFormats, type OfferedFormat } from './tile-formats.js';

/** One pyramid of a layer and the levels it serves (ids of the TMS; both ends included). */
export interface LayerPyramidSpec {
  /** Descriptor key without `.json` is `<folder><name>` (src/pyramid/location.ts). */
  name: string;
  folder: string;
  /** Finest level served from this pyramid; default its bottom level. */
  bottom_level?: string;
  /** Coarsest level served from this pyramid; default its top level. */
  top_level?: string;
}

/** What an offering publishes (the configuration's `layer_name` and `type_infos`, issue 10). */
export interface LayerSpec {
  name: string;
  title: string;
  abstract?: string;
  keywords?: string[];
  pyramids: LayerPyramidSpec[];
}

/**
 * What the services read a level's tiles through: a pyramid's {@link Rok4Reader}, or a catalog layer's
 * renderer (catalog-layer.ts).
 */
export type TileReader = Pick<Rok4Reader, 'readTileBytes' | 'readTile' | 'readMaskTile'>;

/** A level of a layer: its tile matrix, where data may be, and the pyramid (or catalog renderer) that holds it. */
export interface LayerLevel {
  id: string;
  tm: TileMatrix;
  limits: TileLimits;
  reader: TileReader;
}

/**
 * What another thread needs to open the same layer (map-tasks.ts): its spec, the storage it reads and
 * where tile matrix sets are. `key` names this layer object: a switch opens a new layer with a new key,
 * so a worker's copy of the old one is never served for the new one.
 */
export interface LayerSource {
  key: string;
  spec: LayerSpec;
  storage: StorageDescriptor;
  tmsFolders: string[];
}

/** Open slabs per pyramid of a published layer: a few hundred descriptors per layer at most. */
const SLABS_KEPT_OPEN = 128;

export class PublishedLayer {
  /** Levels from the coarsest to the finest. */
  readonly levels: readonly LayerLevel[];
  private readonly byId: Map<string, LayerLevel>;
  /** Nodata tiles made once per offered format (tile-source.ts). */
  readonly nodataTiles = new Map<string, Promise<Buffer>>();
  readonly formats: readonly OfferedFormat[];
  /** How worker threads open this layer; absent when its storage cannot be described to them. */
  source?: LayerSource;
  /** A catalog's layer (catalog-layer.ts): tiles rendered from its COGs, with an optional attribute filter. */
  catalog?: CatalogTiles;

  constructor(
    readonly spec: LayerSpec,
    readonly tms: TileMatrixSet,
    readonly format: FormatInfo,
    readonly channels: number,
    readonly nodata: readonly number[],
    levels: LayerLevel[],
  ) {
    this.levels = [...levels].sort((a, b) => b.tm.cellSize - a.tm.cellSize);
    this.byId = new Map(this.levels.map((l) => [l.id, l]));
    this.formats = offeredFormats(format);
  }

  get name(): string {
    return this.spec.name;
  }

  level(id: string): LayerLevel | undefined {
    return this.byId.get(id);
  }

  /** Extent of a level's tile limits in the TMS CRS. */
  levelBbox(level: LayerLevel): Bbox {
    const { tm, limits } = level;
    const w = tm.cellSize * tm.tileWidth,
      h = tm.cellSize * tm.tileHeight;
    const [x0, y0] = tm.pointOfOrigin;
    return [x0 + limits.min_col * w, y0 - (limits.max_row + 1) * h, x0 + (limits.max_col + 1) * w, y0 - limits.min_row * h];
  }

  /** Extent of the data in the TMS CRS: the finest level's tile limits (the most precise). */
  get bbox(): Bbox {
    return this.levelBbox(this.levels[this.levels.length - 1]);
  }

  /** The extent in longitude/latitude, clamped to the world. */
  get wgs84Bbox(): Bbox {
    const b = transformBbox(this.bbox, this.tms.crs, 'EPSG:4326');
    return [Math.max(-180, b[0]), Math.max(-90, b[1]), Math.min(180, b[2]), Math.min(90, b[3])];
  }
}

/**
 * Opens a layer: reads every pyramid's descriptor, checks that they share TMS and format and that their
 * level ranges are disjoint. Errors are 400s naming the field (`pyramids[i].bottom_level`, …), so a
 * configuration can report them as they are.
 */
export async function openLayer(spec: LayerSpec, storage: Storage, tmsFolders: string[] = [], field = 'pyramids'): Promise<PublishedLayer> {
  if (spec.pyramids.length === 0) throw invalidInput(field, 'a layer needs at least one pyramid');
  let tms: TileMatrixSet | undefined;
  let first: Rok4Reader | undefined;
  const levels: LayerLevel[] = [];
  for (const [i, p] of spec.pyramids.entries()) {
    const at = `${field}[${i}]`;
    let reader: Rok4Reader;
    try {
      // Tiles are read one by one, many times: the layer keeps its slabs open (rok4/slab-handles.ts).
      reader = (await Rok4Reader.open(storage, p.name, p.folder)).keepSlabsOpen(SLABS_KEPT_OPEN);
    } catch (err) {
      throw invalidInput(at, `the descriptor of pyramid '${p.name}' cannot be read: ${(err as Error).message}`);
    }
    const d = reader.descriptor;
    if (!first) {
      first = reader;
      try {
        tms = await loadTms(d.tile_matrix_set, tmsFolders);
      } catch (err) {
        throw invalidInput(at, (err as Error).message);
      }
    } else {
      if (d.tile_matrix_set !== first.descriptor.tile_matrix_set) {
        throw invalidInput(at, `pyramid '${p.name}' uses TMS ${d.tile_matrix_set}, the layer ${first.descriptor.tile_matrix_set}`);
      }
      if (d.format !== first.descriptor.format || d.raster_specifications.channels !== first.descriptor.raster_specifications.channels) {
        throw invalidInput(
          at,
          `pyramid '${p.name}' is ${d.format} with ${d.raster_specifications.channels} channel(s), ` +
            `the layer ${first.descriptor.format} with ${first.descriptor.raster_specifications.channels}`,
        );
      }
    }
    const cell = (id: string, key: string): number => {
      if (!d.levels.some((l) => l.id === id)) throw invalidInput(`${at}.${key}`, `pyramid '${p.name}' has no level '${id}'`);
      return tileMatrix(tms!, id).cellSize;
    };
    const cellSizes = d.levels.map((l) => tileMatrix(tms!, l.id).cellSize);
    const finest = p.bottom_level !== undefined ? cell(p.bottom_level, 'bottom_level') : Math.min(...cellSizes);
    const coarsest = p.top_level !== undefined ? cell(p.top_level, 'top_level') : Math.max(...cellSizes);
    if (finest > coarsest) throw invalidInput(`${at}.bottom_level`, `level ${p.bottom_level} is coarser than top_level ${p.top_level}`);
    for (const l of d.levels) {
      const tm = tileMatrix(tms!, l.id);
      if (tm.cellSize < finest || tm.cellSize > coarsest) continue;
      if (levels.some((other) => other.id === l.id)) {
        throw invalidInput(at, `level ${l.id} is already served by another pyramid of the layer (level ranges must be disjoint)`);
      }
      levels.push({ id: l.id, tm, limits: clampLimits(l.tile_limits, tm), reader });
    }
  }
  if (levels.length === 0) throw invalidInput(field, 'the level ranges select no level');
  const specs = first!.descriptor.raster_specifications;
  const layer = new PublishedLayer(spec, tms!, first!.formatInfo, specs.channels, nodataValues(specs), levels);
  try {
    layer.source = { key: randomUUID(), spec, storage: describeStorage(storage), tmsFolders };
  } catch {
    // A storage workers cannot open: maps of this layer are drawn on the main thread (map-renderer.ts).
  }
  return layer;
}

/** The C++ server clamps tile limits to the matrix (rok4.md §3.4: JOINCACHE's may overshoot it). */
function clampLimits(l: TileLimits, tm: TileMatrix): TileLimits {
  return {
    min_col: Math.max(0, l.min_col),
    max_col: Math.min(tm.matrixWidth - 1, l.max_col),
    min_row: Math.max(0, l.min_row),
    max_row: Math.min(tm.matrixHeight - 1, l.max_row),
  };
}
