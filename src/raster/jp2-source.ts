/**
 * JPEG 2000 sources (JP2 files and bare codestreams) behind the same RasterInfo / window reader as
 * GeoTIFFs (issue 11, "JPEG2000 everywhere images are read"). Georeferencing as GDAL reads it: a
 * GeoJP2 box (a degenerate GeoTIFF in a `uuid` box), else a GMLJP2 box (GML RectifiedGrid in an `xml `
 * box), else a world file (.j2w), with the declared or fallback CRS as for TIFFs.
 *
 * Pixels: the JP2 resolution levels are the overviews (level k halves k times), and a window is decoded
 * from the tiles it touches only, cut out of the file (jp2-codestream.ts) and decoded by OpenJPEG in
 * WebAssembly (jp2-decoder.ts), at most a bounded number of tile pixels per decode.
 */
import { fromArrayBuffer } from 'geotiff';
import { resolveCrs, type CrsInfo, UnknownCrsError } from './crs.js';
import {
  type DescribeOptions,
  type RasterInfo,
  RasterSourceError,
  type RasterWindow,
  type RasterWindowReader,
  type GeoTransform,
  levelInside,
  maskFromNodata,
  rasterBbox,
  geoTransformFromTags,
  crsFromGeoKeys,
} from './geotiff-source.js';
import { assembleSubCodestream, subCodestreamOrigin, subCodestreamSize, type SubCodestreamRequest } from './jp2-codestream.js';
import { decodeCodestream } from './jp2-decoder.js';
import { type Jp2Bytes, type Jp2Structure, Jp2StructureError, readJp2Structure, readTileIndex, type TileIndex } from './jp2-structure.js';
import { readWorldFile, type ReadText } from './tfw.js';
import { type ByteSource, openFileBytes, openStoredBytes } from './byte-source.js';
import { storageOf } from '../storage/factory.js';

/** Decoded pixels per decode call (at the level read): bounds OpenJPEG's memory (4 bytes a sample inside). */
const MAX_PIXELS_PER_DECODE = 4 * 1024 * 1024;
/** A tile larger than this (at the level read) is refused: it would be decoded whole for any window. */
const MAX_TILE_PIXELS = 64 * 1024 * 1024;

function structureError(err: unknown): unknown {
  if (err instanceof Jp2StructureError) return new RasterSourceError(err.truncated ? 'TRUNCATED' : 'CORRUPT', err.message);
  return err;
}

async function georefFromGeoJp2(box: Buffer, file: string): Promise<{ gt?: GeoTransform; crs?: CrsInfo }> {
  try {
    const bytes = box.buffer.slice(box.byteOffset, box.byteOffset + box.length) as ArrayBuffer;
    const tiff = await fromArrayBuffer(bytes);
    const image = await tiff.getImage(0);
    return { gt: geoTransformFromTags(image), crs: crsFromGeoKeys(image, file) };
  } catch (err) {
    if (err instanceof RasterSourceError) throw err;
    return {};
  }
}

/** GMLJP2 (OGC 05-047r3): RectifiedGrid origin (centre of the first pixel) and offset vectors. */
function georefFromGml(gml: string, file: string): { gt?: GeoTransform; crs?: CrsInfo } {
  const grid = /<(?:gml:)?RectifiedGrid[\s\S]*?<\/(?:gml:)?RectifiedGrid>/.exec(gml)?.[0];
  if (!grid) return {};
  const origin = /<(?:gml:)?origin>[\s\S]*?<(?:gml:)?(?:pos|coordinates)>([^<]+)</.exec(grid)?.[1];
  const vectors = [...grid.matchAll(/<(?:gml:)?offsetVector[^>]*>([^<]+)</g)].map((m) =>
    m[1]
      .trim()
      .split(/[\s,]+/)
      .map(Number),
  );
  const srsName = /srsName="([^"]+)"/.exec(grid)?.[1];
  if (!origin || vectors.length < 2) return {};
  let o = origin
    .trim()
    .split(/[\s,]+/)
    .map(Number);
  let [v1, v2] = vectors;
  let crs: CrsInfo | undefined;
  const code = srsName ? /EPSG:(?:[\d.]*:)?:?(\d+)$/.exec(srsName)?.[1] : undefined;
  if (code) {
    try {
      crs = resolveCrs(`EPSG:${code}`);
    } catch (err) {
      if (err instanceof UnknownCrsError)
        throw new RasterSourceError('UNKNOWN_CRS', `${file}: its GMLJP2 box names EPSG:${code}, which is not a known CRS`);
      throw err;
    }
    // URNs follow the EPSG axis order: latitude first for geographic CRSs (GDAL swaps them the same way).
    if (crs.geographic && srsName?.startsWith('urn:')) {
      o = [o[1], o[0]];
      v1 = [v1[1], v1[0]];
      v2 = [v2[1], v2[0]];
    }
  }
  if ([...o, ...v1, ...v2].some((v) => !Number.isFinite(v))) return {};
  const gt: GeoTransform = [o[0] - 0.5 * v1[0] - 0.5 * v2[0], v1[0], v2[0], o[1] - 0.5 * v1[1] - 0.5 * v2[1], v1[1], v2[1]];
  return { gt, ...(crs ? { crs } : {}) };
}

function declared(srs: string, what: string): CrsInfo {
  try {
    return resolveCrs(srs);
  } catch (err) {
    throw new RasterSourceError('UNKNOWN_CRS', `${what}: ${(err as Error).message}`);
  }
}

/** A JPEG 2000 file or object to describe. */
export interface Jp2Source {
  /** How messages name it: the path, or the object's URL. */
  name: string;
  bytes: Jp2Bytes;
  byteSize: number;
  modified: number;
  /** Set for an object of a Storage: worker threads reopen it there. */
  object?: RasterInfo['object'];
  /** Reads the world files beside it (local files when absent). */
  readText?: ReadText;
}

/** Describes a JPEG 2000 file (main thread): boxes, main header and tile-part index, no pixel decoded. */
export async function describeJp2(src: Jp2Source, options: DescribeOptions): Promise<RasterInfo> {
  const { name: file, byteSize, modified } = src;
  let s: Jp2Structure;
  try {
    s = await readJp2Structure(src.bytes, file, byteSize);
    await readTileIndex(src.bytes, file, s);
  } catch (err) {
    throw structureError(err);
  }
  const bands = s.components.length;
  const comp = s.components[0];
  if (!(bands === 1 || bands === 3) || s.components.some((c) => c.precision !== 8 || c.signed || c.dx !== 1 || c.dy !== 1)) {
    throw new RasterSourceError(
      'UNSUPPORTED_SAMPLE_FORMAT',
      `${file} has ${bands} component(s) of ${comp.signed ? 'int' : 'uint'}${comp.precision}${s.components.some((c) => c.dx !== 1 || c.dy !== 1) ? ' (subsampled)' : ''}: JPEG 2000 images are read with 1 or 3 unsigned 8-bit components, not subsampled`,
    );
  }
  if (s.x0 !== 0 || s.y0 !== 0 || s.tileX0 !== 0 || s.tileY0 !== 0)
    throw new RasterSourceError(
      'UNSUPPORTED_FORMAT',
      `${file}: its codestream's image or tiles do not start at the grid origin (XOsiz, YOsiz, XTOsiz, YTOsiz), which is not read`,
    );
  if (s.hasPpm) throw new RasterSourceError('UNSUPPORTED_FORMAT', `${file}: packed packet headers in the main header (PPM) are not read`);

  let gt: GeoTransform | undefined;
  let crs: CrsInfo | undefined;
  let georefSource: RasterInfo['georefSource'] = 'geojp2';
  if (s.geoJp2) ({ gt, crs } = await georefFromGeoJp2(s.geoJp2, file));
  if (!gt && s.gmlJp2 !== undefined) {
    ({ gt, crs } = georefFromGml(s.gmlJp2, file));
    georefSource = 'gmljp2';
  }
  if (options.srs) crs = declared(options.srs, 'srs option');
  if (!crs && options.fallbackSrs) crs = declared(options.fallbackSrs, 'declared srs');
  if (!gt) {
    const world = await readWorldFile(src.object ? src.object.key : file, src.readText);
    if (world) {
      gt = world.geoTransform;
      georefSource = 'worldfile';
    }
  }
  if (!gt)
    throw new RasterSourceError(
      'NO_GEOREFERENCING',
      `${file} is not georeferenced: no GeoJP2 or GMLJP2 box and no world file (.j2w) beside it`,
    );
  if (!crs)
    throw new RasterSourceError(
      'NO_GEOREFERENCING',
      `${file} has no CRS: ${georefSource === 'worldfile' ? 'a world file carries none' : 'its boxes name none'}; declare it with the srs option`,
    );

  const width = s.x1;
  const height = s.y1;
  let nodata: number[] | null = null;
  if (options.nodata !== undefined) {
    nodata = Array.isArray(options.nodata) ? [...options.nodata] : new Array(bands).fill(options.nodata);
    if (nodata.length !== bands) throw new RasterSourceError('UNREADABLE', `nodata option has ${nodata.length} values for ${bands} bands`);
  }
  const levels = Math.min(...[s.coding, ...s.componentCoding.values()].map((c) => c.levels));
  const overviews: RasterInfo['overviews'] = [];
  for (let k = 1; k <= levels; k++) overviews.push({ width: Math.ceil(width / 2 ** k), height: Math.ceil(height / 2 ** k), ifd: k });
  return {
    path: file,
    ...(src.object ? { object: src.object } : {}),
    format: 'jp2',
    width,
    height,
    bands,
    sampleType: 'uint8',
    crs,
    geoTransform: gt,
    georefSource,
    bbox: rasterBbox(gt, width, height),
    nodata,
    mask: nodata ? 'nodata' : 'none',
    ifd: 0,
    overviews,
    tiled: true,
    blockWidth: Math.min(width, s.tileWidth),
    blockHeight: Math.min(height, s.tileHeight),
    compression: 34712,
    compressionName: 'jpeg2000',
    photometric: bands === 3 ? 2 : 1,
    predictor: 1,
    bigTiff: false,
    byteSize,
    modified,
  };
}

/** What a worker keeps of an open JPEG 2000 file. */
interface OpenJp2 {
  bytes: ByteSource;
  structure: Jp2Structure;
  tiles: TileIndex;
  mainHeader: Buffer;
}

const opened = new Map<string, Promise<OpenJp2>>();

function keyOf(info: RasterInfo): string {
  return `${info.path}\u0000${info.modified}`;
}

function openJp2(info: RasterInfo): Promise<OpenJp2> {
  const key = keyOf(info);
  let p = opened.get(key);
  if (!p) {
    p = (async () => {
      const object = info.object;
      const bytes = object ? await openStoredBytes(storageOf(object.storage), object.key) : await openFileBytes(info.path);
      try {
        const structure = await readJp2Structure(bytes, info.path, info.byteSize);
        const tiles = await readTileIndex(bytes, info.path, structure);
        const mainHeader = await bytes.read(structure.codestreamStart, structure.mainHeaderEnd - structure.codestreamStart);
        return { bytes, structure, tiles, mainHeader };
      } catch (err) {
        await bytes.close();
        throw structureError(err);
      }
    })();
    opened.set(key, p);
    p.catch(() => opened.delete(key));
  }
  return p;
}

/** Closes every JPEG 2000 file this thread holds open. */
export async function closeJp2Sources(): Promise<void> {
  const all = [...opened.values()];
  opened.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.bytes.close()));
}

/** Decodes tiles [tx0, tx1) × [ty0, ty1) at `reduce` and copies their part of the window into `out`. */
async function decodeInto(
  j: OpenJp2,
  info: RasterInfo,
  r: SubCodestreamRequest,
  reduce: number,
  win: { x: number; y: number; width: number; height: number },
  out: Uint8Array,
): Promise<void> {
  const s = j.structure;
  const parts = new Map<number, Buffer[]>();
  for (let ty = r.ty0; ty < r.ty1; ty++)
    for (let tx = r.tx0; tx < r.tx1; tx++) {
      const t = ty * s.tilesAcross + tx;
      const list: Buffer[] = [];
      for (const part of j.tiles[t]) {
        const b = await j.bytes.read(part.start, part.end - part.start);
        if (b.length !== part.end - part.start)
          throw new RasterSourceError('TRUNCATED', `${info.path} is truncated: tile ${t} ends past the end of the file`);
        list.push(b);
      }
      parts.set(t, list);
    }
  const size = subCodestreamSize(s, r);
  const scale = 2 ** reduce;
  const width = Math.ceil(size.width / scale);
  const height = Math.ceil(size.height / scale);
  const codestream = assembleSubCodestream(s, j.mainHeader, r, parts);
  let decoded: Uint8Array;
  try {
    decoded = (await decodeCodestream(codestream, reduce, { width, height, components: info.bands })).data;
  } catch (err) {
    const tiles = `tiles ${r.ty0 * s.tilesAcross + r.tx0}–${(r.ty1 - 1) * s.tilesAcross + r.tx1 - 1}`;
    throw new RasterSourceError('CORRUPT', `${info.path}: ${tiles} do not decode (${err instanceof Error ? err.message : String(err)})`);
  }
  // The sub-image starts at tile (tx0, ty0): level coordinates (tx0·tileWidth / 2^reduce, …), exact
  // since the origin is a multiple of 2^NL (jp2-codestream.ts).
  const ox = (r.tx0 * s.tileWidth) / scale;
  const oy = (r.ty0 * s.tileHeight) / scale;
  const x0 = Math.max(win.x, ox);
  const x1 = Math.min(win.x + win.width, ox + width);
  const y0 = Math.max(win.y, oy);
  const y1 = Math.min(win.y + win.height, oy + height);
  const c = info.bands;
  for (let y = y0; y < y1; y++) {
    const from = ((y - oy) * width + (x0 - ox)) * c;
    out.set(decoded.subarray(from, from + (x1 - x0) * c), ((y - win.y) * win.width + (x0 - win.x)) * c);
  }
}

/**
 * Window reader of a JPEG 2000 source (worker thread). A window at overview k is decoded at resolution
 * reduction k from the tiles it touches, a tile row at a time and at most MAX_PIXELS_PER_DECODE pixels
 * per decode.
 */
export function openJp2Windows(info: RasterInfo): RasterWindowReader {
  return {
    info,
    async read(request) {
      const level = levelInside(info, request);
      const { x, y, width, height } = request;
      const j = await openJp2(info);
      const s = j.structure;
      const reduce = request.overview === undefined ? 0 : level.ifd;
      const scale = 2 ** reduce;
      const tw = Math.ceil(s.tileWidth / scale);
      const th = Math.ceil(s.tileHeight / scale);
      if (tw * th > MAX_TILE_PIXELS)
        throw new RasterSourceError(
          'UNSUPPORTED_FORMAT',
          `${info.path} has tiles of ${s.tileWidth}x${s.tileHeight}: too large to decode a window (re-encode it in tiles, e.g. gdal_translate -of JP2OpenJPEG -co BLOCKXSIZE=1024 -co BLOCKYSIZE=1024)`,
        );
      // Tiles of the window, in level coordinates: tile t covers [t·tileWidth/2^k, (t+1)·tileWidth/2^k).
      const tx0 = Math.floor((x * scale) / s.tileWidth);
      const tx1 = Math.floor(((x + width) * scale - 1) / s.tileWidth) + 1;
      const ty0 = Math.floor((y * scale) / s.tileHeight);
      const ty1 = Math.floor(((y + height) * scale - 1) / s.tileHeight) + 1;
      // Groups of at most `budget` tiles: as many columns as fit, then as many rows of them as fit. A
      // group whose origin had to step back (jp2-codestream.ts) decodes the tiles in between too.
      const budget = Math.max(1, Math.floor(MAX_PIXELS_PER_DECODE / (tw * th)));
      const columns = Math.min(tx1 - tx0, budget);
      const rows = Math.max(1, Math.floor(budget / columns));
      const out = new Uint8Array(width * height * info.bands);
      for (let ty = ty0; ty < ty1; ) {
        const lastRow = Math.min(ty1, ty + rows) - 1;
        const oy = subCodestreamOrigin(s, 'y', ty, lastRow);
        for (let tx = tx0; tx < tx1; tx += columns) {
          const lastColumn = Math.min(tx1, tx + columns) - 1;
          const ox = subCodestreamOrigin(s, 'x', tx, lastColumn);
          await decodeInto(j, info, { tx0: ox, tx1: lastColumn + 1, ty0: oy, ty1: lastRow + 1 }, reduce, { x, y, width, height }, out);
        }
        ty = lastRow + 1;
      }
      const mask = info.mask === 'nodata' && info.nodata ? maskFromNodata(out, info.bands, info.nodata) : undefined;
      const window: RasterWindow = { data: out, ...(mask ? { mask } : {}), width, height, channels: info.bands };
      return window;
    },
    async close() {
      const key = keyOf(info);
      const p = opened.get(key);
      opened.delete(key);
      await (await p?.catch(() => undefined))?.bytes.close();
    },
  };
}
