import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { invalidInput, lostError } from '../../src/errors.js';
import type { InputFile } from '../../src/process/inputs.js';
import { PRODUCT_NAME_PATTERN } from '../../src/process/input-schemas.js';
import type { PrepareContext, Process, ProcessContext } from '../../src/process/types.js';
import type { StoredData } from '../../src/records/stored-data.js';
import { describeRaster, type RasterInfo } from '../../src/raster/geotiff-source.js';
import { writeCog } from '../../src/cog/cog-writer.js';
import { footprint, type FootprintGeometry, type ValidityGrid } from '../../src/cog/footprint.js';
import { COG_MEDIA_TYPE, type CatalogItem } from '../../src/catalog/catalog-item.js';
import { readValidityGrid } from '../../src/cog/validity-grid.js';
import type { CogCompression } from '../../src/cog/tile-codecs.js';
import { abandonCatalog, CATALOG_TYPE, catalogFolder, jobFolder, withCatalogLock } from '../../src/catalog/catalog.js';
import { productTakenOver, reasonOf } from '../../src/pyramid/life-cycle.js';
import { checkAttributes, checkConfiguration, SUB_TYPES, type AttributesConfiguration } from './attributes.js';
import { STORAGE_INPUT } from '../../src/process/storage-input.js';
import { requireSameStorage } from '../../src/storage/of-record.js';

interface Target {
  serviceName: string;
  createNewService: boolean;
  attributesConfiguration?: AttributesConfiguration;
}

interface TilingPlan {
  target: Target;
  config: AttributesConfiguration;
  /** The catalog when it exists already (createNewService false). */
  existing?: StoredData;
  release(): void;
}

/** Checks that need no work: the catalog (new name free, or existing), the attributes against its types. */
async function prepare(inputs: Record<string, unknown>, ctx: PrepareContext): Promise<TilingPlan> {
  const target = inputs.target as Target;
  const attributes = (inputs.attributes as Record<string, unknown> | undefined) ?? {};
  if (target.createNewService) {
    const config = target.attributesConfiguration ?? { attributes: [] };
    checkConfiguration(config);
    checkAttributes(attributes, config, target.serviceName);
    const release = await ctx.datastore.reserveName(target.serviceName);
    if (!release)
      throw invalidInput('target', `a stored data named '${target.serviceName}' already exists (or is being written by another job)`);
    return { target, config, release };
  }
  const existing = await ctx.datastore.findByName(target.serviceName, CATALOG_TYPE);
  if (!existing || existing.status !== 'READY')
    throw invalidInput(
      'target',
      `no raster catalog named '${target.serviceName}' exists; set createNewService to true (with attributesConfiguration) to create it`,
    );
  // A catalog's files stay on one storage (issue 13): its new items go where it lives.
  requireSameStorage([existing], ctx);
  const config = existing.type_infos.attributesConfiguration as AttributesConfiguration;
  checkAttributes(attributes, config, target.serviceName);
  const release = await ctx.datastore.lockForRead([existing._id]);
  return { target, config, existing, release };
}

interface Step {
  stepName: string;
  startedTime: string;
  endedTime?: string;
  batchCount: number;
  inputObjectCount: number;
  outputObjectCount: number;
  errorCount: number;
  batchErrors: Array<{ file: string; index: number; reason: string }>;
  resultDetails: Record<string, number>;
}

function epsgOf(info: RasterInfo): number | null {
  const m = /^EPSG:(\d+)$/.exec(info.crs.id);
  return m ? Number(m[1]) : null;
}

function bboxOf(g: FootprintGeometry): [number, number, number, number] {
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  for (const poly of polygons)
    for (const ring of poly)
      for (const [x, y] of ring) {
        b[0] = Math.min(b[0], x);
        b[1] = Math.min(b[1], y);
        b[2] = Math.max(b[2], x);
        b[3] = Math.max(b[3], y);
      }
  return b;
}

/** Converts (or copies) one file into the catalog's folder and returns its item; throws the file's reason. */
async function oneFile(
  file: InputFile,
  index: number,
  inputs: Record<string, unknown>,
  ctx: ProcessContext<TilingPlan>,
  onProgress: (fraction: number) => void,
): Promise<CatalogItem> {
  const info = await describeRaster(file.path, inputs.srs !== undefined ? { srs: inputs.srs as string } : {});
  const id = randomUUID();
  const useCog = inputs.useCog !== false;
  const ext = useCog ? '.tif' : path.extname(file.path) || '.tif';
  const key = `${jobFolder(ctx.plan.target.serviceName, ctx.jobId)}/${id}${ext}`;
  let grid: ValidityGrid;
  let bytes: number;
  let tiles = 0;
  if (useCog) {
    const result = await writeCog(
      info,
      {
        compression: (inputs.compression as CogCompression | undefined) ?? 'jpeg',
        blockSize: ((inputs.blocksize as number | undefined) ?? 512) as 256 | 512,
        ...(inputs.maxZoomLevel !== undefined ? { overviews: inputs.maxZoomLevel as number } : {}),
      },
      { storage: ctx.storage, key },
      { pool: ctx.pool, signal: ctx.signal, tmpDir: ctx.tmpDir, onProgress: (done, total) => onProgress(done / total) },
    );
    grid = result.grid;
    bytes = result.bytes;
    tiles = result.tiles;
  } else {
    // useCog false: the file as delivered, still indexed (cog.md §1.2); copied from its local file, never
    // held whole in memory.
    await ctx.storage.writeFile(key, file.path);
    bytes = (await stat(file.path)).size;
    grid = await readValidityGrid(info, ctx.pool, { signal: ctx.signal });
  }
  const attributes = { ...((inputs.attributes as Record<string, unknown> | undefined) ?? {}) };
  const created = new Date().toISOString();
  try {
    const geometry = footprint(grid, { polygonize: inputs.polygonize !== false });
    if (!geometry) throw new Error('no valid pixel: the raster is empty (every pixel is nodata or masked)');
    return {
      id,
      source: file.origin === 'inline' ? `files[${index}]` : path.basename(file.origin),
      key,
      href: ctx.storage.url(key),
      mediaType: useCog ? COG_MEDIA_TYPE : (file.mediaType ?? 'application/octet-stream'),
      cog: useCog,
      bytes,
      geometry,
      bbox: bboxOf(geometry),
      epsg: epsgOf(info),
      shape: [info.height, info.width],
      transform: [
        info.geoTransform[1],
        info.geoTransform[2],
        info.geoTransform[0],
        info.geoTransform[4],
        info.geoTransform[5],
        info.geoTransform[3],
      ],
      tiles,
      attributes,
      datetime: itemDatetime(attributes, ctx.plan.config) ?? created,
      created,
    };
  } catch (err) {
    await ctx.storage.delete(key).catch(() => {});
    throw err;
  }
}

async function execute(inputs: Record<string, unknown>, ctx: ProcessContext<TilingPlan>) {
  const { target, config, existing } = ctx.plan;
  const files = inputs.files as InputFile[];
  const step: Step = {
    stepName: useCogStepName(inputs),
    startedTime: new Date().toISOString(),
    batchCount: files.length,
    inputObjectCount: files.length,
    outputObjectCount: 0,
    errorCount: 0,
    batchErrors: [],
    resultDetails: { 'Tiles created': 0 },
  };
  const report = () =>
    ctx.report({
      stepResults: [step],
      inputObjectCount: step.inputObjectCount,
      errorCount: step.errorCount,
      outputObjectCount: step.outputObjectCount,
    });
  report();
  // A new catalog's record exists, GENERATING and write-locked, while its first items are written.
  const created = existing
    ? undefined
    : await ctx.datastore.createForWrite({
        name: target.serviceName,
        type: CATALOG_TYPE,
        jobId: ctx.jobId,
        storage: {
          type: ctx.storage.type,
          key: catalogFolder(target.serviceName),
          href: ctx.storage.url(catalogFolder(target.serviceName)),
          name: ctx.storageName,
        },
      });
  const catalogId = existing?._id ?? created!.record._id;
  const folder = jobFolder(target.serviceName, ctx.jobId);
  const items: CatalogItem[] = [];
  let committed = false;
  try {
    // Registered before the first byte: a kill from here on is undone at start-up (src/catalog/catalog.ts).
    // A job taken again after its run stopped here finds that run's files: they go first.
    if (ctx.catalogItems.beginWrite({ catalogId, folder, jobId: ctx.jobId })) await ctx.storage.deletePrefix(`${folder}/`);
    for (const [i, file] of files.entries()) {
      ctx.signal.throwIfAborted();
      ctx.progress((i / files.length) * 100, `file ${i + 1}/${files.length}`);
      try {
        const item = await oneFile(file, i, inputs, ctx, (f) => ctx.progress(((i + f) / files.length) * 100));
        items.push(item);
        step.outputObjectCount++;
        step.resultDetails['Tiles created'] += item.tiles;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        step.errorCount++;
        step.batchErrors.push({ file: file.origin, index: i, reason: reasonOf(err) });
        ctx.warn(`files[${i}] (${file.origin}) skipped: ${reasonOf(err)}`);
      }
      report();
    }
    step.endedTime = new Date().toISOString();
    report();
    if (items.length === 0)
      throw invalidInput('files', `no file could be added: ${step.batchErrors.map((e) => `files[${e.index}]: ${e.reason}`).join('; ')}`);
    ctx.signal.throwIfAborted();
    // A catalog this run creates may have been taken over by a run of the same job on another worker (this
    // one stalled past its queue lock): its items are not added, its record is not turned READY.
    if (created && !(await ctx.datastore.writing(catalogId, ctx.jobId))) throw productTakenOver(created.record);
    // One transaction adds every item of the job (another job adding to the same catalog cannot lose
    // them); the record's totals are written in the same order as the adds.
    const record = await withCatalogLock(catalogId, async () => {
      const totals = await ctx.catalogItems.commit(catalogId, folder, items);
      committed = true;
      if (created) {
        const ready = await ctx.datastore.commit(catalogId, ctx.jobId, {
          size: totals.bytes,
          type_infos: { attributesConfiguration: config, itemCount: totals.count },
        });
        if (!ready) throw productTakenOver(created.record);
        return ready;
      }
      // The items are in: totals that cannot be written are only a warning, the job did its work.
      const fresh = await ctx.datastore.require(catalogId, 'raster catalog');
      return ctx.datastore
        .update(catalogId, { size: totals.bytes, type_infos: { ...fresh.type_infos, itemCount: totals.count } })
        .catch((err) => {
          ctx.warn(`the catalog's item count and size could not be updated: ${reasonOf(err)}`);
          return fresh;
        });
    });
    return {
      items: items.map((it) => ({ id: it.id, source: it.source, href: it.href, bbox: it.bbox, attributes: it.attributes })),
      summary: {
        catalog: { _id: record._id, name: record.name, type: record.type, items: ctx.catalogItems.totals(catalogId).count },
        inputObjectCount: step.inputObjectCount,
        outputObjectCount: step.outputObjectCount,
        errorCount: step.errorCount,
        batchErrors: step.batchErrors,
        'Tiles created': step.resultDetails['Tiles created'],
      },
    };
  } catch (err) {
    // Lost (another worker runs the job now, in the same folder): nothing here is this run's to undo.
    const lost = lostError(ctx.signal, err);
    if (lost) throw lost;
    // Failed before it heard of its loss: a catalog this run was creating says whose its files are.
    if (created && !(await ctx.datastore.writing(catalogId, ctx.jobId).catch(() => true))) throw productTakenOver(created.record);
    // Nothing of a failed or dismissed job stays: its folder (and, for a catalog it was creating, the
    // catalog's files and items) is removed, then its registration ended.
    if (created) {
      await abandonCatalog(
        { storage: ctx.storage, items: ctx.catalogItems, datastore: ctx.datastore },
        { _id: catalogId, name: target.serviceName },
        { dismissed: ctx.signal.aborted, reason: reasonOf(err) },
      );
    } else if (!committed) {
      await ctx.storage.deletePrefix(`${folder}/`).catch(() => {});
    }
    if (!committed || created) {
      try {
        ctx.catalogItems.endWrite(folder);
      } catch {
        // left registered: start-up removes the folder again (nothing is in it)
      }
    }
    throw err;
  } finally {
    created?.release();
  }
}

/**
 * The STAC `datetime` of an item: the value of the catalog's first DateTime or Date attribute (the
 * EverGIS catalogs' `dateofimage`, cog.md §6), in UTC; undefined when the item has none.
 */
function itemDatetime(attributes: Record<string, unknown>, config: AttributesConfiguration): string | undefined {
  for (const a of config.attributes) {
    const type = (a.subType ?? '').toLowerCase();
    if (type !== 'datetime' && type !== 'date') continue;
    const v = attributes[a.attributeName];
    if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v).toISOString();
  }
  return undefined;
}

function useCogStepName(inputs: Record<string, unknown>): string {
  return inputs.useCog === false ? 'index rasters' : 'convert to COG';
}

const ATTRIBUTE_SCHEMA = {
  type: 'object',
  required: ['attributeName'],
  properties: {
    attributeName: { type: 'string', minLength: 1 },
    columnName: { type: 'string' },
    alias: { type: 'string' },
    subType: { type: 'string' },
    isEditable: { type: 'boolean' },
    isDisplayed: { type: 'boolean' },
  },
};

/**
 * tiling: the EverGIS "Загрузка в растровый каталог" task (cog.md §1) as an OGC process. Each file
 * becomes a Cloud Optimized GeoTIFF (src/cog) in a named raster catalog with its footprint and the
 * attributes given; a file that fails is reported in `batchErrors` and the others go on.
 */
const tiling: Process<TilingPlan> = {
  description: {
    id: 'tiling',
    version: '1.0.0',
    title: 'Rasters to a raster catalog (COG)',
    description:
      'Adds rasters to a raster catalog: each file becomes a Cloud Optimized GeoTIFF (GDAL layout, overviews, a mask under lossy codecs) ' +
      'stored next to the catalog, with its footprint polygon (traced from the valid pixels, or the bbox) and the attribute values given. ' +
      'A file that cannot be read is reported in the job status (`stepResults[].batchErrors`) and the others go on; the job fails only ' +
      'when every file fails. The job status carries the task progress shape: `stepResults`, `inputObjectCount`, `errorCount`, `outputObjectCount`.',
    keywords: ['COG', 'Cloud Optimized GeoTIFF', 'raster catalog', 'footprint', 'tiling', 'STAC'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      storage: STORAGE_INPUT,
      files: {
        title: 'Rasters',
        description:
          "GeoTIFF rasters (or TIFF + world file with `srs`) or JPEG 2000 rasters (GeoJP2, GMLJP2, or .j2w with `srs`), by href (`file:` under the server's input folder, or `http(s)` from allowed hosts) or inline base64.",
        schema: { type: 'string', format: 'binary', contentEncoding: 'binary', contentMediaType: 'image/tiff; application=geotiff' },
        minOccurs: 1,
        maxOccurs: 'unbounded',
      },
      target: {
        title: 'Raster catalog',
        description:
          '`serviceName`: name of the catalog; `createNewService`: true creates it (the name must be free) with `attributesConfiguration` ' +
          `(its attributes and their \`subType\`: ${SUB_TYPES.join(', ')}; absent = String); false adds to an existing catalog (400 when it does not exist).`,
        schema: {
          type: 'object',
          required: ['serviceName'],
          properties: {
            type: { type: 'string' },
            serviceName: { type: 'string', pattern: PRODUCT_NAME_PATTERN },
            createNewService: { type: 'boolean', default: false },
            attributesConfiguration: {
              type: 'object',
              required: ['attributes'],
              properties: {
                idAttribute: { type: 'string' },
                titleAttribute: { type: 'string' },
                geometryAttribute: { type: 'string' },
                tableName: { type: 'string' },
                attributes: { type: 'array', items: ATTRIBUTE_SCHEMA },
              },
            },
          },
        },
        minOccurs: 1,
        maxOccurs: 1,
      },
      attributes: {
        title: 'Attribute values',
        description:
          "Values of the catalog's attributes given to every file of the request (attribute name → value); an unknown attribute or a value of the wrong type is refused (400) before any work.",
        // Scalars only: a catalog attribute is one column (and a {"value": {...}} wrapper stays recognizable).
        schema: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } },
        minOccurs: 0,
        maxOccurs: 1,
      },
      polygonize: {
        title: 'Trace footprints',
        description: 'true: the footprint is traced from the valid pixels (nodata, alpha, mask); false: the bbox of the raster.',
        schema: { type: 'boolean', default: false },
        minOccurs: 0,
        maxOccurs: 1,
      },
      useCog: {
        title: 'Convert to COG',
        description: 'true: each file is converted to a Cloud Optimized GeoTIFF; false: the file is kept as delivered (still indexed).',
        schema: { type: 'boolean', default: true },
        minOccurs: 0,
        maxOccurs: 1,
      },
      maxZoomLevel: {
        title: 'Overview levels',
        description:
          'Number of overview (reduced-resolution) levels of each COG, each half the size of the one above (GDAL OVERVIEW_COUNT); ' +
          'absent: halve until the smallest level fits in one tile; values above that are capped. 0: no overviews.',
        schema: { type: 'integer', minimum: 0, maximum: 30 },
        minOccurs: 0,
        maxOccurs: 1,
      },
      compression: {
        title: 'Tile compression',
        description: '`jpeg` (quality 90, validity in a mask IFD), `deflate`, `lzw` (lossless, with a predictor) or `webp`.',
        schema: { type: 'string', enum: ['jpeg', 'deflate', 'lzw', 'webp'], default: 'jpeg' },
        minOccurs: 0,
        maxOccurs: 1,
      },
      blocksize: {
        title: 'Tile size',
        description: 'Side of the COG tiles in pixels.',
        schema: { type: 'integer', enum: [512, 256], default: 512 },
        minOccurs: 0,
        maxOccurs: 1,
      },
      srs: {
        title: 'Rasters CRS',
        description: "CRS of the files when they declare none (TIFF + world file), e.g. `EPSG:2154`; overrides the files' CRS.",
        schema: { type: 'string' },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      items: {
        title: 'Catalog items',
        description: 'The items created: id, source file, href of the COG, bbox in CRS84, attribute values.',
        schema: { type: 'array', contentMediaType: 'application/json' },
      },
      summary: {
        title: 'Summary',
        description:
          'The catalog (id, name, item count) and the task summary: inputObjectCount, outputObjectCount, errorCount, batchErrors, Tiles created.',
        schema: { type: 'object', contentMediaType: 'application/json' },
      },
    },
    example: {
      inputs: {
        files: [{ href: 'file:///data/inputs/landsat.tif' }],
        // execute.yaml: object values are given as qualified values ({"value": …}).
        target: {
          value: {
            serviceName: 'landsat_images',
            createNewService: true,
            attributesConfiguration: {
              idAttribute: 'gid',
              geometryAttribute: 'geometry',
              attributes: [
                { attributeName: 'name', subType: 'String' },
                { attributeName: 'dateofimage', subType: 'DateTime' },
              ],
            },
          },
        },
        attributes: { value: { name: 'Landsat-8', dateofimage: '2023-12-08T12:00:00+00:00' } },
        polygonize: true,
      },
    },
  },
  prepare,
  execute,
  async release(plan) {
    plan.release();
  },
};

export default tiling;
