import { execFileSync } from 'node:child_process';

/** What GDAL reads from a raster: pixel-interleaved samples (native byte order). */
export interface GdalRaster {
  width: number;
  height: number;
  bands: number;
  dataType: string;
  /** Pixel-interleaved, row-major samples. */
  bytes: Buffer;
}

const SCRIPT = `
import sys
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Open(sys.argv[1])
b = ds.GetRasterBand(1)
dt = b.DataType
size = gdal.GetDataTypeSize(dt) // 8
n = ds.RasterCount
data = ds.ReadRaster(0, 0, ds.RasterXSize, ds.RasterYSize, buf_type=dt,
                     buf_pixel_space=n * size, buf_line_space=n * size * ds.RasterXSize, buf_band_space=size)
sys.stdout.buffer.write(("%d %d %d %s\\n" % (ds.RasterXSize, ds.RasterYSize, n, gdal.GetDataTypeName(dt))).encode())
sys.stdout.buffer.write(data)
`;

/**
 * Reads a whole raster with GDAL (python3 from /usr/bin with osgeo.gdal): the tests' pixel oracle. `env`:
 * GDAL's environment (the /vsis3/ settings of an S3 storage, test/helpers/pyramids.ts gdalEnv).
 */
export function gdalRead(file: string, env: NodeJS.ProcessEnv = process.env): GdalRaster {
  const out = execFileSync('/usr/bin/python3', ['-c', SCRIPT, file], { maxBuffer: 1 << 30, env });
  const newline = out.indexOf(10);
  const [w, h, n, dataType] = out.subarray(0, newline).toString().split(' ');
  return { width: Number(w), height: Number(h), bands: Number(n), dataType, bytes: out.subarray(newline + 1) };
}

/** `gdalinfo` text of a file. */
export function gdalInfo(file: string): string {
  return execFileSync('gdalinfo', [file]).toString();
}
