/**
 * Validity grid of a source raster for its footprint (cog.md §8) when no COG is written
 * (`useCog: false`): the source is read in strips in the worker pool and its mask reduced by a power
 * of two so that the grid's longer side stays below `maxSide`. The COG writer returns the same grid
 * as a by-product of its own pass.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RasterInfo } from '../raster/geotiff-source.js';
import type { WorkerPool } from '../workers/pool.js';
import type { ValidityGrid } from './footprint.js';
import type { MaskStripTask } from './strip-tasks.js';

const TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'strip-tasks.js');
const STRIP_ROWS = 512;

/** Reads the source's validity (nodata, alpha or mask IFD; bands OR-ed as GDAL does). */
export async function readValidityGrid(
  info: RasterInfo,
  pool: WorkerPool,
  options: { maxSide?: number; signal?: AbortSignal } = {},
): Promise<ValidityGrid> {
  let factor = 1;
  while (Math.max(info.width, info.height) / factor > (options.maxSide ?? 4096) && factor < STRIP_ROWS) factor *= 2;
  const width = Math.ceil(info.width / factor);
  const height = Math.ceil(info.height / factor);
  const grid: ValidityGrid = {
    width,
    height,
    factor,
    imageWidth: info.width,
    imageHeight: info.height,
    geoTransform: info.geoTransform,
    crs: info.crs,
  };
  if (info.mask === 'none') return grid;
  const mask = new Uint8Array(width * height);
  const strips = Math.ceil(info.height / STRIP_ROWS);
  const rowsPerStrip = STRIP_ROWS / factor;
  const jobs: Promise<void>[] = [];
  for (let s = 0; s < strips; s++) {
    const task: MaskStripTask = { info, y: s * STRIP_ROWS, rows: Math.min(STRIP_ROWS, info.height - s * STRIP_ROWS), factor };
    const job = pool.run<Uint8Array | undefined>(TASKS, 'maskStrip', task, { signal: options.signal }).then((part) => {
      mask.set(part ?? new Uint8Array(width * Math.ceil(task.rows / factor)).fill(255), s * rowsPerStrip * width);
    });
    job.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    jobs.push(job);
    // At most a few strips in flight: each holds a decoded strip in its worker.
    if (jobs.length >= pool.threads + 1) await jobs.shift();
  }
  await Promise.all(jobs);
  return { ...grid, mask };
}
