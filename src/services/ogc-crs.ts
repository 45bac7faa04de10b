/**
 * How a TMS CRS is named in OGC documents (WMTS SupportedCRS, TMS SRS, OGC API crs) and in which axis
 * order its coordinates are written there. Our TMS keep x/lon first (rok4.md §2.1); OGC documents follow
 * the CRS's own axis order (WMTS 1.0 §6.1, "TopLeftCorner … in the CRS axis order"), which is
 * latitude first for EPSG geographic CRSs.
 */
import { normalizeCrsCode, resolveCrs } from '../raster/crs.js';

export interface OgcCrs {
  /** `EPSG:3857`-style code after mapping IGNF names to their EPSG equivalents. */
  code: string;
  /** `urn:ogc:def:crs:EPSG::3857` */
  urn: string;
  /** `http://www.opengis.net/def/crs/EPSG/0/3857` */
  uri: string;
  /** True when OGC documents write latitude (northing) first. */
  latFirst: boolean;
}

/**
 * IGNF codes used by ROK4 TMS that have an EPSG twin with the same definition (rok4.md §2.2: LAMB93 is
 * Lambert-93 on RGF93, i.e. EPSG:2154), so that clients without IGNF's registry (GDAL, QGIS, OWSLib)
 * understand the grids.
 */
const IGNF_TO_EPSG: Record<string, string> = { 'IGNF:LAMB93': 'EPSG:2154', 'IGNF:WGS84G': 'EPSG:4326', 'IGNF:RGF93G': 'EPSG:4171' };

export function ogcCrs(crs: string): OgcCrs {
  const normalized = normalizeCrsCode(crs) ?? crs;
  const code = IGNF_TO_EPSG[normalized] ?? normalized;
  const [authority, value] = code.split(':');
  if (code === 'OGC:CRS84') {
    return { code, urn: 'urn:ogc:def:crs:OGC:1.3:CRS84', uri: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84', latFirst: false };
  }
  const geographic = resolveCrs(code).geographic;
  return {
    code,
    urn: `urn:ogc:def:crs:${authority}::${value}`,
    uri: `http://www.opengis.net/def/crs/${authority}/0/${value}`,
    latFirst: authority === 'EPSG' && geographic,
  };
}

/** "x y" or "y x" as the CRS orders its axes. */
export function ogcPoint(crs: OgcCrs, x: number, y: number): string {
  return crs.latFirst ? `${num(y)} ${num(x)}` : `${num(x)} ${num(y)}`;
}

/** Shortest text that reads back as the same double. */
export function num(v: number): string {
  return String(v);
}
