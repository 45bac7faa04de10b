import { ApiError, invalidInput } from '../../src/errors.js';
import { InputFile } from '../../src/process/inputs.js';
import type { Process, ProcessContext } from '../../src/process/types.js';
import { UnknownCrsError } from '../../src/raster/crs.js';
import { describeRaster, RasterSourceError, type RasterInfo } from '../../src/raster/geotiff-source.js';
import type { KernelName } from '../../src/raster/kernels.js';
import { BUILT_IN_TMS_NAMES, loadTms, TmsError, type TileMatrixSet } from '../../src/raster/tms.js';
import type { Compression } from '../../src/rok4/formats.js';
import { generatePyramid } from './generate.js';
import { loadAncestor, referenceAncestor, refuseInherited, unionLimits, type Ancestor } from './update.js';
import { slabOfListPath } from '../pyramids-to-pyramid/merge-plan.js';
import { PYRAMID_TYPE, pyramidTypeInfos } from '../../src/datastore/pyramid-infos.js';
import { describeStorage } from '../../src/storage/factory.js';
import { nodataValues } from '../../src/rok4/descriptor.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { planPyramid, PlanError, type PyramidPlan } from './plan.js';
import type { SlabSpec } from './slab-encoder.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';

const COMPRESSIONS: Compression[] = ['raw', 'jpg', 'jpg90', 'png', 'zip', 'lzw', 'pkb'];

interface Options {
  images: InputFile[];
  name: string;
  tms: string;
  compression: Compression;
  interpolation: KernelName;
  mask: boolean;
  bottom?: string;
  top?: string;
  width: number;
  height: number;
  nodata?: number[];
  srs?: string;
}

/** Everything checked before work: rasters described, TMS loaded, levels and slabs planned. */
interface Checked {
  options: Options;
  infos: RasterInfo[];
  tms: TileMatrixSet;
  plan: PyramidPlan;
  spec: SlabSpec;
  /** Update by chaining (rok4.md §8.7): the pyramid the new one starts from. */
  ancestor?: Ancestor;
}

/** Options an update takes from its ancestor's descriptor (rok4.md §8.7.1). */
function inheritedOptions(options: Options, ancestor: Ancestor): Options {
  const d = ancestor.descriptor;
  const format = parseFormat(d.format);
  const specs = d.raster_specifications!;
  return {
    ...options,
    tms: d.tile_matrix_set,
    compression: format.compression,
    interpolation: specs.interpolation,
    mask: !!d.mask_format,
    width: d.levels[0].tiles_per_width,
    height: d.levels[0].tiles_per_height,
    nodata: nodataValues(specs),
    // descriptor levels are written top → bottom
    bottom: d.levels[d.levels.length - 1].id,
    top: d.levels[0].id,
  };
}

function readOptions(inputs: Record<string, unknown>): Options {
  const images = inputs.images as InputFile[];
  const nodata = inputs.nodata === undefined ? undefined : Array.isArray(inputs.nodata) ? (inputs.nodata as number[]) : [inputs.nodata as number];
  return {
    images,
    name: inputs.name as string,
    tms: inputs.tms as string,
    compression: (inputs.compression as Compression | undefined) ?? 'raw',
    interpolation: (inputs.interpolation as KernelName | undefined) ?? 'bicubic',
    mask: (inputs.mask as boolean | undefined) ?? false,
    bottom: inputs.bottom as string | undefined,
    top: inputs.top as string | undefined,
    width: (inputs.width as number | undefined) ?? 16,
    height: (inputs.height as number | undefined) ?? 16,
    nodata,
    srs: inputs.srs as string | undefined,
  };
}

/** Turns reader errors into 400s naming the image (rok4.md §8.1: images must be checked GDAL-readable). */
async function describeAll(options: Options): Promise<RasterInfo[]> {
  const infos: RasterInfo[] = [];
  for (const [i, image] of options.images.entries()) {
    const label = `images[${i}]`;
    try {
      infos.push(await describeRaster(image.path, { srs: options.srs, nodata: options.nodata?.length === 1 ? options.nodata[0] : options.nodata }));
    } catch (err) {
      if (err instanceof RasterSourceError || err instanceof UnknownCrsError) throw invalidInput(label, `${err.message} (${image.origin})`);
      throw invalidInput(label, `cannot be read as a GeoTIFF: ${(err as Error).message}`);
    }
  }
  return infos;
}

async function check(inputs: Record<string, unknown>, ctx: Pick<ProcessContext, 'datastore' | 'options' | 'storage'>): Promise<Checked> {
  let options = readOptions(inputs);
  if (ctx.datastore.findByName(options.name)) throw invalidInput('name', `a stored data named '${options.name}' already exists`);
  let ancestor: Ancestor | undefined;
  if (inputs.stored_data !== undefined) {
    refuseInherited(inputs);
    ancestor = await loadAncestor(ctx.datastore, ctx.storage, inputs.stored_data as string);
    options = inheritedOptions(options, ancestor);
  } else if (inputs.tms === undefined) {
    throw invalidInput('tms', 'is required for a new pyramid (only an update, with stored_data, takes it from the existing pyramid)');
  }
  const infos = await describeAll(options);
  const first = infos[0];
  infos.forEach((info, i) => {
    if (info.bands !== first.bands || info.sampleType !== first.sampleType) {
      throw invalidInput(`images[${i}]`, `has ${info.bands} ${info.sampleType} band(s) while images[0] has ${first.bands} ${first.sampleType} band(s); all images must share them`);
    }
  });
  const pixels = infos.reduce((n, i) => n + i.width * i.height, 0);
  const maxPixels = Number(ctx.options.max_pixels ?? Infinity);
  if (pixels > maxPixels) throw invalidInput('images', `${pixels} pixels in all, more than the configured limit of ${maxPixels} (server.limits.max_pixels)`);

  // Channels written: the source bands, except that JPEG holds RGB only (rok4.md §11.8): an alpha band is
  // dropped (the mask carries transparency) and gray images are refused.
  let channels = first.bands;
  const jpeg = options.compression === 'jpg' || options.compression === 'jpg90';
  if (first.sampleType === 'float32' && (jpeg || options.compression === 'png')) throw invalidInput('compression', `${options.compression} cannot hold float32 images; use raw, zip, lzw or pkb`);
  if (jpeg) {
    if (first.bands < 3) throw invalidInput('compression', `${options.compression} needs RGB images; images have ${first.bands} band(s)`);
    channels = 3;
  }
  if (first.sampleType === 'float32' && first.bands !== 1) throw invalidInput('images', 'float32 images must have one band (DTM)');
  if (ancestor) {
    const specs = ancestor.descriptor.raster_specifications!;
    const ancestorType = parseFormat(ancestor.descriptor.format).sampleType;
    // Images with an alpha band may update a pyramid without one (the mask carries transparency).
    if (first.sampleType !== ancestorType || (channels !== specs.channels && !(channels === specs.channels + 1 && (channels === 2 || channels === 4)))) {
      throw invalidInput('images', `have ${first.bands} ${first.sampleType} band(s); the pyramid '${ancestor.record.name}' holds ${specs.channels} ${ancestorType} channel(s)`);
    }
    channels = specs.channels;
  }
  const nodata = options.nodata ?? [];
  if (nodata.length > 1 && nodata.length < channels) throw invalidInput('nodata', `gives ${nodata.length} values for ${channels} channels`);
  const outputNodata = Array.from({ length: channels }, (_, c) => nodata[nodata.length === 1 ? 0 : c] ?? (first.sampleType === 'uint8' ? 255 : -99999));
  if (first.sampleType === 'uint8' && outputNodata.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) throw invalidInput('nodata', 'values must be integers 0..255 for 8-bit images');

  let tms: TileMatrixSet;
  try {
    tms = await loadTms(options.tms, (ctx.options.tms_folders as string[] | undefined) ?? []);
  } catch (err) {
    if (err instanceof TmsError) throw invalidInput('tms', err.message);
    throw err;
  }
  let plan: PyramidPlan;
  try {
    plan = planPyramid(tms, infos, { bottom: options.bottom, top: options.top, slab: { tilesPerWidth: options.width, tilesPerHeight: options.height } });
  } catch (err) {
    if (err instanceof PlanError) throw invalidInput(err.input, err.message);
    throw err;
  }
  const tm = plan.levels[0].tm;
  const spec: SlabSpec = {
    tileWidth: tm.tileWidth, tileHeight: tm.tileHeight, tilesPerWidth: options.width, tilesPerHeight: options.height,
    channels, sampleType: first.sampleType, compression: options.compression, mask: options.mask, nodata: outputNodata,
  };
  return { options, infos, tms, plan, spec, ancestor };
}

/** The reason of a failure, whatever was thrown (errors from worker threads may lose their prototype). */
function reasonOf(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return String(err);
}

/**
 * raster-to-pyramid: the Géoplateforme "Calcul de pyramide raster" (rok4.md §8) as an OGC process.
 * Images → a ROK4 pyramid in storage, recorded as a stored data whose status turns READY once the
 * descriptor (the commit point) is written; a failure or a dismiss removes what was written.
 */
const rasterToPyramid: Process = {
  description: {
    id: 'raster-to-pyramid',
    version: '1.0.0',
    title: 'Raster pyramid (ROK4)',
    description: 'Computes a ROK4 raster tile pyramid from georeferenced images (GeoTIFF, or TIFF + world file with `srs`). The bottom level is warped once from the source pixels with the chosen kernel; upper levels average their four children, ignoring masked pixels. Long: runs asynchronously and reports slabs done / slabs planned.',
    keywords: ['ROK4', 'pyramid', 'tiles', 'raster', 'WMTS', 'BE4'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      images: {
        title: 'Images',
        description: 'GeoTIFF images (uint8 with 1–4 bands, or float32 with 1 band), by href (file: under the input root, or http(s) from allowed hosts) or inline base64. All must share band count and sample type.',
        schema: { type: 'string', format: 'binary', contentEncoding: 'binary', contentMediaType: 'image/tiff; application=geotiff' },
        minOccurs: 1,
        maxOccurs: 'unbounded',
      },
      name: { title: 'Pyramid name', description: 'Name of the output pyramid (its descriptor is <name>.json).', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' }, minOccurs: 1, maxOccurs: 1 },
      tms: { title: 'Tile matrix set', description: `Grid of the pyramid: ${BUILT_IN_TMS_NAMES.join(', ')} built in, or the name of a ROK4 TMS file in a configured tms_folders folder. Required for a new pyramid.`, schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' }, minOccurs: 0, maxOccurs: 1 },
      compression: { title: 'Compression', description: 'Tile compression (rok4.md §3.2): raw (ROK4 default), jpg (q75), jpg90, png, zip, lzw, pkb. JPEG needs RGB images.', schema: { type: 'string', enum: COMPRESSIONS, default: 'raw' }, minOccurs: 0, maxOccurs: 1 },
      interpolation: { title: 'Interpolation', description: 'Kernel of the bottom level resampling (rok4.md §8.4).', schema: { type: 'string', enum: ['nn', 'linear', 'bicubic', 'lanczos'], default: 'bicubic' }, minOccurs: 0, maxOccurs: 1 },
      mask: { title: 'Masks', description: 'Write mask slabs and keep nodata out of averages; needed for later updates and merges.', schema: { type: 'boolean', default: false }, minOccurs: 0, maxOccurs: 1 },
      bottom: { title: 'Bottom level', description: 'Finest level id; default: the level closest to the images\' resolution (rok4.md §8.2).', schema: { type: 'string' }, minOccurs: 0, maxOccurs: 1 },
      top: { title: 'Top level', description: 'Coarsest level id; default: the top of the TMS.', schema: { type: 'string' }, minOccurs: 0, maxOccurs: 1 },
      width: { title: 'Tiles per slab (width)', schema: { type: 'integer', minimum: 2, maximum: 64, default: 16 }, minOccurs: 0, maxOccurs: 1 },
      height: { title: 'Tiles per slab (height)', schema: { type: 'integer', minimum: 2, maximum: 64, default: 16 }, minOccurs: 0, maxOccurs: 1 },
      nodata: { title: 'Nodata', description: 'Nodata value of the images (one for all bands or one per band), e.g. 255 for the white collar of scans; also written under mask 0. Default: the images\' GDAL_NODATA tag for detection, 255 (uint8) or -99999 (float32) for output.', schema: { oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 }] }, minOccurs: 0, maxOccurs: 1 },
      stored_data: { title: 'Pyramid to update', description: 'Id of a READY pyramid to update by chaining (rok4.md §8.7): the new pyramid takes tms, format, slab size, channels, nodata, interpolation, masks and levels from it (do not give those inputs), references every slab the new images do not touch, and recomputes the others with the old pixels as background.', schema: { type: 'string', format: 'ogc-stored-data' }, minOccurs: 0, maxOccurs: 1 },
      srs: { title: 'Images CRS', description: 'CRS of the images when their files declare none (TIFF + TFW), e.g. EPSG:2154; overrides the files\' CRS.', schema: { type: 'string' }, minOccurs: 0, maxOccurs: 1 },
    },
    outputs: {
      pyramid: { title: 'Pyramid', description: 'The stored data record of the pyramid: id, name, type, tms, format, levels with tile limits, bbox in the TMS CRS and in WGS84, size, descriptor href.', schema: { type: 'object', contentMediaType: 'application/json' } },
    },
    example: {
      inputs: {
        images: [{ href: 'file:///data/inputs/scan.tif' }],
        name: 'SCAN_CORSE',
        tms: 'PM',
        compression: 'jpg90',
        interpolation: 'bicubic',
        mask: true,
        nodata: 255,
      },
    },
  },

  async precheck(inputs, ctx) {
    await check(inputs, ctx);
  },

  async execute(inputs, ctx) {
    const { options, infos, tms, plan, spec, ancestor } = await check(inputs, ctx);
    const releaseAncestor = ancestor ? ctx.datastore.lockForRead([ancestor.record._id]) : () => {};
    const { record, release } = await ctx.datastore.createForWrite({
      name: options.name, type: PYRAMID_TYPE, jobId: ctx.jobId, ...(ancestor ? { use: [ancestor.record._id] } : {}),
      storage: { type: ctx.storage.type, key: `${options.name}.json`, href: ctx.storage.url(`${options.name}.json`) },
    });
    let owners = new Set<string>();
    try {
      ctx.progress(0, `${plan.totalSlabs} slabs planned on ${plan.levels.length} levels`);
      const ancestorSlabs = new Set<string>();
      if (ancestor) {
        for (const entry of ancestor.list.entries()) {
          const slab = slabOfListPath(entry.path);
          if (slab?.kind === 'DATA') ancestorSlabs.add(`${slab.level}/${slab.col}/${slab.row}`);
        }
      }
      const result = await generatePyramid({
        storage: ctx.storage, pool: ctx.pool, signal: ctx.signal, progress: ctx.progress,
        name: options.name, tms, plan, spec, interpolation: options.interpolation, images: infos,
        ...(ancestor ? {
          ancestor: { storage: describeStorage(ctx.storage), name: ancestor.record.name, has: (level: string, col: number, row: number) => ancestorSlabs.has(`${level}/${col}/${row}`) },
          // §8.7.2: every ancestor slab is referenced first; recomputed ones replace their reference.
          beforeWalk: async (writer: Rok4PyramidWriter) => {
            owners = (await referenceAncestor(writer, ancestor, ctx.storage, ctx.datastore, ctx.signal)).owners;
          },
        } : {}),
      });
      ctx.signal.throwIfAborted();
      let referenced = 0;
      if (ancestor) {
        // Levels and tile limits: the union of the ancestor's and the new images' (§8.7.1, §8.3).
        const levels = result.writer.descriptor.levels;
        for (const old of ancestor.descriptor.levels) {
          const level = levels.find((l) => l.id === old.id);
          if (level) level.tile_limits = unionLimits(level.tile_limits, old.tile_limits);
        }
        for (const entry of result.writer.list.entries()) if (entry.rootIndex !== 0 && entry.path.startsWith('DATA')) referenced++;
      }
      await result.writer.commit();
      const done = await ctx.datastore.update(record._id, {
        status: 'READY',
        size: result.bytes,
        ...(ancestor ? { use: [...owners] } : {}),
        type_infos: pyramidTypeInfos(result.writer.descriptor, tms, {
          slabs: result.slabsWritten,
          ...(ancestor ? { update: { ancestor: { _id: ancestor.record._id, name: ancestor.record.name }, referenced, recomputed: result.slabsWritten } } : {}),
        }, ancestor ? undefined : plan.bbox),
      });
      return { pyramid: done };
    } catch (err) {
      // Atomicity (DESIGN §7): generatePyramid has waited for every slab task, so nothing is written after
      // this removal of the partial pyramid (references included, never their targets).
      await new Rok4PyramidWriter(ctx.storage, options.name, { levels: [] } as never).abort().catch(() => {});
      const dismissed = ctx.signal.aborted;
      await ctx.datastore.update(record._id, { status: dismissed ? 'DELETED' : 'FAILED', message: dismissed ? 'the job was dismissed' : reasonOf(err), size: 0 });
      if (err instanceof ApiError) throw err;
      throw new Error(`pyramid generation failed: ${reasonOf(err)}`);
    } finally {
      release();
      releaseAncestor();
    }
  },
};

export default rasterToPyramid;
