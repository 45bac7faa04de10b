/**
 * One raster of a catalog (issue 12, cog.md §1.4): its COG (or the file as delivered), footprint and
 * attribute values — what the item store keeps and what is served as a STAC Item (cog.md §6).
 */
import type { FootprintGeometry } from '../cog/footprint.js';

export interface CatalogItem {
  id: string;
  /** File name of the source, for messages and titles. */
  source: string;
  /** Storage key of the file: `catalogs/<name>/<jobId>/<id>.tif`. */
  key: string;
  href: string;
  mediaType: string;
  cog: boolean;
  bytes: number;
  /** Footprint in CRS84, or the bbox polygon with `polygonize: false`. */
  geometry: FootprintGeometry;
  /** [west, south, east, north] in CRS84. */
  bbox: [number, number, number, number];
  epsg: number | null;
  /** [rows, columns] (STAC proj:shape order). */
  shape: [number, number];
  /** STAC proj:transform: the GDAL geotransform reordered [g1, g2, g0, g4, g5, g3]. */
  transform: number[];
  tiles: number;
  attributes: Record<string, unknown>;
  /**
   * The item's date (STAC `datetime`, ISO 8601 UTC): the value of the catalog's first DateTime/Date
   * attribute when the item has one, else when it was added. What `datetime=` filters on.
   */
  datetime: string;
  created: string;
}

/** Media type of a Cloud Optimized GeoTIFF (OGC 21-026, cog.md §6). */
export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';
