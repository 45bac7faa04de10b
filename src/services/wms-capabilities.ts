/**
 * WMS 1.3.0 capabilities (OGC 06-042 §7.2.4, Annex E): one queryable Layer per published layer under a
 * root Layer, each with its CRS list, EX_GeographicBoundingBox and a BoundingBox per CRS written in that
 * CRS's axis order (latitude first for EPSG:4326, §6.7.3).
 */
import { transformBbox, type Bbox } from '../raster/crs.js';
import { INFO_FORMATS } from './feature-info.js';
import type { PublishedLayer } from './layer.js';
import { ogcCrs } from './ogc-crs.js';
import { xmlEscape as x } from './service-http.js';

/** CRSs every layer is offered in (issue 10), besides its pyramid's own. */
export const WMS_CRS_BASE = ['EPSG:3857', 'EPSG:4326', 'CRS:84', 'EPSG:2154'] as const;

const num = (v: number) => String(Number(v.toPrecision(12)));

/** The layer's extent: the union of its bottom level's tile limits, in the TMS CRS. */
function layerBbox(layer: PublishedLayer): Bbox {
  return layer.levelBbox(layer.levels[layer.levels.length - 1]);
}

function crsList(layer: PublishedLayer): string[] {
  return [...new Set([...WMS_CRS_BASE, ogcCrs(layer.tms.crs).code])];
}

function boundingBoxes(layer: PublishedLayer): string {
  const own = layerBbox(layer);
  return crsList(layer)
    .map((code) => {
      const to = code === 'CRS:84' ? 'OGC:CRS84' : code;
      let b: Bbox;
      try {
        b = transformBbox(own, layer.tms.crs, to);
      } catch {
        return '';
      }
      if (!b.every(Number.isFinite)) return '';
      const latFirst = code !== 'CRS:84' && ogcCrs(to).latFirst;
      const [minx, miny, maxx, maxy] = latFirst ? [b[1], b[0], b[3], b[2]] : b;
      return `        <BoundingBox CRS="${code}" minx="${num(minx)}" miny="${num(miny)}" maxx="${num(maxx)}" maxy="${num(maxy)}"/>\n`;
    })
    .join('');
}

function geographicBox(layer: PublishedLayer): Bbox {
  return transformBbox(layerBbox(layer), layer.tms.crs, 'EPSG:4326');
}

function layerElement(layer: PublishedLayer): string {
  const g = geographicBox(layer);
  const keywords = layer.spec.keywords?.length
    ? `        <KeywordList>${layer.spec.keywords.map((k) => `<Keyword>${x(k)}</Keyword>`).join('')}</KeywordList>\n`
    : '';
  return (
    '      <Layer queryable="1" opaque="0">\n' +
    `        <Name>${x(layer.name)}</Name>\n` +
    `        <Title>${x(layer.spec.title)}</Title>\n` +
    (layer.spec.abstract ? `        <Abstract>${x(layer.spec.abstract)}</Abstract>\n` : '') +
    keywords +
    crsList(layer)
      .map((c) => `        <CRS>${c}</CRS>\n`)
      .join('') +
    '        <EX_GeographicBoundingBox>' +
    `<westBoundLongitude>${num(g[0])}</westBoundLongitude><eastBoundLongitude>${num(g[2])}</eastBoundLongitude>` +
    `<southBoundLatitude>${num(g[1])}</southBoundLatitude><northBoundLatitude>${num(g[3])}</northBoundLatitude>` +
    '</EX_GeographicBoundingBox>\n' +
    boundingBoxes(layer) +
    '        <Style><Name>normal</Name><Title>normal</Title></Style>\n' +
    '      </Layer>\n'
  );
}

export function wmsCapabilities(baseUrl: string, layers: readonly PublishedLayer[], maxSize: number): string {
  const online = `<OnlineResource xlink:type="simple" xlink:href="${x(`${baseUrl}/wms?`)}"/>`;
  const dcp = `<DCPType><HTTP><Get>${online}</Get></HTTP></DCPType>`;
  const all = layers.map(geographicBox);
  const world: Bbox = all.length
    ? [
        Math.min(...all.map((b) => b[0])),
        Math.min(...all.map((b) => b[1])),
        Math.max(...all.map((b) => b[2])),
        Math.max(...all.map((b) => b[3])),
      ]
    : [-180, -90, 180, 90];
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms" xmlns:xlink="http://www.w3.org/1999/xlink" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
    'xsi:schemaLocation="http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd">\n' +
    '  <Service>\n    <Name>WMS</Name>\n    <Title>dallage</Title>\n' +
    '    <Abstract>The published pyramids of this server, drawn on request.</Abstract>\n' +
    `    ${online}\n    <MaxWidth>${maxSize}</MaxWidth>\n    <MaxHeight>${maxSize}</MaxHeight>\n  </Service>\n` +
    '  <Capability>\n    <Request>\n' +
    `      <GetCapabilities><Format>text/xml</Format>${dcp}</GetCapabilities>\n` +
    `      <GetMap><Format>image/png</Format><Format>image/jpeg</Format>${dcp}</GetMap>\n` +
    `      <GetFeatureInfo>${INFO_FORMATS.map((f) => `<Format>${f.mime}</Format>`).join('')}${dcp}</GetFeatureInfo>\n` +
    '    </Request>\n    <Exception><Format>XML</Format></Exception>\n' +
    '    <Layer>\n      <Title>dallage published layers</Title>\n' +
    WMS_CRS_BASE.map((c) => `      <CRS>${c}</CRS>\n`).join('') +
    '      <EX_GeographicBoundingBox>' +
    `<westBoundLongitude>${num(world[0])}</westBoundLongitude><eastBoundLongitude>${num(world[2])}</eastBoundLongitude>` +
    `<southBoundLatitude>${num(world[1])}</southBoundLatitude><northBoundLatitude>${num(world[3])}</northBoundLatitude>` +
    '</EX_GeographicBoundingBox>\n' +
    layers.map(layerElement).join('') +
    '    </Layer>\n  </Capability>\n</WMS_Capabilities>\n'
  );
}
