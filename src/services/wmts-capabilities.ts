/**
 * The WMTS 1.0.0 capabilities document (OGC 07-057r7 §7.1): one Layer per published layer, with its
 * WGS84BoundingBox, formats, a TileMatrixSetLink whose TileMatrixSetLimits come from the tile limits of
 * each level, and the RESTful ResourceURL templates; one TileMatrixSet per TMS in use (PM also declares
 * the GoogleMapsCompatible well-known scale set, 07-057r7 Annex E.4). Element order follows the schema.
 */
import type { TileMatrixSet } from '../raster/tms.js';
import { INFO_FORMATS } from './feature-info.js';
import type { PublishedLayer } from './layer.js';
import { ogcCrs, ogcPoint } from './ogc-crs.js';
import { xmlEscape as x } from './service-http.js';

/** The one style of every layer (the name ROK4's server uses). */
export const WMTS_STYLE = 'normal';

/** Well-known scale sets of our built-in TMS (07-057r7 Annex E). */
const WELL_KNOWN_SCALE_SETS: Record<string, string> = { PM: 'urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible' };

export function wmtsRestTileTemplate(baseUrl: string, layer: string, ext: string): string {
  return `${baseUrl}/wmts/1.0.0/${encodeURIComponent(layer)}/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.${ext}`;
}

export function wmtsCapabilities(baseUrl: string, layers: readonly PublishedLayer[]): string {
  const kvp = `${x(baseUrl)}/wmts?`;
  const operation = (name: string): string => `    <ows:Operation name="${name}">
      <ows:DCP><ows:HTTP><ows:Get xlink:href="${kvp}"><ows:Constraint name="GetEncoding"><ows:AllowedValues>
        <ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP>
    </ows:Operation>`;
  const tmsUsed = new Map<string, TileMatrixSet>();
  for (const l of layers) tmsUsed.set(l.tms.id, l.tms);
  return `<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"
  xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:gml="http://www.opengis.net/gml"
  xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"
  version="1.0.0">
  <ows:ServiceIdentification>
    <ows:Title>dallage WMTS</ows:Title>
    <ows:Abstract>Pyramids published by dallage</ows:Abstract>
    <ows:ServiceType>OGC WMTS</ows:ServiceType>
    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>
  </ows:ServiceIdentification>
  <ows:ServiceProvider>
    <ows:ProviderName>dallage</ows:ProviderName>
    <ows:ServiceContact/>
  </ows:ServiceProvider>
  <ows:OperationsMetadata>
${operation('GetCapabilities')}
${operation('GetTile')}
${operation('GetFeatureInfo')}
  </ows:OperationsMetadata>
  <Contents>
${layers.map((l) => layerXml(baseUrl, l)).join('\n')}
${[...tmsUsed.values()].map(tileMatrixSetXml).join('\n')}
  </Contents>
  <ServiceMetadataURL xlink:href="${x(baseUrl)}/wmts/1.0.0/WMTSCapabilities.xml"/>
</Capabilities>
`;
}

function layerXml(baseUrl: string, l: PublishedLayer): string {
  const crs = ogcCrs(l.tms.crs);
  const [w, s, e, n] = l.wgs84Bbox;
  const b = l.bbox;
  const keywords = l.spec.keywords?.length
    ? `\n      <ows:Keywords>${l.spec.keywords.map((k) => `<ows:Keyword>${x(k)}</ows:Keyword>`).join('')}</ows:Keywords>`
    : '';
  const limits = l.levels
    .map(
      (lv) =>
        `          <TileMatrixLimits><TileMatrix>${x(lv.id)}</TileMatrix>` +
        `<MinTileRow>${lv.limits.min_row}</MinTileRow><MaxTileRow>${lv.limits.max_row}</MaxTileRow>` +
        `<MinTileCol>${lv.limits.min_col}</MinTileCol><MaxTileCol>${lv.limits.max_col}</MaxTileCol></TileMatrixLimits>`,
    )
    .join('\n');
  const resources = [
    ...l.formats.map(
      (f) =>
        `      <ResourceURL format="${x(f.mime)}" resourceType="tile" template="${x(wmtsRestTileTemplate(baseUrl, l.name, f.extensions[0]))}"/>`,
    ),
    ...INFO_FORMATS.map(
      (f) =>
        `      <ResourceURL format="${x(f.mime)}" resourceType="FeatureInfo" ` +
        `template="${x(`${baseUrl}/wmts/1.0.0/${encodeURIComponent(l.name)}/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}/{J}/{I}.${f.extension}`)}"/>`,
    ),
  ];
  return `    <Layer>
      <ows:Title>${x(l.spec.title)}</ows:Title>${l.spec.abstract ? `\n      <ows:Abstract>${x(l.spec.abstract)}</ows:Abstract>` : ''}${keywords}
      <ows:WGS84BoundingBox><ows:LowerCorner>${w} ${s}</ows:LowerCorner><ows:UpperCorner>${e} ${n}</ows:UpperCorner></ows:WGS84BoundingBox>
      <ows:Identifier>${x(l.name)}</ows:Identifier>
      <ows:BoundingBox crs="${crs.urn}"><ows:LowerCorner>${ogcPoint(crs, b[0], b[1])}</ows:LowerCorner><ows:UpperCorner>${ogcPoint(crs, b[2], b[3])}</ows:UpperCorner></ows:BoundingBox>
      <Style isDefault="true"><ows:Title>${WMTS_STYLE}</ows:Title><ows:Identifier>${WMTS_STYLE}</ows:Identifier></Style>
${l.formats.map((f) => `      <Format>${x(f.mime)}</Format>`).join('\n')}
${INFO_FORMATS.map((f) => `      <InfoFormat>${x(f.mime)}</InfoFormat>`).join('\n')}
      <TileMatrixSetLink>
        <TileMatrixSet>${x(l.tms.id)}</TileMatrixSet>
        <TileMatrixSetLimits>
${limits}
        </TileMatrixSetLimits>
      </TileMatrixSetLink>
${resources.join('\n')}
    </Layer>`;
}

function tileMatrixSetXml(tms: TileMatrixSet): string {
  const crs = ogcCrs(tms.crs);
  const wkss = WELL_KNOWN_SCALE_SETS[tms.id];
  const matrices = [...tms.tileMatrices]
    .sort((a, b) => b.cellSize - a.cellSize)
    .map(
      (tm) => `      <TileMatrix>
        <ows:Identifier>${x(tm.id)}</ows:Identifier>
        <ScaleDenominator>${tm.scaleDenominator}</ScaleDenominator>
        <TopLeftCorner>${ogcPoint(crs, tm.pointOfOrigin[0], tm.pointOfOrigin[1])}</TopLeftCorner>
        <TileWidth>${tm.tileWidth}</TileWidth>
        <TileHeight>${tm.tileHeight}</TileHeight>
        <MatrixWidth>${tm.matrixWidth}</MatrixWidth>
        <MatrixHeight>${tm.matrixHeight}</MatrixHeight>
      </TileMatrix>`,
    )
    .join('\n');
  return `    <TileMatrixSet>
      <ows:Identifier>${x(tms.id)}</ows:Identifier>
      <ows:SupportedCRS>${crs.urn}</ows:SupportedCRS>${wkss ? `\n      <WellKnownScaleSet>${wkss}</WellKnownScaleSet>` : ''}
${matrices}
    </TileMatrixSet>`;
}
