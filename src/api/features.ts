/**
 * OGC API – Features Part 1 (OGC 17-069r4) over raster catalogs (issue 12): `/collections` lists the
 * catalogs beside the published tile layers (one collection when a layer has a catalog's name),
 * `/collections/{id}/items` answers GeoJSON FeatureCollections of STAC Items with `bbox`, `datetime`,
 * `limit`/`offset` paging (next/prev links) and attribute filters (`?name=value`, the catalog's
 * attributes as queryables, §7.15.5), `/items/{featureId}` one item; JSON and HTML. The item's files:
 * `/items/{featureId}/data` (range requests, byte-ranges.ts) and `/items/{featureId}/thumbnail` (PNG).
 */
import { Readable } from 'node:stream';
import sharp, { type Sharp } from 'sharp';
import { CATALOG_TYPE } from '../catalog/catalog.js';
import type { CatalogItem } from '../catalog/catalog-item.js';
import type { AttributeValue, ItemQuery } from '../catalog/item-store.js';
import { attributesOf, collectionUrl, GEOJSON, stacCollection, stacItem } from '../catalog/stac.js';
import { ApiError } from '../errors.js';
import { describeStoredRaster, levelSize, openRasterWindows } from '../raster/geotiff-source.js';
import type { StoredData } from '../records/stored-data.js';
import type { Runtime } from '../runtime.js';
import { storageOfRecord } from '../storage/of-record.js';
import { objectChunks, type Storage } from '../storage/storage.js';
import { tileCollectionDoc } from '../services/ogc-tiles.js';
import { decideRange, notModifiedSince } from './byte-ranges.js';
import { respond } from './landing.js';
import { namedOf } from './named-storages.js';
import { linkTo, negotiate, parseLimit, parseOffset, selfLinks, single, type ApiRequest, type ApiResponse } from './request.js';

type Handler = (req: ApiRequest, rt: Runtime) => Promise<ApiResponse>;

/** Collections and items change as layers are published and jobs add items: clients ask again every time. */
const NO_CACHE = { 'Cache-Control': 'no-cache' };

/** Query parameters of the items request besides the catalog's attributes (§7.15). */
const ITEMS_PARAMETERS = new Set(['limit', 'offset', 'bbox', 'bbox-crs', 'datetime', 'f']);

/**
 * READY catalogs, their items brought up to date first: with workers on other machines (issue 14), what
 * they added is in the shared log until this machine applies it.
 */
async function catalogs(rt: Runtime): Promise<StoredData[]> {
  await rt.catalogItems.sync();
  return rt.datastore.list({ type: CATALOG_TYPE, status: 'READY' });
}

/** The READY catalog `name`, its items brought up to date first (see {@link catalogs}). */
async function catalogNamed(rt: Runtime, name: string): Promise<StoredData | undefined> {
  await rt.catalogItems.sync();
  const c = await rt.datastore.findByName(name, CATALOG_TYPE);
  return c?.status === 'READY' ? c : undefined;
}

async function requireCatalog(rt: Runtime, name: string): Promise<StoredData> {
  const c = await catalogNamed(rt, name);
  if (!c) throw new ApiError('not-found', `no raster catalog '${name}' (its items are served once it is READY)`);
  return c;
}

/** A catalog's collection, with the tile links of the published layer of the same name when there is one. */
function collectionDoc(req: ApiRequest, rt: Runtime, catalog: StoredData | undefined, layerName: string): Record<string, unknown> {
  const layer = rt.layers.get(layerName);
  const tiles = layer ? tileCollectionDoc(req.baseUrl, layer) : undefined;
  if (!catalog) return tiles!;
  const doc = stacCollection(req.baseUrl, catalog, rt.catalogItems.extent(catalog._id));
  if (!tiles) return doc;
  const tileLinks = (tiles.links as Array<{ rel: string }>).filter((l) => l.rel !== 'self');
  return { ...doc, dataType: tiles.dataType, links: [...(doc.links as unknown[]), ...tileLinks] };
}

/** GET /collections: the published layers (OGC API – Tiles) and the raster catalogs (Features). */
export const listCollections: Handler = async (req, rt) => {
  const format = negotiate(req);
  const byName = new Map<string, StoredData | undefined>();
  for (const l of rt.layers.list()) byName.set(l.name, undefined);
  for (const c of await catalogs(rt)) byName.set(c.name, c);
  return respond(
    req,
    format,
    'collections',
    {
      collections: [...byName].map(([name, catalog]) => collectionDoc(req, rt, catalog, name)),
      links: selfLinks(req, '/collections', format, 'collections'),
    },
    200,
    NO_CACHE,
  );
};

/** GET /collections/{collectionId} */
export const getCollection: Handler = async (req, rt) => {
  const format = negotiate(req);
  const name = req.params.collectionId;
  const catalog = await catalogNamed(rt, name);
  if (!catalog && !rt.layers.get(name)) throw new ApiError('not-found', `no collection '${name}'`);
  const doc = collectionDoc(req, rt, catalog, name);
  if (format === 'html' && catalog) {
    // The catalog page: the attribute table of its first items beside the map of their footprints.
    const page = rt.catalogItems.query(catalog._id, { limit: 100, offset: 0 });
    doc.items = page.items.map((it) => stacItem(req.baseUrl, catalog, it));
    doc.numberMatched = page.numberMatched;
    doc.attributes = attributesOf(catalog).attributes;
  }
  return respond(req, format, 'collection', doc, 200, NO_CACHE);
};

function badParameter(parameter: string, detail: string): ApiError {
  return new ApiError('invalid-parameter', detail, { parameter });
}

/** `bbox` in CRS84: 4 numbers (or 6, heights ignored), lon in [-180, 180], lat south ≤ north (§7.15.3). */
function parseBbox(text: string | undefined): ItemQuery['bbox'] {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => Number(s.trim()));
  if ((parts.length !== 4 && parts.length !== 6) || parts.some((n) => !Number.isFinite(n)))
    throw badParameter('bbox', `bbox must be 4 (or 6) comma-separated numbers: west,south,east,north, got '${text}'`);
  const [w, s, e, n] = parts.length === 4 ? parts : [parts[0], parts[1], parts[3], parts[4]];
  if (s > n) throw badParameter('bbox', `bbox: south (${s}) is north of north (${n})`);
  if ([w, e].some((x) => x < -180 || x > 180) || [s, n].some((y) => y < -90 || y > 90))
    throw badParameter('bbox', 'bbox is in CRS84: longitudes in [-180, 180], latitudes in [-90, 90]');
  return [w, s, e, n];
}

/** `datetime`: an RFC 3339 instant or an interval `start/end` with `..` or nothing for an open end (§7.15.4). */
function parseDatetime(text: string | undefined): ItemQuery['datetime'] {
  if (text === undefined) return undefined;
  const instant = (s: string): string | undefined => {
    if (s === '' || s === '..') return undefined;
    if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(s) || Number.isNaN(Date.parse(s)))
      throw badParameter('datetime', `datetime: '${s}' is not an RFC 3339 date-time (2023-12-08T12:00:00Z), a date, '..' or empty`);
    return new Date(s).toISOString();
  };
  const parts = text.split('/');
  if (parts.length > 2) throw badParameter('datetime', `datetime is an instant or one interval start/end, got '${text}'`);
  if (parts.length === 1) {
    if (parts[0] === '' || parts[0] === '..') throw badParameter('datetime', 'datetime: an instant cannot be open');
    const t = instant(parts[0])!;
    // A date alone is the whole day.
    const end = /^\d{4}-\d{2}-\d{2}$/.test(parts[0]) ? new Date(Date.parse(t) + 86_399_999).toISOString() : t;
    return { start: t, end };
  }
  const start = instant(parts[0]);
  let end = instant(parts[1]);
  if (end && /^\d{4}-\d{2}-\d{2}$/.test(parts[1])) end = new Date(Date.parse(end) + 86_399_999).toISOString();
  if (start && end && start > end)
    throw badParameter('datetime', `datetime: the interval ends (${parts[1]}) before it starts (${parts[0]})`);
  return { start, end };
}

/**
 * The attribute filters of a request: every query parameter that is an attribute of the catalog, its
 * text converted to the attribute's type; any other unknown parameter is a 400 (§7.15.5,
 * /req/core/query-param-unknown).
 */
function parseAttributeFilters(req: ApiRequest, catalog: StoredData): Record<string, AttributeValue> {
  const attributes = new Map(attributesOf(catalog).attributes.map((a) => [a.attributeName, (a.subType ?? 'string').toLowerCase()]));
  const out: Record<string, AttributeValue> = {};
  for (const name of Object.keys(req.query)) {
    if (ITEMS_PARAMETERS.has(name)) continue;
    const type = attributes.get(name);
    if (type === undefined) {
      const known = [...attributes.keys()].join(', ') || 'none';
      throw badParameter(
        name,
        `unknown query parameter '${name}': the items of '${catalog.name}' are filtered by ${[...ITEMS_PARAMETERS].join(', ')} and their attributes (${known})`,
      );
    }
    const text = single(req.query[name]) ?? '';
    if (['int32', 'int64', 'integer', 'double', 'float', 'number'].includes(type)) {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw badParameter(name, `attribute '${name}' is a number, got '${text}'`);
      out[name] = n;
    } else if (type === 'boolean') {
      if (text !== 'true' && text !== 'false') throw badParameter(name, `attribute '${name}' is true or false, got '${text}'`);
      out[name] = text === 'true';
    } else out[name] = text;
  }
  return out;
}

/** GET /collections/{collectionId}/items */
export const listItems: Handler = async (req, rt) => {
  const format = negotiate(req);
  const catalog = await requireCatalog(rt, req.params.collectionId);
  const crs = single(req.query['bbox-crs']);
  if (crs !== undefined && crs !== 'http://www.opengis.net/def/crs/OGC/1.3/CRS84')
    throw badParameter('bbox-crs', `bbox-crs: only ${'http://www.opengis.net/def/crs/OGC/1.3/CRS84'} is supported`);
  const limit = parseLimit(req, 10, 10_000);
  const offset = parseOffset(req);
  const query: ItemQuery = {
    bbox: parseBbox(single(req.query.bbox)),
    datetime: parseDatetime(single(req.query.datetime)),
    attributes: parseAttributeFilters(req, catalog),
    limit,
    offset,
  };
  const page = rt.catalogItems.query(catalog._id, query);
  const path = `/collections/${encodeURIComponent(catalog.name)}/items`;
  const links: Array<Record<string, string>> = [
    { ...selfLinks(req, path, format, 'items')[0], type: format === 'json' ? GEOJSON : 'text/html' },
    { ...selfLinks(req, path, format, 'items')[1], type: format === 'json' ? 'text/html' : GEOJSON },
    { rel: 'collection', type: 'application/json', href: collectionUrl(req.baseUrl, catalog), title: catalog.name },
  ];
  if (offset + page.items.length < page.numberMatched)
    links.push({
      rel: 'next',
      type: GEOJSON,
      href: linkTo(req, path, { offset: offset + limit, limit, f: undefined }),
      title: 'next page',
    });
  if (offset > 0)
    links.push({
      rel: 'prev',
      type: GEOJSON,
      href: linkTo(req, path, { offset: Math.max(0, offset - limit), limit, f: undefined }),
      title: 'previous page',
    });
  const doc = {
    type: 'FeatureCollection',
    features: page.items.map((it) => stacItem(req.baseUrl, catalog, it)),
    links,
    timeStamp: new Date().toISOString(),
    numberMatched: page.numberMatched,
    numberReturned: page.items.length,
    ...(format === 'html' ? { catalog: catalog.name, attributes: attributesOf(catalog).attributes } : {}),
  };
  return respond(req, format, 'items', doc, 200, format === 'json' ? { ...NO_CACHE, 'Content-Type': GEOJSON } : NO_CACHE);
};

async function requireItem(rt: Runtime, req: ApiRequest): Promise<{ catalog: StoredData; item: CatalogItem }> {
  const catalog = await requireCatalog(rt, req.params.collectionId);
  const item = rt.catalogItems.get(catalog._id, req.params.featureId);
  if (!item) throw new ApiError('not-found', `no item '${req.params.featureId}' in collection '${catalog.name}'`);
  return { catalog, item };
}

/** GET /collections/{collectionId}/items/{featureId} */
export const getItem: Handler = async (req, rt) => {
  const format = negotiate(req);
  const { catalog, item } = await requireItem(rt, req);
  return respond(req, format, 'item', stacItem(req.baseUrl, catalog, item), 200, format === 'json' ? { 'Content-Type': GEOJSON } : {});
};

/** Bytes read per chunk when streaming a file (a whole COG is never held in memory). */
const CHUNK = 1 << 20;

function streamRange(storage: Storage, key: string, start: number, end: number): Readable {
  return Readable.from(objectChunks(storage, key, CHUNK, { start, end }));
}

/**
 * GET /collections/{collectionId}/items/{featureId}/data: the item's file (the COG), with range requests
 * (RFC 9110 §14: Accept-Ranges, 206 + Content-Range, 416, If-Range) and a strong ETag — files never
 * change once written (their keys are new for every job), so the tag is the item's id and size.
 */
export const getItemData: Handler = async (req, rt) => {
  const { catalog, item } = await requireItem(rt, req);
  // The catalog's files are on the storage its record names (issue 13).
  const storage = storageOfRecord(catalog, namedOf(rt));
  const size = await storage.size(item.key);
  if (size === undefined) throw new ApiError('not-found', `the file of item '${item.id}' is missing from the storage`);
  const etag = `"${item.id}-${size}"`;
  const lastModified = new Date(item.created).toUTCString();
  const headers: Record<string, string> = {
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': lastModified,
    'Cache-Control': 'public, max-age=3600',
    'Access-Control-Expose-Headers': 'Accept-Ranges, Content-Range, Content-Length, ETag, Last-Modified',
  };
  if (notModifiedSince(req.headers['if-none-match'], etag)) return { status: 304, headers };
  const decision = decideRange({ range: req.headers.range, 'if-range': req.headers['if-range'] }, size, { etag, lastModified });
  if (decision.kind === 'unsatisfiable') {
    const problem = new ApiError('range-not-satisfiable', `the file has ${size} bytes: the range asked for starts after its end`);
    return {
      status: 416,
      headers: { ...headers, 'Content-Type': 'application/problem+json', 'Content-Range': `bytes */${size}` },
      body: problem.toProblem(req.path),
    };
  }
  const type = item.mediaType;
  if (decision.kind === 'partial') {
    const { start, end } = decision;
    return {
      status: 206,
      headers: {
        ...headers,
        'Content-Type': type,
        'Content-Range': `bytes ${start}-${end}/${size}`,
        'Content-Length': String(end - start + 1),
      },
      body: req.method === 'HEAD' ? undefined : streamRange(storage, item.key, start, end),
    };
  }
  return {
    status: 200,
    headers: { ...headers, 'Content-Type': type, 'Content-Length': String(size) },
    body: req.method === 'HEAD' || size === 0 ? undefined : streamRange(storage, item.key, 0, size - 1),
  };
};

/** Thumbnails made lately (small PNGs), by item id. */
const thumbnails = new Map<string, Buffer>();
const THUMBNAILS_KEPT = 64;
const THUMBNAIL_SIDE = 256;

/**
 * The preview of an item's file: its smallest image (a COG's last overview; masks, 1-bit, are skipped),
 * at most 256 px a side, as PNG.
 */
async function thumbnailOf(storage: Storage, item: CatalogItem): Promise<Buffer> {
  const kept = thumbnails.get(item.id);
  if (kept) return kept;
  const png = await (storage.type === 'FILE'
    ? await smallestPageOf(`${storage.root}/${item.key}`)
    : await smallestStoredLevelOf(storage, item.key)
  )
    .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer();
  thumbnails.set(item.id, png);
  if (thumbnails.size > THUMBNAILS_KEPT) thumbnails.delete(thumbnails.keys().next().value!);
  return png;
}

/** The smallest image of a local file (libvips reads its pages; 1-bit masks skipped). */
async function smallestPageOf(file: string): Promise<Sharp> {
  const pages = (await sharp(file).metadata()).pages ?? 1;
  let best = { page: 0, width: Number.POSITIVE_INFINITY };
  for (let page = 0; page < pages; page++) {
    const m = await sharp(file, { page }).metadata();
    if (m.bitsPerSample === 1 || !m.width) continue;
    if (m.width < best.width) best = { page, width: m.width };
  }
  return sharp(file, { page: best.page, limitInputPixels: false });
}

/**
 * The smallest level of an 8-bit object of a Storage (S3), read by ranges (issue 13): only that level's
 * tiles are fetched, never the whole COG.
 */
async function smallestStoredLevelOf(storage: Storage, key: string): Promise<Sharp> {
  const info = await describeStoredRaster(storage, key);
  if (info.sampleType !== 'uint8') throw new Error(`${info.path}: previews are made of 8-bit images`);
  const overview = info.overviews.length ? info.overviews.length - 1 : undefined;
  const { width, height } = levelSize(info, overview);
  // Closed once read: the reader of the COG is shared in this thread, and only its last user closes it (a
  // catalog layer reading the same COG keeps it open).
  const reader = openRasterWindows(info);
  let w: Awaited<ReturnType<typeof reader.read>>;
  try {
    w = await reader.read({ x: 0, y: 0, width, height, ...(overview !== undefined ? { overview } : {}) });
  } finally {
    await reader.close();
  }
  return sharp(w.data as Uint8Array, { raw: { width, height, channels: w.channels as 1 | 2 | 3 | 4 } });
}

/** GET /collections/{collectionId}/items/{featureId}/thumbnail */
export const getItemThumbnail: Handler = async (req, rt) => {
  const { catalog, item } = await requireItem(rt, req);
  let png: Buffer;
  try {
    png = await thumbnailOf(storageOfRecord(catalog, namedOf(rt)), item);
  } catch {
    throw new ApiError('not-found', `item '${item.id}' has no preview: its file cannot be decoded here`);
  }
  return { status: 200, headers: { 'Content-Type': 'image/png', 'Cache-Control': 'public, max-age=3600' }, body: png };
};
