import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticMap, SYNTHETIC_SIZES, type SyntheticPart, type SyntheticSizeName } from '../../test/fixtures/synthetic-raster.js';

/**
 * A synthetic input raster of the benchmarks, `<dir>/<size>[_<variant>].tif`, made (as bench/make-rasters.ts
 * makes them) when absent: written beside, then renamed, so an interrupted run never leaves half a file.
 * `variant` names what differs from the plain file (a half of it, a nodata tag, stored blocks).
 */
export async function syntheticInput(
  dir: string,
  size: SyntheticSizeName,
  options: { variant?: string; part?: SyntheticPart; nodataTag?: boolean; deflateLevel?: number } = {},
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const { variant, ...map } = options;
  const file = path.join(dir, variant ? `${size}_${variant}.tif` : `${size}.tif`);
  if (existsSync(file)) return file;
  console.log(`making ${file}…`);
  const t0 = performance.now();
  const tmp = `${file}.part.tif`;
  await makeSyntheticMap({ ...SYNTHETIC_SIZES[size], ...map, path: tmp });
  await rename(tmp, file);
  console.log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}

/**
 * The finest web-mercator zoom not finer than each synthetic raster's pixel (gdal2tiles' rule): the bottom
 * level every benchmark's pyramid of that size is made to.
 */
export const NATIVE_ZOOM: Record<SyntheticSizeName, number> = { T: 7, S: 11, M: 13, L: 14 };
