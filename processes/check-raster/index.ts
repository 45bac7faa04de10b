import { uploadCheckProcess, type CheckRun } from '../../src/process/upload-check.js';
import { sameCrs, type Bbox } from '../../src/raster/crs.js';
import { bandHeightFor } from '../../src/raster/banded-reader.js';
import { UPLOAD_IMAGE } from '../../src/uploads/checks.js';
import {
  describeRasterAt,
  forgetDecodedFiles,
  rasterLocationName,
  openRasterWindows,
  type RasterInfo,
} from '../../src/raster/geotiff-source.js';

/** Images in formats a raster delivery may not hold. */
const OTHER_IMAGE = /\.(png|jpe?g|gif|bmp|ecw|sid|webp)$/i;
/** Files that go with images: world files, MD5s, projection and GDAL sidecars. */
const SIDECAR = /\.(tfw|tfwx|tifw|wld|j2w|md5|prj|aux\.xml|ovr|xml|txt)$/i;

/**
 * Decodes every block of the image (full resolution), a band of block rows at a time; a band that fails
 * is read again block by block to name each bad block: `block <index> (column c, row r)`.
 * @returns the number of bad blocks.
 */
async function readEveryBlock(check: CheckRun, relPath: string, info: RasterInfo, onRows: (rows: number) => void): Promise<number> {
  const reader = openRasterWindows(info);
  const bw = info.tiled ? info.blockWidth : info.width;
  const bh = info.blockHeight;
  const across = Math.ceil(info.width / bw);
  const band = bandHeightFor(bh);
  let bad = 0;
  try {
    for (let y = 0; y < info.height; y += band) {
      check.signal.throwIfAborted();
      const rows = Math.min(band, info.height - y);
      try {
        await reader.read({ x: 0, y, width: info.width, height: rows });
      } catch {
        for (let by = y; by < y + rows; by += bh)
          for (let bx = 0; bx < info.width; bx += bw) {
            try {
              await reader.read({ x: bx, y: by, width: Math.min(bw, info.width - bx), height: Math.min(bh, info.height - by) });
            } catch (err) {
              // Decoders throw strings too (pako: "invalid code lengths set").
              const why = err instanceof Error ? err.message : String(err);
              bad++;
              const col = bx / bw;
              const row = by / bh;
              if (bad <= 100)
                check.error(
                  `${relPath}: block ${row * across + col} (column ${col}, row ${row}) cannot be decoded: ${why.split(info.path).join(relPath)}`,
                );
            }
          }
      }
      onRows(rows);
    }
  } finally {
    await reader.close();
  }
  if (bad > 100) check.error(`${relPath}: ${bad} blocks cannot be decoded in all`);
  return bad;
}

/** How the check names where an image's georeferencing came from. */
const GEOREF_SOURCES: Record<RasterInfo['georefSource'], string> = {
  geotiff: 'GeoKeys',
  worldfile: 'world file',
  geojp2: 'GeoJP2 box',
  gmljp2: 'GMLJP2 box',
};

/**
 * The raster check of deliveries (issue 11): every image is a GeoTIFF, a TIFF + world file or a JPEG 2000
 * (.jp2, .j2k), georeferenced by its GeoKeys, GeoJP2 or GMLJP2 box or world file (.tfw, .j2w), with the
 * upload's `srs` for images that declare no CRS; every block (JPEG 2000: every tile) decodes; all images share band count, sample type and CRS.
 * It reports the images' union bbox, resolution and size in the upload's type_infos.
 */
export default uploadCheckProcess({
  id: 'check-raster',
  name: 'raster',
  title: 'Upload check: raster',
  description:
    "Reads every image of an upload (GeoTIFF, TIFF + world file with the upload's srs, or JPEG 2000 georeferenced by GeoJP2, GMLJP2 or a .j2w world file), decodes every block and names the corrupt ones; all images must share band count, sample type and CRS. Reports their union bbox, resolution and size.",
  async run(check) {
    const paths = [...check.files.keys()].sort();
    const images = paths.filter((p) => UPLOAD_IMAGE.test(p));
    for (const p of paths) {
      if (OTHER_IMAGE.test(p)) check.error(`${p}: not a format of raster deliveries (GeoTIFF, TIFF + TFW or JPEG2000)`);
      else if (!UPLOAD_IMAGE.test(p) && !SIDECAR.test(p)) check.info(`${p}: not an image, not read`);
    }
    if (images.length === 0) {
      check.error('the upload holds no image (.tif, .tiff, .jp2)');
      return undefined;
    }
    // Files may have been replaced at the same paths since they were last decoded (reopen, send again).
    forgetDecodedFiles();
    const infos: Array<{ relPath: string; info: RasterInfo }> = [];
    for (const relPath of images) {
      check.signal.throwIfAborted();
      try {
        const info = await describeRasterAt(check.at(relPath), { fallbackSrs: check.upload.srs });
        infos.push({ relPath, info });
      } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).split(rasterLocationName(check.at(relPath))).join(relPath);
        check.error(why.startsWith(relPath) ? why : `${relPath}: ${why}`);
      }
    }
    const totalRows = infos.reduce((n, { info }) => n + info.height, 0);
    let rowsDone = 0;
    for (const { relPath, info } of infos) {
      const bad = await readEveryBlock(check, relPath, info, (rows) => {
        rowsDone += rows;
        check.progress((100 * rowsDone) / Math.max(1, totalRows), `${relPath}: reading blocks`);
      });
      if (bad === 0)
        check.info(
          `${relPath}: ${info.width}x${info.height}, ${info.bands} ${info.sampleType} band(s), ${info.crs.id} (${GEOREF_SOURCES[info.georefSource]}), ${info.compressionName}, every block decodes`,
        );
    }
    if (infos.length === 0) return undefined;
    const first = infos[0];
    for (const { relPath, info } of infos.slice(1)) {
      if (info.bands !== first.info.bands || info.sampleType !== first.info.sampleType)
        check.error(
          `${relPath} has ${info.bands} ${info.sampleType} band(s) while ${first.relPath} has ${first.info.bands} ${first.info.sampleType}: all images must share them`,
        );
      if (!sameCrs(info.crs, first.info.crs))
        check.error(`${relPath} is in ${info.crs.id} while ${first.relPath} is in ${first.info.crs.id}: all images must share their CRS`);
    }
    const bbox: Bbox = [Infinity, Infinity, -Infinity, -Infinity];
    let resX = Infinity;
    let resY = Infinity;
    for (const { info } of infos) {
      bbox[0] = Math.min(bbox[0], info.bbox[0]);
      bbox[1] = Math.min(bbox[1], info.bbox[1]);
      bbox[2] = Math.max(bbox[2], info.bbox[2]);
      bbox[3] = Math.max(bbox[3], info.bbox[3]);
      resX = Math.min(resX, Math.abs(info.geoTransform[1]));
      resY = Math.min(resY, Math.abs(info.geoTransform[5]));
    }
    const size = [Math.round((bbox[2] - bbox[0]) / resX), Math.round((bbox[3] - bbox[1]) / resY)];
    check.info(
      `${infos.length} image(s) in ${first.info.crs.id}: bbox ${bbox.join(', ')}, resolution ${resX} x ${resY}, ${size[0]}x${size[1]} pixels`,
    );
    return {
      raster: {
        images: infos.length,
        srs: first.info.crs.id,
        bands: first.info.bands,
        sample_type: first.info.sampleType,
        bbox,
        resolution: [resX, resY],
        size,
      },
    };
  },
});
