/**
 * Quality of a pyramid's bottom level against a GDAL reference (the approach of ../shared/bench/psnr.py):
 * `gdalwarp -r cubic` of the source onto the same tile grid, then PSNR over the pixels valid in both
 * (mask/alpha > 0 and not pure nodata white), mean absolute error, share of pixels off by more than
 * 16, and the IoU of the two validity masks.
 */
import { execFileSync } from 'node:child_process';
import { describeRaster, openRasterWindows } from '../../src/raster/geotiff-source.js';
import { loadTms, tileMatrix } from '../../src/raster/tms.js';
import { Rok4Reader } from '../../src/rok4/reader.js';
import { FileStorage } from '../../src/storage/file.js';

export interface Quality {
  psnrRgbDb: number;
  mae: number;
  shareErrGt16: number;
  maskIou: number;
  pixelsCompared: number;
  slabs: number;
}

/** Writes the reference: the source warped onto level `level` of PM over the pyramid's tile limits. */
export function makeReference(
  source: string,
  reference: string,
  pyramidDir: string,
  name: string,
  level: string,
  nodata: number,
): Promise<void> {
  return (async () => {
    const reader = await Rok4Reader.open(new FileStorage(pyramidDir), name);
    const tms = await loadTms(reader.descriptor.tile_matrix_set, []);
    const tm = tileMatrix(tms, level);
    const lim = reader.tileLimits(level);
    const span = tm.tileWidth * tm.cellSize;
    const x0 = tm.pointOfOrigin[0] + lim.min_col * span;
    const x1 = tm.pointOfOrigin[0] + (lim.max_col + 1) * span;
    const y1 = tm.pointOfOrigin[1] - lim.min_row * span;
    const y0 = tm.pointOfOrigin[1] - (lim.max_row + 1) * span;
    execFileSync(
      'gdalwarp',
      [
        '-q',
        '-overwrite',
        '-t_srs',
        tms.crs === 'EPSG:3857' ? 'EPSG:3857' : tms.crs,
        '-r',
        'cubic',
        '-te',
        String(x0),
        String(y0),
        String(x1),
        String(y1),
        '-tr',
        String(tm.cellSize),
        String(tm.cellSize),
        '-srcnodata',
        `${nodata} ${nodata} ${nodata}`,
        '-wo',
        'UNIFIED_SRC_NODATA=YES',
        '-dstalpha',
        '-multi',
        '-wo',
        'NUM_THREADS=2',
        '-co',
        'TILED=YES',
        '-co',
        'COMPRESS=DEFLATE',
        '-co',
        'BIGTIFF=IF_SAFER',
        source,
        reference,
      ],
      { stdio: 'inherit' },
    );
  })();
}

/** Compares every bottom slab of the pyramid with the reference. */
export async function compareBottomLevel(
  pyramidDir: string,
  name: string,
  level: string,
  reference: string,
  nodata: number,
): Promise<Quality> {
  const reader = await Rok4Reader.open(new FileStorage(pyramidDir), name);
  const lvl = reader.level(level);
  const lim = lvl.tile_limits;
  const info = await describeRaster(reference);
  const ref = openRasterWindows(info);
  const tw = 256;
  const se = [0, 0, 0];
  let ae = 0,
    n = 0,
    big = 0,
    both = 0,
    any = 0,
    slabs = 0;
  for (let sr = Math.floor(lim.min_row / lvl.tiles_per_height); sr <= Math.floor(lim.max_row / lvl.tiles_per_height); sr++) {
    for (let sc = Math.floor(lim.min_col / lvl.tiles_per_width); sc <= Math.floor(lim.max_col / lvl.tiles_per_width); sc++) {
      const slab = await reader.readSlab(level, sc, sr);
      // Window of the slab in the reference (whose origin is tile (min_col, min_row)), clipped.
      const sx = (sc * lvl.tiles_per_width - lim.min_col) * tw;
      const sy = (sr * lvl.tiles_per_height - lim.min_row) * tw;
      const SW = lvl.tiles_per_width * tw,
        SH = lvl.tiles_per_height * tw;
      const rx0 = Math.max(0, sx),
        ry0 = Math.max(0, sy);
      const rx1 = Math.min(info.width, sx + SW),
        ry1 = Math.min(info.height, sy + SH);
      if (rx1 <= rx0 || ry1 <= ry0) continue;
      const win = await ref.read({ x: rx0, y: ry0, width: rx1 - rx0, height: ry1 - ry0 });
      const RC = win.channels;
      const rdata = win.data as Uint8Array;
      slabs++;
      for (let y = ry0; y < ry1; y++) {
        for (let x = rx0; x < rx1; x++) {
          const ri = (y - ry0) * win.width + (x - rx0);
          const rr = rdata[ri * RC],
            rg = rdata[ri * RC + 1],
            rb = rdata[ri * RC + 2];
          const refValid = (win.mask ? win.mask[ri] > 0 : true) && !(rr === nodata && rg === nodata && rb === nodata);
          let ourValid = false;
          let oi = 0;
          if (slab) {
            oi = (y - sy) * SW + (x - sx);
            const d = slab.pixels as Uint8Array;
            ourValid = slab.mask[oi] > 0 && !(d[oi * 3] === nodata && d[oi * 3 + 1] === nodata && d[oi * 3 + 2] === nodata);
          }
          if (refValid || ourValid) any++;
          if (!(refValid && ourValid)) continue;
          both++;
          const d = slab!.pixels as Uint8Array;
          let maxe = 0;
          for (let c = 0; c < 3; c++) {
            const e = d[oi * 3 + c] - rdata[ri * RC + c];
            se[c] += e * e;
            ae += Math.abs(e);
            if (Math.abs(e) > maxe) maxe = Math.abs(e);
          }
          if (maxe > 16) big++;
          n++;
        }
      }
    }
  }
  await ref.close();
  const mse = (se[0] + se[1] + se[2]) / (3 * Math.max(n, 1));
  return {
    psnrRgbDb: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse),
    mae: ae / (3 * Math.max(n, 1)),
    shareErrGt16: big / Math.max(n, 1),
    maskIou: both / Math.max(any, 1),
    pixelsCompared: n,
    slabs,
  };
}

/** Tiles of a level inside its tile_limits that lie in written data slabs (what "tiles written" means for ROK4). */
export async function countTiles(
  pyramidDir: string,
  name: string,
  exists: (file: string) => boolean,
): Promise<{ tiles: number; slabs: number; byLevel: Record<string, number> }> {
  const reader = await Rok4Reader.open(new FileStorage(pyramidDir), name);
  let tiles = 0,
    slabs = 0;
  const byLevel: Record<string, number> = {};
  for (const lvl of reader.levels) {
    const lim = lvl.tile_limits;
    let count = 0;
    for (let sr = Math.floor(lim.min_row / lvl.tiles_per_height); sr <= Math.floor(lim.max_row / lvl.tiles_per_height); sr++) {
      for (let sc = Math.floor(lim.min_col / lvl.tiles_per_width); sc <= Math.floor(lim.max_col / lvl.tiles_per_width); sc++) {
        const key = reader.slabKey(lvl.id, sc, sr, 'DATA');
        if (!key || !exists(`${pyramidDir}/${key}`)) continue;
        slabs++;
        const c0 = Math.max(lim.min_col, sc * lvl.tiles_per_width),
          c1 = Math.min(lim.max_col, (sc + 1) * lvl.tiles_per_width - 1);
        const r0 = Math.max(lim.min_row, sr * lvl.tiles_per_height),
          r1 = Math.min(lim.max_row, (sr + 1) * lvl.tiles_per_height - 1);
        count += (c1 - c0 + 1) * (r1 - r0 + 1);
      }
    }
    byLevel[lvl.id] = count;
    tiles += count;
  }
  return { tiles, slabs, byLevel };
}
