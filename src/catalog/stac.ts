/**
 * Catalog items as STAC 1.1 Items and catalogs as STAC Collections (cog.md §6), which are also OGC API –
 * Features features and collections (STAC API – Features is a profile of OGC API – Features Part 1):
 * geometry = the footprint in CRS84, `proj:` fields of the projection extension v2.0.0 (`proj:code`,
 * `proj:shape` [rows, columns], `proj:transform` = the geotransform reordered), asset `data` = the COG
 * with its media type, asset `thumbnail` = a PNG preview. Pure functions of the records and the base URL.
 */
import type { StoredData } from '../records/stored-data.js';
import type { CatalogItem } from './catalog-item.js';

export const STAC_VERSION = '1.1.0';
export const PROJECTION_EXTENSION = 'https://stac-extensions.github.io/projection/v2.0.0/schema.json';
export const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
export const GEOJSON = 'application/geo+json';

/** The attribute model of a catalog (`type_infos.attributesConfiguration`, cog.md §1.2). */
export interface CatalogAttributes {
  titleAttribute?: string;
  attributes: Array<{ attributeName: string; subType?: string; alias?: string }>;
}

export function attributesOf(catalog: StoredData): CatalogAttributes {
  const c = catalog.type_infos.attributesConfiguration as CatalogAttributes | undefined;
  return { titleAttribute: c?.titleAttribute, attributes: Array.isArray(c?.attributes) ? c.attributes : [] };
}

/** Where a catalog's resources live under the API. */
export function collectionUrl(base: string, catalog: Pick<StoredData, 'name'>): string {
  return `${base}/collections/${encodeURIComponent(catalog.name)}`;
}

export function itemUrl(base: string, catalog: Pick<StoredData, 'name'>, id: string): string {
  return `${collectionUrl(base, catalog)}/items/${encodeURIComponent(id)}`;
}

/** A STAC Item / GeoJSON Feature of one catalog item. */
export function stacItem(base: string, catalog: StoredData, item: CatalogItem): Record<string, unknown> {
  const self = itemUrl(base, catalog, item.id);
  const { titleAttribute } = attributesOf(catalog);
  const titleValue = titleAttribute ? item.attributes[titleAttribute] : undefined;
  const title = typeof titleValue === 'string' && titleValue ? titleValue : item.source;
  return {
    type: 'Feature',
    stac_version: STAC_VERSION,
    stac_extensions: [PROJECTION_EXTENSION],
    id: item.id,
    collection: catalog.name,
    geometry: item.geometry,
    bbox: item.bbox,
    properties: {
      ...item.attributes,
      title,
      datetime: item.datetime,
      created: item.created,
      'proj:code': item.epsg !== null ? `EPSG:${item.epsg}` : null,
      'proj:shape': item.shape,
      'proj:transform': item.transform,
    },
    assets: {
      data: {
        href: `${self}/data`,
        type: item.mediaType,
        title: item.cog ? `Cloud Optimized GeoTIFF of ${item.source}` : `${item.source} as delivered`,
        roles: ['data'],
      },
      thumbnail: { href: `${self}/thumbnail`, type: 'image/png', title: 'preview', roles: ['thumbnail'] },
    },
    links: [
      { rel: 'self', type: GEOJSON, href: self },
      { rel: 'alternate', type: 'text/html', href: `${self}?f=html`, title: 'this item as HTML' },
      { rel: 'collection', type: 'application/json', href: collectionUrl(base, catalog), title: catalog.name },
      { rel: 'parent', type: 'application/json', href: collectionUrl(base, catalog) },
      { rel: 'root', type: 'application/json', href: `${base}/` },
      { rel: 'enclosure', type: item.mediaType, href: `${self}/data`, title: 'the file' },
    ],
  };
}

/**
 * A STAC Collection / OGC API – Features collection of a catalog. `extent` from its items (the whole
 * world and an open interval while it has none).
 */
export function stacCollection(
  base: string,
  catalog: StoredData,
  extent: { bbox: [number, number, number, number]; interval: [string, string] } | undefined,
): Record<string, unknown> {
  const href = collectionUrl(base, catalog);
  const count = catalog.type_infos.itemCount;
  return {
    type: 'Collection',
    stac_version: STAC_VERSION,
    stac_extensions: [],
    id: catalog.name,
    title: catalog.name,
    description: `Raster catalog '${catalog.name}': ${typeof count === 'number' ? `${count} ` : ''}rasters as Cloud Optimized GeoTIFFs with their footprints and attributes.`,
    keywords: ['raster catalog', 'COG', 'STAC'],
    license: 'other',
    itemType: 'feature',
    crs: [CRS84],
    extent: {
      spatial: { bbox: [extent?.bbox ?? [-180, -90, 180, 90]], crs: CRS84 },
      temporal: { interval: [extent ? extent.interval : [null, null]], trs: 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian' },
    },
    links: [
      { rel: 'self', type: 'application/json', href },
      { rel: 'alternate', type: 'text/html', href: `${href}?f=html`, title: 'this collection as HTML' },
      { rel: 'items', type: GEOJSON, href: `${href}/items`, title: 'the items (STAC Items, GeoJSON)' },
      { rel: 'root', type: 'application/json', href: `${base}/` },
      { rel: 'describedby', type: 'application/json', href: `${base}/stored_data/${catalog._id}`, title: 'the stored data' },
    ],
  };
}
