import { invalidInput } from '../../src/errors.js';
import type { InputFile } from '../../src/process/inputs.js';
import { lockUploadImages, type UploadImage } from '../../src/uploads/upload-images.js';
import {
  COMPRESSION_INPUT,
  INTERPOLATION_INPUT,
  levelInput,
  productNameInput,
  slabSizeInput,
  TMS_INPUT,
} from '../../src/process/input-schemas.js';
import type { PrepareContext, Process, ProcessContext } from '../../src/process/types.js';
import type { StoredData } from '../../src/records/stored-data.js';
import { UnknownCrsError } from '../../src/raster/crs.js';
import {
  describeRasterAt,
  rasterLocationName,
  RasterSourceError,
  type RasterInfo,
  type RasterLocation,
} from '../../src/raster/geotiff-source.js';
import type { KernelName } from '../../src/raster/kernels.js';
import { loadTms, TmsError, type TileMatrixSet } from '../../src/raster/tms.js';
import type { Compression } from '../../src/rok4/formats.js';
import { generatePyramid, warmSlabThreads } from './generate.js';
import { cutPlan, generateSplit } from './split.js';
import { referenceAncestor, refuseInherited, unionLimits } from './update.js';
import { pyramidTypeInfos } from '../../src/records/pyramid-infos.js';
import { describeStorage } from '../../src/storage/factory.js';
import { nodataValues } from '../../src/rok4/descriptor.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { slabOfListPath } from '../../src/rok4/list-path.js';
import { planPyramid, PlanError, type PyramidPlan } from './plan.js';
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import type { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { reservePyramid, writePyramid, type PyramidReservation } from '../../src/pyramid/life-cycle.js';
import { loadReadyPyramid, readPyramidList, requireReadyRecord, type ReadyPyramid } from '../../src/pyramid/ready-pyramid.js';
import { OriginalReferences } from '../../src/pyramid/reference.js';
import { checkOutputBytes, estimatePyramidBytes } from '../../src/pyramid/output-estimate.js';
import { STORAGE_INPUT } from '../../src/process/storage-input.js';

/** An image to read: from `images` or from an upload (whose `srs` applies when the file declares none). */
interface SourceImage {
  at: RasterLocation;
  /** How errors name it: `images[0]`, `upload[0] scans:data/scan.tif`. */
  label: string;
  origin: string;
  fallbackSrs?: string;
}

interface Options {
  images: SourceImage[];
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

/** Everything checked before work (rasters described, TMS loaded, levels and slabs planned) and reserved. */
interface RasterPlan {
  options: Options;
  infos: RasterInfo[];
  tms: TileMatrixSet;
  plan: PyramidPlan;
  spec: SlabSpec;
  /** Update by chaining (rok4.md §8.7): the pyramid the new one starts from. */
  ancestor?: ReadyPyramid;
  /** The output name and the ancestor, reserved from the submission until the job ends. */
  reservation: PyramidReservation;
  /** Ids of the uploads read (read-locked until the job ends). */
  uploads: string[];
  releaseUploads: () => void;
}

/** Options an update takes from its ancestor's descriptor (rok4.md §8.7.1). */
function inheritedOptions(options: Options, ancestor: ReadyPyramid): Options {
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

function readOptions(inputs: Record<string, unknown>, fromUploads: UploadImage[]): Options {
  const images: SourceImage[] = [
    ...((inputs.images as InputFile[] | undefined) ?? []).map((f, i) => ({
      at: { file: f.path },
      label: `images[${i}]`,
      origin: f.origin,
    })),
    ...fromUploads.map((u) => ({ at: u.at, label: u.label, origin: `upload ${u.upload._id}`, fallbackSrs: u.upload.srs })),
  ];
  const nodata =
    inputs.nodata === undefined ? undefined : Array.isArray(inputs.nodata) ? (inputs.nodata as number[]) : [inputs.nodata as number];
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
  for (const image of options.images) {
    const label = image.label;
    try {
      infos.push(
        await describeRasterAt(image.at, {
          srs: options.srs,
          fallbackSrs: image.fallbackSrs,
          nodata: options.nodata?.length === 1 ? options.nodata[0] : options.nodata,
        }),
      );
    } catch (err) {
      // An upload's file is named by the label, never by its path on the server.
      const name = rasterLocationName(image.at);
      const message = (err instanceof Error ? err.message : String(err)).split(name).join(image.fallbackSrs ? 'the file' : name);
      if (err instanceof RasterSourceError || err instanceof UnknownCrsError)
        throw invalidInput(label, image.fallbackSrs ? message : `${message} (${image.origin})`);
      throw invalidInput(label, `cannot be read as a GeoTIFF: ${message}`);
    }
  }
  return infos;
}

/** Every check that needs no work (400s naming the input), with the name and the ancestor reserved. */
async function prepare(raw: Record<string, unknown>, ctx: PrepareContext): Promise<RasterPlan> {
  // The platform's bodies give the pyramid to update as a one-item array ("stored_data": ["<id>"]).
  const inputs: Record<string, unknown> = Array.isArray(raw.stored_data) ? { ...raw, stored_data: raw.stored_data[0] } : raw;
  const uploadIds = (inputs.upload as string[] | undefined) ?? [];
  if (inputs.images === undefined && uploadIds.length === 0)
    throw invalidInput('images', 'give the images: by href or inline (images), or as CLOSED uploads (upload), or both');
  const fromUploads = await lockUploadImages(ctx.uploads, uploadIds, ctx.jobId);
  const name = inputs.name as string;
  let reservation: PyramidReservation | undefined;
  try {
    reservation = await reservePyramid(ctx, name, inputs.stored_data !== undefined ? [inputs.stored_data as string] : []);
    return {
      ...(await check(inputs, ctx, fromUploads.images)),
      reservation,
      uploads: uploadIds,
      releaseUploads: fromUploads.release,
    };
  } catch (err) {
    reservation?.release();
    fromUploads.release();
    throw err;
  }
}

async function check(
  inputs: Record<string, unknown>,
  ctx: PrepareContext,
  fromUploads: UploadImage[],
): Promise<Omit<RasterPlan, 'reservation' | 'uploads' | 'releaseUploads'>> {
  let options = readOptions(inputs, fromUploads);
  let ancestor: ReadyPyramid | undefined;
  if (inputs.stored_data !== undefined) {
    refuseInherited(inputs, ctx.defaulted);
    ancestor = await loadReadyPyramid(ctx.datastore, ctx.storage, inputs.stored_data as string, 'stored_data', ctx);
    options = inheritedOptions(options, ancestor);
  } else if (inputs.tms === undefined) {
    throw invalidInput('tms', 'is required for a new pyramid (only an update, with stored_data, takes it from the existing pyramid)');
  }
  const infos = await describeAll(options);
  const first = infos[0];
  infos.forEach((info, i) => {
    if (info.bands !== first.bands || info.sampleType !== first.sampleType) {
      throw invalidInput(
        options.images[i].label,
        `has ${info.bands} ${info.sampleType} band(s) while ${options.images[0].label} has ${first.bands} ${first.sampleType} band(s); all images must share them`,
      );
    }
  });
  const pixels = infos.reduce((n, i) => n + i.width * i.height, 0);
  const maxPixels = ctx.settings.maxPixels;
  if (pixels > maxPixels)
    throw invalidInput('images', `${pixels} pixels in all, more than the configured limit of ${maxPixels} (server.limits.max_pixels)`);

  // Channels written: the source bands, except that JPEG holds RGB only (rok4.md §11.8): an alpha band is
  // dropped (the mask carries transparency) and gray images are refused.
  let channels = first.bands;
  const jpeg = options.compression === 'jpg' || options.compression === 'jpg90';
  if (first.sampleType === 'float32' && (jpeg || options.compression === 'png'))
    throw invalidInput('compression', `${options.compression} cannot hold float32 images; use raw, zip, lzw or pkb`);
  if (jpeg) {
    if (first.bands < 3) throw invalidInput('compression', `${options.compression} needs RGB images; images have ${first.bands} band(s)`);
    channels = 3;
  }
  if (first.sampleType === 'float32' && first.bands !== 1) throw invalidInput('images', 'float32 images must have one band (DTM)');
  if (ancestor) {
    const specs = ancestor.descriptor.raster_specifications!;
    const ancestorType = parseFormat(ancestor.descriptor.format).sampleType;
    // Images with an alpha band may update a pyramid without one (the mask carries transparency).
    if (
      first.sampleType !== ancestorType ||
      (channels !== specs.channels && !(channels === specs.channels + 1 && (channels === 2 || channels === 4)))
    ) {
      throw invalidInput(
        'images',
        `have ${first.bands} ${first.sampleType} band(s); the pyramid '${ancestor.record.name}' holds ${specs.channels} ${ancestorType} channel(s)`,
      );
    }
    channels = specs.channels;
  }
  const nodata = options.nodata ?? [];
  if (nodata.length > 1 && nodata.length < channels) throw invalidInput('nodata', `gives ${nodata.length} values for ${channels} channels`);
  const outputNodata = Array.from(
    { length: channels },
    (_, c) => nodata[nodata.length === 1 ? 0 : c] ?? (first.sampleType === 'uint8' ? 255 : -99999),
  );
  if (first.sampleType === 'uint8' && outputNodata.some((v) => !Number.isInteger(v) || v < 0 || v > 255))
    throw invalidInput('nodata', 'values must be integers 0..255 for 8-bit images');

  let tms: TileMatrixSet;
  try {
    tms = await loadTms(options.tms, ctx.settings.tmsFolders);
  } catch (err) {
    if (err instanceof TmsError) throw invalidInput('tms', err.message);
    throw err;
  }
  let plan: PyramidPlan;
  try {
    plan = planPyramid(tms, infos, {
      bottom: options.bottom,
      top: options.top,
      slab: { tilesPerWidth: options.width, tilesPerHeight: options.height },
    });
  } catch (err) {
    if (err instanceof PlanError) throw invalidInput(err.input, err.message);
    throw err;
  }
  const tm = plan.levels[0].tm;
  const spec: SlabSpec = {
    tileWidth: tm.tileWidth,
    tileHeight: tm.tileHeight,
    tilesPerWidth: options.width,
    tilesPerHeight: options.height,
    channels,
    sampleType: first.sampleType,
    compression: options.compression,
    mask: options.mask,
    nodata: outputNodata,
  };
  await checkOutputBytes(ctx.storage, ctx.settings, estimatePyramidBytes(plan.totalSlabs, spec), 'images');
  return { options, infos, tms, plan, spec, ancestor };
}

/**
 * raster-to-pyramid: the Géoplateforme "Calcul de pyramide raster" (rok4.md §8) as an OGC process.
 * Images → a ROK4 pyramid in storage, recorded as a stored data whose status turns READY once the
 * descriptor (the commit point) is written; a failure or a dismiss removes what was written.
 */
const rasterToPyramid: Process<RasterPlan> = {
  description: {
    id: 'raster-to-pyramid',
    version: '1.0.0',
    title: 'Raster pyramid (ROK4)',
    description:
      'Computes a ROK4 raster tile pyramid from georeferenced images (GeoTIFF, or TIFF + world file with `srs`). ' +
      'The finest level is resampled once from the source pixels with the chosen kernel; each coarser level averages its four ' +
      'children, leaving masked (nodata) pixels out. With `stored_data`, updates an existing pyramid instead: its untouched ' +
      'slabs are referenced, not copied. Long: runs asynchronously and reports slabs done / slabs planned.',
    keywords: ['ROK4', 'pyramid', 'tiles', 'raster', 'WMTS', 'BE4'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      storage: STORAGE_INPUT,
      images: {
        title: 'Images',
        description:
          "GeoTIFF images (8-bit with 1–4 bands, or 32-bit float with 1 band) or JPEG 2000 images (8-bit, 1 or 3 bands; GeoJP2, GMLJP2 or .j2w), by href (`file:` under the server's input folder, " +
          'or `http(s)` from allowed hosts) or inline base64. All must share their band count and sample type.',
        schema: { type: 'string', format: 'binary', contentEncoding: 'binary', contentMediaType: 'image/tiff; application=geotiff' },
        minOccurs: 0,
        maxOccurs: 'unbounded',
      },
      upload: {
        title: 'Uploads',
        description:
          "Ids of CLOSED uploads (POST /uploads, closed and checked) whose images (.tif, .tiff, .jp2, .j2k) are read, alone or with `images`. The upload's `srs` is the CRS of its images that declare none (TIFF or JPEG 2000 + world file). The uploads cannot be deleted or reopened while the job reads them.",
        schema: { type: 'string', minLength: 1 },
        minOccurs: 0,
        maxOccurs: 'unbounded',
      },
      name: productNameInput('Name of the new pyramid (its ROK4 descriptor is `<name>.json`); no stored data may have it already.'),
      tms: TMS_INPUT,
      compression: COMPRESSION_INPUT,
      interpolation: INTERPOLATION_INPUT,
      mask: {
        title: 'Masks',
        description: 'Write mask slabs and keep nodata out of the averages of coarser levels; needed to update or merge the pyramid later.',
        schema: { type: 'boolean', default: false },
        minOccurs: 0,
        maxOccurs: 1,
      },
      bottom: levelInput('Bottom level', "Finest level id; default: the level whose resolution is closest to the images'."),
      top: levelInput(
        'Top level',
        'Coarsest level id; default: the coarsest level of the tile matrix set whose grid still holds the images.',
      ),
      width: slabSizeInput('Tiles per slab (width)'),
      height: slabSizeInput('Tiles per slab (height)'),
      nodata: {
        title: 'Nodata',
        description:
          "Nodata value of the images (one for all bands or one per band), e.g. 255 for the white collar of scans; also written where the mask is 0. Default: the images' `GDAL_NODATA` tag to find nodata, and 255 (8-bit) or -99999 (float) in the output.",
        schema: { oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 }] },
        minOccurs: 0,
        maxOccurs: 1,
      },
      stored_data: {
        title: 'Pyramid to update',
        description:
          'Id of a READY pyramid to update: the new pyramid takes the tile matrix set, format, slab size, channels, nodata, interpolation, masks and levels from it (do not give those inputs), references every slab the new images do not touch, and recomputes the others with the old pixels as background. The old pyramid cannot be deleted while the new one uses it.',
        schema: {
          oneOf: [
            { type: 'string', format: 'ogc-stored-data' },
            { type: 'array', items: { type: 'string', format: 'ogc-stored-data' }, minItems: 1, maxItems: 1 },
          ],
        },
        minOccurs: 0,
        maxOccurs: 1,
      },
      srs: {
        title: 'Images CRS',
        description: "CRS of the images when their files declare none (TIFF + world file), e.g. `EPSG:2154`; overrides the files' CRS.",
        schema: { type: 'string' },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      pyramid: {
        title: 'Pyramid',
        description:
          'The stored data record of the pyramid: id, name, type, tms, format, levels with tile limits, bbox in the TMS CRS and in WGS84, size, descriptor href.',
        schema: { type: 'object', contentMediaType: 'application/json' },
      },
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

  prepare,

  async execute(_inputs, ctx) {
    return { pyramid: await run(ctx.plan, ctx) };
  },

  async release(plan) {
    plan.reservation.release();
    plan.releaseUploads();
  },
};

/** Writes the planned pyramid (rok4.md §8), or its update by chaining (§8.7). */
async function run(checked: RasterPlan, ctx: ProcessContext<RasterPlan>): Promise<StoredData> {
  const { options, infos, tms, plan, spec, ancestor } = checked;
  warmSlabThreads(ctx.pool);
  // The only thing that can change while the job was queued: the ancestor is still READY (it cannot be
  // deleted while reserved, but it could have been before a manager reserved it).
  if (ancestor) await requireReadyRecord(ctx.datastore, ancestor.record._id, 'stored_data');
  // Parts of an earlier run of this job (retaken after its worker died) must not write into the new one.
  if (ctx.parts) await ctx.parts.stopEarlier(ctx.jobId, ctx.signal);
  // What the job reads, in its status (the uploads are locked for it until it ends).
  if (checked.uploads.length)
    ctx.report({ inputs: { upload: checked.uploads, ...(ancestor ? { stored_data: [ancestor.record._id] } : {}) } });
  return writePyramid(ctx, checked.reservation, 'pyramid generation failed', async (location) => {
    ctx.progress(0, `${plan.totalSlabs} slabs planned on ${plan.levels.length} levels`);
    const ancestorList = ancestor ? await readPyramidList(ctx.storage, ancestor) : undefined;
    const ancestorSlabs = new Set<string>();
    for (const entry of ancestorList?.entries() ?? []) {
      const slab = slabOfListPath(entry.path);
      if (slab?.kind === 'DATA') ancestorSlabs.add(`${slab.level}/${slab.col}/${slab.row}`);
    }
    let refs: OriginalReferences | undefined;
    // §8.7.2: every ancestor slab is referenced (a single run: first, and recomputed ones replace their
    // reference; a split run: after the parts, except where they wrote).
    const referenceFirst = async (writer: Rok4PyramidWriter, written?: ReadonlySet<string>) => {
      refs = new OriginalReferences(writer, ctx.storage, ctx.datastore);
      refs.owners.add(ancestor!.record._id);
      await referenceAncestor(refs, ancestor!.record.name, ancestorList!, ctx.signal, written);
    };
    const request = {
      storage: ctx.storage,
      pool: ctx.pool,
      signal: ctx.signal,
      progress: ctx.progress,
      location,
      tms,
      plan,
      spec,
      interpolation: options.interpolation,
      images: infos,
      ...(ancestor
        ? {
            ancestor: {
              storage: describeStorage(ctx.storage),
              location: ancestor.location,
              id: ancestor.record._id,
              has: (level: string, col: number, row: number) => ancestorSlabs.has(`${level}/${col}/${row}`),
            },
          }
        : {}),
    };
    // On bullmq workers a big pyramid or update is cut into parts any worker computes (issue 14).
    const cut = ctx.parts && location.folder !== '' ? cutPlan(plan, ctx.parts.parts, ctx.parts.splitSlabs, spec) : undefined;
    if (cut) ctx.log.info('pyramid cut into parts', { parts: cut.groups.length, level: plan.levels[cut.levelIndex].tm.id });
    const result = cut
      ? await generateSplit(
          { ...request, jobId: ctx.jobId, parts: ctx.parts! },
          cut,
          ancestor ? { slabs: ancestorSlabs, reference: referenceFirst } : undefined,
        )
      : await generatePyramid({ ...request, ...(ancestor ? { beforeWalk: (writer: Rok4PyramidWriter) => referenceFirst(writer) } : {}) });
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
    return {
      writer: result.writer,
      ready: {
        size: result.bytes,
        use: ancestor ? [...refs!.owners] : [],
        type_infos: pyramidTypeInfos(
          result.writer.descriptor,
          tms,
          {
            slabs: result.slabsWritten,
            ...(ancestor
              ? {
                  update: {
                    ancestor: { _id: ancestor.record._id, name: ancestor.record.name },
                    referenced,
                    recomputed: result.slabsWritten,
                  },
                }
              : {}),
          },
          ancestor ? undefined : plan.bbox,
        ),
      },
    };
  });
}

export default rasterToPyramid;
