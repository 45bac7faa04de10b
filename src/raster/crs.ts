/**
 * CRS registry over proj4: turns the CRS codes met in TMS files, GeoTIFF GeoKeys and user inputs into
 * proj4 definitions, and builds fast coordinate transforms.
 *
 * Axis order: everything here is in "traditional GIS order" (x/easting/longitude first), as the ROK4 TMS
 * files are (rok4.md §2.1, §2.3) — including EPSG:4326, whose official axis order is lat/lon.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import proj4 from 'proj4';

/** A resolved coordinate reference system. Plain data: it can cross worker threads. */
export interface CrsInfo {
  /** Canonical id: `EPSG:<code>`, `IGNF:<name>` or `OGC:CRS84`. */
  id: string;
  /** proj4 definition string. */
  proj4: string;
  /** True for longitude/latitude CRSs (coordinates in degrees). */
  geographic: boolean;
  /** Unit of the coordinates: 'm', 'degree', or the unit name given by the EPSG database. */
  unit: string;
}

/** Error raised for a CRS code we cannot resolve. */
export class UnknownCrsError extends Error {
  readonly code = 'UNKNOWN_CRS';
  constructor(
    readonly crs: string,
    detail?: string,
  ) {
    super(`unknown CRS "${crs}"${detail ? `: ${detail}` : ''}`);
    this.name = 'UnknownCrsError';
  }
}

/**
 * IGNF definitions used by ROK4 TMS files (rok4.md §2.2), from IGN's published registry parameters:
 * LAMB93 is Lambert-93 on RGF93 (GRS80, same projection parameters as EPSG:2154); WGS84G is geographic
 * WGS84; RGF93G geographic RGF93. RGF93 and WGS84 are treated as identical (null Helmert), as PROJ does.
 */
const IGNF_DEFINITIONS: Record<string, { proj4: string; geographic: boolean }> = {
  LAMB93: {
    proj4:
      '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=44 +lat_2=49 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
    geographic: false,
  },
  WGS84G: { proj4: '+proj=longlat +datum=WGS84 +no_defs', geographic: true },
  RGF93G: { proj4: '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs', geographic: true },
};

const CRS84: CrsInfo = { id: 'OGC:CRS84', proj4: '+proj=longlat +datum=WGS84 +no_defs', geographic: true, unit: 'degree' };

const cache = new Map<string, CrsInfo>();

const require = createRequire(import.meta.url);
let epsgDir: string | undefined;
/** Folder holding epsg-index's one-file-per-code definitions (never its 40 MB all.json). */
function epsgIndexDir(): string {
  if (!epsgDir) epsgDir = path.join(path.dirname(require.resolve('epsg-index/package.json')), 's');
  return epsgDir;
}

/**
 * Normalises a CRS code to `AUTHORITY:CODE`. Accepts `EPSG:2154`, `epsg:4326`, `urn:ogc:def:crs:EPSG::2154`,
 * `urn:ogc:def:crs:EPSG:6.6:4326`, `http(s)://www.opengis.net/def/crs/EPSG/0/2154`, `CRS84`, `OGC:CRS84`,
 * `urn:ogc:def:crs:OGC:1.3:CRS84`, `IGNF:LAMB93`. Returns undefined when the text has none of these shapes.
 */
export function normalizeCrsCode(code: string): string | undefined {
  const text = code.trim();
  let authority: string | undefined;
  let value: string | undefined;
  let m: RegExpMatchArray | null;
  if ((m = text.match(/^urn:ogc:def:crs:([A-Za-z]+):[^:]*:([^:]+)$/i))) [authority, value] = [m[1], m[2]];
  else if ((m = text.match(/^https?:\/\/www\.opengis\.net\/def\/crs\/([A-Za-z]+)\/[^/]+\/([^/]+)$/i))) [authority, value] = [m[1], m[2]];
  else if ((m = text.match(/^([A-Za-z]+):([^:]+)$/))) [authority, value] = [m[1], m[2]];
  else if (/^CRS84$/i.test(text)) [authority, value] = ['OGC', 'CRS84'];
  if (!authority || !value) return undefined;
  authority = authority.toUpperCase();
  if (authority === 'EPSG') {
    if (!/^\d+$/.test(value)) return undefined;
    return `EPSG:${Number(value)}`;
  }
  if (authority === 'OGC' && /^CRS84$/i.test(value)) return 'OGC:CRS84';
  if (authority === 'IGNF') return `IGNF:${value.toUpperCase()}`;
  return `${authority}:${value}`;
}

function unitName(unit: string | undefined, geographic: boolean): string {
  if (geographic) return 'degree';
  if (!unit || /^met(er|re)$/i.test(unit)) return 'm';
  return unit;
}

function loadEpsg(id: string, code: string): CrsInfo {
  let record: { proj4?: string; unit?: string };
  try {
    record = JSON.parse(readFileSync(path.join(epsgIndexDir(), `${code}.json`), 'utf8'));
  } catch {
    throw new UnknownCrsError(id, 'not in the EPSG index');
  }
  if (!record.proj4) throw new UnknownCrsError(id, 'no proj4 definition in the EPSG index');
  // "+type=crs" is a PROJ 6 keyword that proj4js does not need.
  const def = record.proj4.replace(/\s*\+type=crs\b/, '').trim();
  const geographic = /\+proj=(longlat|latlong|lonlat|latlon)\b/.test(def);
  if (!/\+proj=/.test(def)) throw new UnknownCrsError(id, 'unusable proj4 definition');
  return { id, proj4: def, geographic, unit: unitName(record.unit, geographic) };
}

/**
 * Resolves a CRS code (see {@link normalizeCrsCode} for the accepted spellings) to its definition.
 * EPSG codes come from the `epsg-index` package, read lazily one file per code and cached.
 * @throws UnknownCrsError naming the code when it is malformed or unknown.
 */
export function resolveCrs(code: string): CrsInfo {
  const cached = cache.get(code);
  if (cached) return cached;
  const id = normalizeCrsCode(code);
  if (!id) throw new UnknownCrsError(code, 'expected AUTHORITY:CODE, an OGC URN or an opengis.net URI');
  let info = cache.get(id);
  if (!info) {
    const [authority, value] = id.split(':');
    if (id === 'OGC:CRS84') info = CRS84;
    else if (authority === 'IGNF') {
      const def = IGNF_DEFINITIONS[value];
      if (!def)
        throw new UnknownCrsError(code, `IGNF:${value} is not among the IGNF CRSs we define (${Object.keys(IGNF_DEFINITIONS).join(', ')})`);
      info = { id, proj4: def.proj4, geographic: def.geographic, unit: def.geographic ? 'degree' : 'm' };
    } else if (authority === 'EPSG') info = loadEpsg(id, value);
    else throw new UnknownCrsError(code, `authority ${authority} is not supported`);
    cache.set(id, info);
  }
  cache.set(code, info);
  return info;
}

/** Meters per CRS unit, as ROK4 and OGC WMTS count them (degree = 2π·6378137/360 m) for scale denominators. */
export function metersPerUnit(crs: CrsInfo): number {
  if (crs.geographic) return (2 * Math.PI * 6378137) / 360;
  const m = crs.proj4.match(/\+to_meter=([\d.eE+-]+)/);
  if (m) return Number(m[1]);
  if (/\+units=(us-ft)\b/.test(crs.proj4)) return 1200 / 3937;
  if (/\+units=(ft)\b/.test(crs.proj4)) return 0.3048;
  return 1;
}

/** True when two CRSs define the same coordinates (same id or same proj4 definition). */
export function sameCrs(a: CrsInfo | string, b: CrsInfo | string): boolean {
  const ca = typeof a === 'string' ? resolveCrs(a) : a;
  const cb = typeof b === 'string' ? resolveCrs(b) : b;
  return ca.id === cb.id || normalizeProj4(ca.proj4) === normalizeProj4(cb.proj4);
}

function normalizeProj4(def: string): string {
  return def
    .split(/\s+/)
    .filter((t) => t && t !== '+no_defs' && t !== '+wktext' && t !== '+type=crs')
    .sort()
    .join(' ');
}

/** In-place transform of coordinate arrays (x/lon first). Points that fail become NaN. */
export type CoordinateTransform = (xs: Float64Array, ys: Float64Array) => void;

const identityTransform: CoordinateTransform = () => {};

/**
 * Builds an in-place transform from one CRS to another. Identity when the CRSs are the same (no proj4
 * call at all). Points proj4 cannot transform become NaN.
 */
export function createTransform(from: CrsInfo | string, to: CrsInfo | string): CoordinateTransform {
  const src = typeof from === 'string' ? resolveCrs(from) : from;
  const dst = typeof to === 'string' ? resolveCrs(to) : to;
  if (sameCrs(src, dst)) return identityTransform;
  const converter = proj4(src.proj4, dst.proj4);
  const point = [0, 0];
  return (xs, ys) => {
    const n = Math.min(xs.length, ys.length);
    for (let i = 0; i < n; i++) {
      point[0] = xs[i];
      point[1] = ys[i];
      let out: number[] | undefined;
      try {
        out = converter.forward(point) as number[];
      } catch {
        out = undefined;
      }
      if (out && Number.isFinite(out[0]) && Number.isFinite(out[1])) {
        xs[i] = out[0];
        ys[i] = out[1];
      } else {
        xs[i] = NaN;
        ys[i] = NaN;
      }
    }
  };
}

/** [xmin, ymin, xmax, ymax], x/lon first. */
export type Bbox = [number, number, number, number];

/**
 * Transforms a bbox by densifying its edges (`densify` points per edge, corners included) and taking the
 * envelope of the transformed points that succeeded, as GDAL's OCTTransformBounds does.
 * @throws Error when no point of the edges can be transformed.
 */
export function transformBbox(bbox: Bbox, from: CrsInfo | string, to: CrsInfo | string, densify = 21): Bbox {
  const transform = createTransform(from, to);
  const [xmin, ymin, xmax, ymax] = bbox;
  const n = Math.max(2, Math.floor(densify));
  const xs = new Float64Array(4 * n);
  const ys = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    const x = xmin + (xmax - xmin) * t;
    const y = ymin + (ymax - ymin) * t;
    xs[i] = x;
    ys[i] = ymin; // bottom edge
    xs[n + i] = x;
    ys[n + i] = ymax; // top edge
    xs[2 * n + i] = xmin;
    ys[2 * n + i] = y; // left edge
    xs[3 * n + i] = xmax;
    ys[3 * n + i] = y; // right edge
  }
  transform(xs, ys);
  const out: Bbox = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]) || Number.isNaN(ys[i])) continue;
    if (xs[i] < out[0]) out[0] = xs[i];
    if (ys[i] < out[1]) out[1] = ys[i];
    if (xs[i] > out[2]) out[2] = xs[i];
    if (ys[i] > out[3]) out[3] = ys[i];
  }
  if (!(out[0] <= out[2] && out[1] <= out[3])) {
    const fromId = typeof from === 'string' ? from : from.id;
    const toId = typeof to === 'string' ? to : to.id;
    throw new Error(`cannot transform bbox [${bbox.join(', ')}] from ${fromId} to ${toId}`);
  }
  return out;
}
