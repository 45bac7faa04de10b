import { transformBbox, type Bbox } from '../raster/crs.js';
import type { TileMatrixSet } from '../raster/tms.js';
import { tileMatrix } from '../raster/tms.js';
import type { PyramidDescriptor } from '../rok4/descriptor.js';

export const PYRAMID_TYPE = 'ROK4-PYRAMID-RASTER';

/**
 * The type-specific part of a pyramid's stored data record (what the Entrepôt shows of a
 * ROK4-PYRAMID-RASTER): tms, format, levels with tile limits, bbox in the TMS CRS (from `bbox`, or the
 * bottom level's tile limits) and in WGS84.
 */
export function pyramidTypeInfos(
  descriptor: PyramidDescriptor,
  tms: TileMatrixSet,
  extra: Record<string, unknown> = {},
  bbox?: Bbox,
): Record<string, unknown> {
  const specs = descriptor.raster_specifications;
  let box = bbox;
  if (!box) {
    const bottom = descriptor.levels[descriptor.levels.length - 1];
    const tm = tileMatrix(tms, bottom.id);
    const l = bottom.tile_limits;
    const span = tm.cellSize * tm.tileWidth;
    const spanY = tm.cellSize * tm.tileHeight;
    box = [
      tm.pointOfOrigin[0] + l.min_col * span,
      tm.pointOfOrigin[1] - (l.max_row + 1) * spanY,
      tm.pointOfOrigin[0] + (l.max_col + 1) * span,
      tm.pointOfOrigin[1] - l.min_row * spanY,
    ];
  }
  let wgs84: Bbox | undefined;
  try {
    wgs84 = transformBbox(box, tms.crs, 'EPSG:4326');
  } catch {
    wgs84 = undefined;
  }
  return {
    tms: tms.id,
    format: descriptor.format,
    channels: specs?.channels,
    nodata: specs?.nodata.split(',').map(Number),
    mask: !!descriptor.mask_format,
    interpolation: specs?.interpolation,
    levels: descriptor.levels.map((l) => ({ id: l.id, tile_limits: l.tile_limits })),
    bbox: box,
    bbox_crs: tms.crs,
    ...(wgs84 ? { bbox_wgs84: wgs84 } : {}),
    ...extra,
  };
}
