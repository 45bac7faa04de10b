/** GDAL's pixels of a raster window: the oracle of the source readers' tests. */
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** All bands of a window interleaved (`.data`), and the validity of the colour bands' masks (`.mask`, 0/1). */
const READ_WINDOW = `
import sys, numpy as np
from osgeo import gdal
gdal.UseExceptions()
f, x, y, w, h, ovr, out = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7]
ds = gdal.Open(f)
bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
if ovr >= 0: bands = [b.GetOverview(ovr) for b in bands]
data = np.stack([b.ReadAsArray(x, y, w, h) for b in bands], axis=-1)
colour = [b for i, b in enumerate(bands) if ds.GetRasterBand(i + 1).GetColorInterpretation() != gdal.GCI_AlphaBand]
mask = np.any(np.stack([b.GetMaskBand().ReadAsArray(x, y, w, h) > 0 for b in colour]), axis=0)
open(out + '.data', 'wb').write(data.tobytes()); open(out + '.mask', 'wb').write(mask.astype(np.uint8).tobytes())
`;

let calls = 0;

/**
 * Reads the window [x, x + width) × [y, y + height) of `file` (of its overview `overview`, when given)
 * with GDAL's Python bindings, through files in `scratch`.
 */
export async function gdalWindow(
  file: string,
  window: { x: number; y: number; width: number; height: number },
  scratch: string,
  overview = -1,
): Promise<{ data: Buffer; mask: Buffer }> {
  const out = path.join(scratch, `gdal-window-${process.pid}-${calls++}`);
  const { x, y, width, height } = window;
  execFileSync('/usr/bin/python3', ['-c', READ_WINDOW, file, String(x), String(y), String(width), String(height), String(overview), out]);
  try {
    return { data: await readFile(`${out}.data`), mask: await readFile(`${out}.mask`) };
  } finally {
    await rm(`${out}.data`, { force: true });
    await rm(`${out}.mask`, { force: true });
  }
}
