/**
 * GetFeatureInfo on a pyramid layer (issue 10): the values of the pixel (i, j) of a tile — band values of
 * an image, the elevation of a DTM — read from the decoded tile and the mask tile when the pyramid has
 * masks; a pixel without data says so.
 */
import { createTransform } from '../raster/crs.js';
import type { PublishedLayer } from './layer.js';
import { xmlEscape } from './service-http.js';

export interface InfoFormat {
  mime: string;
  extension: string;
}

/** Info formats offered by every layer; the first is the default. */
export const INFO_FORMATS: readonly InfoFormat[] = [
  { mime: 'application/json', extension: 'json' },
  { mime: 'text/html', extension: 'html' },
  { mime: 'text/plain', extension: 'txt' },
];

export interface PixelInfo {
  layer: string;
  tileMatrix: string;
  tileRow: number;
  tileCol: number;
  i: number;
  j: number;
  /** Pixel centre, longitude/latitude. */
  lonLat: [number, number];
  /** One value per band; null where the pixel has no data. */
  values: number[] | null;
}

/** The pixel (`i`, `j`) of tile (`col`, `row`) of a level the layer has; the caller checked the ranges. */
export async function pixelInfo(
  layer: PublishedLayer,
  levelId: string,
  col: number,
  row: number,
  i: number,
  j: number,
): Promise<PixelInfo> {
  const level = layer.level(levelId)!;
  const { tm } = level;
  const x = tm.pointOfOrigin[0] + (col * tm.tileWidth + i + 0.5) * tm.cellSize;
  const y = tm.pointOfOrigin[1] - (row * tm.tileHeight + j + 0.5) * tm.cellSize;
  const xs = Float64Array.of(x),
    ys = Float64Array.of(y);
  createTransform(layer.tms.crs, 'EPSG:4326')(xs, ys);
  const tile = await level.reader.readTile(levelId, col, row);
  let values: number[] | null = null;
  if (tile) {
    const mask = await level.reader.readMaskTile(levelId, col, row);
    if (!mask || mask[j * tile.width + i] !== 0) {
      const at = (j * tile.width + i) * tile.channels;
      values = Array.from(tile.pixels.subarray(at, at + tile.channels));
    }
  }
  return { layer: layer.name, tileMatrix: levelId, tileRow: row, tileCol: col, i, j, lonLat: [xs[0], ys[0]], values };
}

/** The info in one of the {@link INFO_FORMATS}. */
export function renderPixelInfo(info: PixelInfo, mime: string): string {
  const bands = info.values?.map((v, b) => [`band_${b + 1}`, v] as const) ?? [];
  if (mime === 'application/json') {
    return JSON.stringify({
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: info.lonLat },
          properties: {
            layer: info.layer,
            tileMatrix: info.tileMatrix,
            tileRow: info.tileRow,
            tileCol: info.tileCol,
            i: info.i,
            j: info.j,
            nodata: info.values === null,
            values: info.values,
            ...Object.fromEntries(bands),
          },
        },
      ],
    });
  }
  if (mime === 'text/html') {
    const rows =
      info.values === null
        ? '<tr><td colspan="2">no data</td></tr>'
        : bands.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
    return (
      `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${xmlEscape(info.layer)}</title></head><body>` +
      `<table><caption>${xmlEscape(info.layer)} (${info.lonLat.map((v) => v.toFixed(6)).join(', ')})</caption>${rows}</table></body></html>\n`
    );
  }
  return (
    `layer: ${info.layer}\nlon lat: ${info.lonLat.join(' ')}\n` +
    (info.values === null ? 'no data\n' : bands.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n')
  );
}
