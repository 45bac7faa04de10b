/** Catalog items for the item store tests: a box footprint, one COG, the given attributes and datetime. */
import type { CatalogItem } from '../../src/catalog/catalog-item.js';

export function item(
  id: string,
  bbox: [number, number, number, number],
  attributes: Record<string, unknown> = {},
  datetime = '2024-01-01T00:00:00.000Z',
): CatalogItem {
  const [w, s, e, n] = bbox;
  return {
    id,
    source: `${id}.tif`,
    key: `catalogs/c/job/${id}.tif`,
    href: `file:///x/${id}.tif`,
    mediaType: 'image/tiff',
    cog: true,
    bytes: 100,
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    },
    bbox,
    epsg: 2154,
    shape: [10, 10],
    transform: [1, 0, 0, 0, -1, 0],
    tiles: 1,
    attributes,
    datetime,
    created: datetime,
  };
}
