import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ApiError } from '../errors.js';
import { escapeHtml } from './html/layout.js';
import type { ApiRequest, ApiResponse } from './request.js';

/**
 * The map viewer of a published layer (issue 10, "The viewer"): OpenLayers (the `ol` npm package's full
 * build) and proj4 (for tile matrix sets in a CRS OpenLayers does not know, e.g. Lambert-93), both served
 * by us under /viewer/ — the page loads nothing from another site. The page reads the layer from our WMTS
 * capabilities, as any WMTS client would, so what it shows is what QGIS or GDAL get.
 */

const require = createRequire(import.meta.url);

/** Start-up script: WMTS capabilities → source; fitted to WGS84BoundingBox; level indicator; GetFeatureInfo. */
const VIEWER_SCRIPT = `'use strict';
window.addEventListener('load', async () => {
  const target = document.getElementById('map');
  const d = target.dataset;
  const status = document.getElementById('map-status');
  const info = document.getElementById('map-info');
  try {
    if (d.proj4) {
      // Under its code and under the URN our capabilities give as SupportedCRS (OGC 07-057r7 §7.1).
      const [authority, code] = d.crs.split(':');
      proj4.defs(d.crs, d.proj4);
      proj4.defs('urn:ogc:def:crs:' + authority + '::' + code, d.proj4);
      ol.proj.proj4.register(proj4);
    }
    const response = await fetch(d.capabilities);
    if (!response.ok) throw new Error('capabilities: HTTP ' + response.status);
    const capabilities = new ol.format.WMTSCapabilities().read(await response.text());
    const options = ol.source.WMTS.optionsFromCapabilities(capabilities, { layer: d.layer, matrixSet: d.matrixSet });
    if (!options) throw new Error('layer ' + d.layer + ' is not in the capabilities');
    const source = new ol.source.WMTS({ ...options, crossOrigin: 'anonymous' });
    const grid = source.getTileGrid();
    const projection = source.getProjection();
    const map = new ol.Map({
      target,
      layers: [new ol.layer.Tile({ source })],
      view: new ol.View({ projection, resolutions: grid.getResolutions(), constrainResolution: true }),
    });
    const layerCaps = capabilities.Contents.Layer.find((l) => l.Identifier === d.layer);
    const extent = ol.proj.transformExtent(layerCaps.WGS84BoundingBox, 'EPSG:4326', projection);
    map.getView().fit(extent, { size: map.getSize() });
    const level = () => {
      const z = grid.getZForResolution(map.getView().getResolution());
      return { z, id: grid.getMatrixIds()[z] };
    };
    const showLevel = () => {
      document.getElementById('map-level').textContent = level().id;
    };
    map.getView().on('change:resolution', showLevel);
    showLevel();
    // Pixel values under a click: WMTS GetFeatureInfo on the tile and the pixel inside it (OGC 07-057r7 §8).
    map.on('singleclick', async (event) => {
      const { z, id } = level();
      const resolution = grid.getResolution(z);
      const [, col, row] = grid.getTileCoordForCoordAndZ(event.coordinate, z);
      const origin = grid.getOrigin(z);
      const size = ol.size.toSize(grid.getTileSize(z));
      const i = Math.floor((event.coordinate[0] - (origin[0] + col * size[0] * resolution)) / resolution);
      const j = Math.floor((origin[1] - row * size[1] * resolution - event.coordinate[1]) / resolution);
      const url = d.wmts + '?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=' + encodeURIComponent(d.layer) +
        '&STYLE=normal&FORMAT=' + encodeURIComponent(options.format) + '&TILEMATRIXSET=' + encodeURIComponent(d.matrixSet) +
        '&TILEMATRIX=' + encodeURIComponent(id) + '&TILEROW=' + row + '&TILECOL=' + col + '&I=' + i + '&J=' + j +
        '&INFOFORMAT=application/json';
      const answer = await fetch(url);
      if (!answer.ok) {
        info.textContent = 'No value here (' + answer.status + ')';
        return;
      }
      const p = (await answer.json()).features[0].properties;
      info.textContent = p.nodata ? 'No data at this point' : 'Level ' + p.tileMatrix + ', tile ' + p.tileCol + '/' + p.tileRow +
        ', pixel ' + p.i + '/' + p.j + ': ' + p.values.join(', ');
    });
    status.textContent = '';
    target.dataset.ready = 'true';
  } catch (err) {
    status.textContent = 'The map could not be shown: ' + err.message;
    target.dataset.ready = 'error';
  }
});
`;

/**
 * Footprints of a raster catalog (issue 12, the catalog page): the items of a Features request drawn as
 * polygons in Web Mercator, the view fitted to them; a click names the items under it. No base map: the
 * page loads nothing from another site.
 */
const FOOTPRINTS_SCRIPT = `'use strict';
window.addEventListener('load', async () => {
  const target = document.getElementById('map');
  const status = document.getElementById('map-status');
  const info = document.getElementById('map-info');
  try {
    const response = await fetch(target.dataset.items, { headers: { Accept: 'application/geo+json' } });
    if (!response.ok) throw new Error('items: HTTP ' + response.status);
    const format = new ol.format.GeoJSON({ dataProjection: 'EPSG:4326', featureProjection: 'EPSG:3857' });
    const features = format.readFeatures(await response.json());
    const source = new ol.source.Vector({ features });
    const style = new ol.style.Style({
      stroke: new ol.style.Stroke({ color: '#c0392b', width: 2 }),
      fill: new ol.style.Fill({ color: 'rgba(192, 57, 43, 0.25)' }),
    });
    const map = new ol.Map({
      target,
      layers: [new ol.layer.Vector({ source, style })],
      view: new ol.View({ projection: 'EPSG:3857' }),
    });
    if (features.length) map.getView().fit(source.getExtent(), { size: map.getSize(), padding: [20, 20, 20, 20] });
    else map.getView().fit(ol.proj.transformExtent([-180, -80, 180, 80], 'EPSG:4326', 'EPSG:3857'));
    map.on('singleclick', (event) => {
      const hit = map.getFeaturesAtPixel(event.pixel).map((f) => (f.get('title') || f.getId()) + ' (' + f.getId() + ')');
      info.textContent = hit.length ? hit.join('\\n') : 'No item here';
    });
    status.textContent = features.length + ' footprint(s)';
    target.dataset.features = String(features.length);
    target.dataset.ready = 'true';
  } catch (err) {
    status.textContent = 'The map could not be shown: ' + err.message;
    target.dataset.ready = 'error';
  }
});
`;

/** File name → [media type, where it comes from]; only these are served (no client path reaches the disk). */
const ASSETS: Record<string, [type: string, load: () => Buffer]> = {
  'ol.js': [
    'text/javascript; charset=utf-8',
    () => readFileSync(path.join(path.dirname(require.resolve('ol/package.json')), 'dist', 'ol.js')),
  ],
  'ol.css': ['text/css; charset=utf-8', () => readFileSync(path.join(path.dirname(require.resolve('ol/package.json')), 'ol.css'))],
  'proj4.js': [
    'text/javascript; charset=utf-8',
    () => readFileSync(path.join(path.dirname(require.resolve('proj4/package.json')), 'dist', 'proj4.js')),
  ],
  'viewer.js': ['text/javascript; charset=utf-8', () => Buffer.from(VIEWER_SCRIPT, 'utf8')],
  'footprints.js': ['text/javascript; charset=utf-8', () => Buffer.from(FOOTPRINTS_SCRIPT, 'utf8')],
};

const loaded = new Map<string, Buffer>();

/** GET /viewer/{file}: OpenLayers, proj4 and our start-up script. */
export async function mapViewerAsset(req: ApiRequest): Promise<ApiResponse> {
  const name = req.params.file;
  if (!Object.hasOwn(ASSETS, name)) throw new ApiError('not-found', `no viewer file '${name}'`);
  const [type, load] = ASSETS[name];
  let bytes = loaded.get(name);
  if (!bytes) loaded.set(name, (bytes = load()));
  return { status: 200, headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' }, body: bytes };
}

/** What the viewer shows: a layer of our WMTS, in one of its tile matrix sets. */
export interface MapViewerLayer {
  /** WMTS layer identifier (the configuration's layer_name). */
  layer: string;
  title: string;
  /** Tile matrix set identifier in the capabilities. */
  matrixSet: string;
  /** CRS of the tile matrix set (`EPSG:2154`…) and its proj4 definition, for CRSs OpenLayers lacks. */
  crs: string;
  proj4?: string;
}

/** The head elements the viewer needs (stylesheet), to put in the page's <head>. */
export function mapViewerHead(baseUrl: string): string {
  return `<link rel="stylesheet" href="${escapeHtml(baseUrl)}/viewer/ol.css">`;
}

/**
 * The map, its level indicator and the pixel-value panel, as an HTML fragment for a page's body (the
 * offering page). OpenLayers knows EPSG:3857 and EPSG:4326 itself; any other CRS comes with its proj4
 * definition.
 */
export function mapViewerSection(baseUrl: string, view: MapViewerLayer): string {
  const b = escapeHtml(baseUrl);
  const needsProj4 = view.proj4 !== undefined && !['EPSG:3857', 'EPSG:4326'].includes(view.crs);
  return `<section class="map-viewer"><h2>Map: ${escapeHtml(view.title)}</h2>
<p>Level <output id="map-level">…</output> · click the map for the pixel values. <span id="map-status">Loading…</span></p>
<div id="map" style="width:100%;height:480px;border:1px solid #ccc" data-capabilities="${b}/wmts?SERVICE=WMTS&amp;REQUEST=GetCapabilities"
 data-wmts="${b}/wmts" data-layer="${escapeHtml(view.layer)}" data-matrix-set="${escapeHtml(view.matrixSet)}" data-crs="${escapeHtml(view.crs)}"${
   needsProj4 ? ` data-proj4="${escapeHtml(view.proj4!)}"` : ''
 }></div>
<pre id="map-info"></pre>
${needsProj4 ? `<script src="${b}/viewer/proj4.js"></script>\n` : ''}<script src="${b}/viewer/ol.js"></script>
<script src="${b}/viewer/viewer.js"></script></section>`;
}

/**
 * A map of catalog footprints (issue 12): the features of `itemsUrl` (a Features items request, GeoJSON),
 * as an HTML fragment for a page's body; its head needs {@link mapViewerHead}.
 */
export function footprintMapSection(baseUrl: string, itemsUrl: string, title: string): string {
  const b = escapeHtml(baseUrl);
  return `<section class="map-viewer"><h2>${escapeHtml(title)}</h2>
<p>Click a footprint for its item. <span id="map-status">Loading…</span></p>
<div id="map" style="width:100%;height:420px;border:1px solid #ccc" data-items="${escapeHtml(itemsUrl)}"></div>
<pre id="map-info"></pre>
<script src="${b}/viewer/ol.js"></script>
<script src="${b}/viewer/footprints.js"></script></section>`;
}
