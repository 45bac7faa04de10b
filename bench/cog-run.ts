/**
 * One run of our COG writer or footprint on a file, as a child process of bench/cog.ts (so that its
 * wall time and peak RSS are measured like GDAL's). Prints one JSON line.
 *
 * Usage: node dist/bench/cog-run.js cog SRC OUT jpeg|deflate [threads]
 *        node dist/bench/cog-run.js footprint SRC OUT.json [threads]
 */
import { writeFileSync } from 'node:fs';
import { writeCog } from '../src/cog/cog-writer.js';
import { footprint } from '../src/cog/footprint.js';
import { readValidityGrid } from '../src/cog/validity-grid.js';
import { describeRaster } from '../src/raster/geotiff-source.js';
import { PiscinaPool } from '../src/workers/pool.js';

const [mode, src, out, arg4, arg5] = process.argv.slice(2);
const threads = Number((mode === 'cog' ? arg5 : arg4) ?? 2);
const pool = new PiscinaPool({ threads });
try {
  const info = await describeRaster(src);
  const t0 = performance.now();
  if (mode === 'cog') {
    const compression = arg4 === 'deflate' ? 'deflate' : 'jpeg';
    const r = await writeCog(info, { compression, quality: 90, blockSize: 512 }, { path: out }, { pool });
    const t1 = performance.now();
    const fp = footprint(r.grid);
    const t2 = performance.now();
    writeFileSync(`${out}.footprint.json`, JSON.stringify({ type: 'Feature', properties: {}, geometry: fp }));
    console.log(
      JSON.stringify({
        cogS: (t1 - t0) / 1000,
        traceS: (t2 - t1) / 1000,
        bytes: r.bytes,
        tiles: r.tiles,
        levels: r.levels.length,
        factor: r.grid.factor,
      }),
    );
  } else {
    const grid = await readValidityGrid(info, pool);
    const t1 = performance.now();
    const fp = footprint(grid);
    const t2 = performance.now();
    writeFileSync(out, JSON.stringify({ type: 'Feature', properties: {}, geometry: fp }));
    console.log(JSON.stringify({ readS: (t1 - t0) / 1000, traceS: (t2 - t1) / 1000, factor: grid.factor }));
  }
} finally {
  await pool.destroy();
}
