/**
 * World files (.tfw / .tifw / .wld) beside a raster: six lines A, D, B, E, C, F where (C, F) is the
 * centre of the top-left pixel. We convert to GDAL's pixel-corner geotransform.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** GDAL geotransform [x0, dx, rx, y0, ry, dy] (pixel-corner convention). */
export type GeoTransform = [number, number, number, number, number, number];

/** Parses a world file text into a pixel-corner geotransform; undefined when malformed. */
export function parseWorldFile(text: string): GeoTransform | undefined {
  const values = text.trim().split(/\s+/).slice(0, 6).map(Number);
  if (values.length < 6 || values.some((v) => !Number.isFinite(v))) return undefined;
  const [a, d, b, e, c, f] = values;
  // (c, f) is the centre of pixel (0, 0): move half a pixel back along both pixel axes.
  return [c - 0.5 * a - 0.5 * b, a, b, f - 0.5 * d - 0.5 * e, d, e];
}

/** World-file names GDAL looks for beside `image.tif`, in its order. */
export function worldFileCandidates(rasterPath: string): string[] {
  const ext = path.extname(rasterPath);
  const base = rasterPath.slice(0, rasterPath.length - ext.length);
  const e = ext.slice(1);
  // GDAL tries <first+last letter>w (tfw), <ext>w (tifw), then .wld, each in lower and upper case.
  const short = e.length >= 2 ? `${e[0]}${e[e.length - 1]}w` : `${e}w`;
  const names = [short, `${e}w`, 'wld'];
  const out: string[] = [];
  for (const n of names) {
    out.push(`${base}.${n.toLowerCase()}`, `${base}.${n.toUpperCase()}`);
  }
  return [...new Set(out)];
}

/** The text of the file named `name`, or undefined when there is none. */
export type ReadText = (name: string) => Promise<string | undefined>;

/** {@link ReadText} of local files. */
export const readLocalText: ReadText = (name) => readFile(name, 'utf8').catch(() => undefined);

/**
 * Reads the first world file found beside a raster; undefined when none exists or it is malformed.
 * `readText` reads the candidates: local files by default, objects of a Storage for a raster kept there.
 */
export async function readWorldFile(
  rasterPath: string,
  readText: ReadText = readLocalText,
): Promise<{ file: string; geoTransform: GeoTransform } | undefined> {
  for (const file of worldFileCandidates(rasterPath)) {
    const text = await readText(file);
    if (text === undefined) continue;
    const geoTransform = parseWorldFile(text);
    if (geoTransform) return { file, geoTransform };
  }
  return undefined;
}
