import { invalidInput } from '../../src/errors.js';
import type { StoredData } from '../../src/records/stored-data.js';
import { pyramidTypeInfos } from '../../src/records/pyramid-infos.js';
import { BBOX_SCHEMA, levelInput, productNameInput } from '../../src/process/input-schemas.js';
import type { PrepareContext, Process, ProcessContext } from '../../src/process/types.js';
import { reservePyramid, writePyramid, type PyramidReservation } from '../../src/pyramid/life-cycle.js';
import { levelStorage, treePrefix } from '../../src/pyramid/location.js';
import { loadReadyPyramid, readPyramidList, requireReadyRecord, type ReadyPyramid } from '../../src/pyramid/ready-pyramid.js';
import { OriginalReferences } from '../../src/pyramid/reference.js';
import { SiblingTasks } from '../../src/pyramid/siblings.js';
import { resolveCrs, transformBbox, type Bbox } from '../../src/raster/crs.js';
import { loadTms, levelsSortedByResolution, slabRangeOfBbox, tileMatrix, type TileMatrixSet } from '../../src/raster/tms.js';
import { nodataValues, type PyramidDescriptor } from '../../src/rok4/descriptor.js';
import { parseFormat } from '../../src/rok4/formats.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { describeStorage } from '../../src/storage/factory.js';
import { PriorityScheduler } from '../../src/workers/scheduler.js';
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import type { ComposeResult } from './compose-task.js';
import type { MergeMethod } from './compose.js';
import { planMerge, type MergeSource, type SlabJob } from './merge-plan.js';
import { COMPOSE_TASKS, type ComposeCommon, composeAndWrite, composeSplit, composeTaskOf } from './split.js';
import { STORAGE_INPUT } from '../../src/process/storage-input.js';

const NO_MASK_WARNING =
  'without masks, the nodata frame of an input hides the inputs below it; generate pyramids with mask: true to merge them';

type Input = ReadyPyramid;

/** Everything checked before work, with the output name and the inputs reserved until the job ends. */
interface MergePlanned {
  inputs: Input[];
  tms: TileMatrixSet;
  levels: string[];
  name: string;
  method: MergeMethod;
  bbox?: Bbox;
  parallelization?: number;
  reservation: PyramidReservation;
}

async function prepare(raw: Record<string, unknown>, ctx: PrepareContext): Promise<MergePlanned> {
  const ids = raw.stored_data as string[];
  const reservation = await reservePyramid(ctx, raw.name as string, [...new Set(ids)]);
  try {
    return { ...(await check(raw, ctx)), reservation };
  } catch (err) {
    reservation.release();
    throw err;
  }
}

/** The preconditions of rok4.md §9.2, checked before any work (400 naming the mismatch). */
async function check(raw: Record<string, unknown>, ctx: PrepareContext): Promise<Omit<MergePlanned, 'reservation'>> {
  const ids = raw.stored_data as string[];
  const name = raw.name as string;
  if (new Set(ids).size !== ids.length) throw invalidInput('stored_data', 'lists the same pyramid twice');
  const inputs: Input[] = [];
  for (const [i, id] of ids.entries()) inputs.push(await loadReadyPyramid(ctx.datastore, ctx.storage, id, `stored_data[${i}]`, ctx));
  const first = inputs[0].descriptor;
  const firstFormat = parseFormat(first.format);
  const depthOf = (d: PyramidDescriptor) => (d.levels[0].storage.type === 'FILE' ? d.levels[0].storage.path_depth : 0);
  inputs.forEach(({ descriptor: d, record }, i) => {
    const label = `stored_data[${i}]`;
    // Merged pyramids must share TMS, slab size, format and storage layout (rok4.md §9.2); the message
    // says so in the user's words.
    const mismatch = (what: string, a: unknown, b: unknown) =>
      invalidInput(
        label,
        `'${record.name}' has ${what} ${JSON.stringify(a)} but '${inputs[0].record.name}' has ${JSON.stringify(b)}: ` +
          'merged pyramids must share it',
      );
    if (d.tile_matrix_set !== first.tile_matrix_set) throw mismatch('tile matrix set', d.tile_matrix_set, first.tile_matrix_set);
    const slab = (x: PyramidDescriptor) => `${x.levels[0].tiles_per_width}x${x.levels[0].tiles_per_height}`;
    if (slab(d) !== slab(first)) throw mismatch('slab size', slab(d), slab(first));
    if (d.levels[0].storage.type !== first.levels[0].storage.type)
      throw mismatch('storage type', d.levels[0].storage.type, first.levels[0].storage.type);
    if (depthOf(d) !== depthOf(first)) throw mismatch('path depth', depthOf(d), depthOf(first));
    if (parseFormat(d.format).sampleType !== firstFormat.sampleType)
      throw mismatch('sample format', parseFormat(d.format).sampleType, firstFormat.sampleType);
  });
  let tms: TileMatrixSet;
  try {
    tms = await loadTms(first.tile_matrix_set, ctx.settings.tmsFolders);
  } catch (err) {
    throw invalidInput('stored_data', `tile matrix set ${first.tile_matrix_set}: ${(err as Error).message}`);
  }
  // Levels: those of the inputs between bottom and top (defaults: finest and coarsest of all inputs, §9.1).
  const present = new Set(inputs.flatMap(({ descriptor }) => descriptor.levels.map((l) => l.id)));
  const sorted = levelsSortedByResolution(tms).filter((tm) => present.has(tm.id));
  const levelIndex = (id: string, input: string) => {
    const i = sorted.findIndex((tm) => tm.id === id);
    if (i < 0) throw invalidInput(input, `level '${id}' is in none of the inputs (${sorted.map((t) => t.id).join(', ')})`);
    return i;
  };
  const lo = raw.bottom !== undefined ? levelIndex(raw.bottom as string, 'bottom') : 0;
  const hi = raw.top !== undefined ? levelIndex(raw.top as string, 'top') : sorted.length - 1;
  if (hi < lo) throw invalidInput('top', `top level ${raw.top} is finer than bottom level ${sorted[lo].id}`);
  const levels = sorted.slice(lo, hi + 1).map((tm) => tm.id);

  let bbox: Bbox | undefined;
  if (raw.bbox !== undefined) {
    const b = raw.bbox as { bbox: number[]; crs?: string };
    if (b.bbox.length !== 4) throw invalidInput('bbox', 'only 2D bounding boxes are supported');
    try {
      bbox = transformBbox(b.bbox as Bbox, resolveCrs(b.crs ?? 'OGC:CRS84'), tms.crs);
    } catch (err) {
      throw invalidInput('bbox', (err as Error).message);
    }
  }
  return {
    inputs,
    tms,
    levels,
    name,
    method: (raw.method as MergeMethod | undefined) ?? 'TOP',
    bbox,
    parallelization: raw.parallelization as number | undefined,
  };
}

/**
 * pyramids-to-pyramid: the Géoplateforme "Fusion de pyramides raster" (rok4.md §9, JOINCACHE). Slabs present
 * in one input are referenced (never copied, never a reference to a reference); slabs present in several are
 * recomputed from their decoded pixels with their masks, the first input on top.
 */
const pyramidsToPyramid: Process<MergePlanned> = {
  description: {
    id: 'pyramids-to-pyramid',
    version: '1.0.0',
    title: 'Merge of raster pyramids (ROK4)',
    description:
      'Composes a ROK4 pyramid from several pyramids with the same tile matrix set, slab size and sample format. ' +
      'Only slabs present in several inputs are recomputed (the first input on top); the others are referenced, not copied, ' +
      'so the result depends on its inputs, which can then no longer be deleted. Generate the inputs with `mask: true`: ' +
      `${NO_MASK_WARNING}.`,
    keywords: ['ROK4', 'pyramid', 'merge', 'JOINCACHE'],
    jobControlOptions: ['async-execute', 'dismiss'],
    outputTransmission: ['value'],
    inputs: {
      storage: STORAGE_INPUT,
      stored_data: {
        title: 'Input pyramids',
        description:
          'Ids of READY pyramid stored data (type `ROK4-PYRAMID-RASTER`), the first on top. They cannot be deleted until the job ends.',
        schema: { type: 'string', format: 'ogc-stored-data' },
        minOccurs: 2,
        maxOccurs: 'unbounded',
      },
      name: productNameInput('Name of the merged pyramid (its ROK4 descriptor is `<name>.json`); no stored data may have it already.'),
      top: levelInput('Top level', 'Coarsest level id; default: the coarsest level of the inputs.'),
      bottom: levelInput('Bottom level', 'Finest level id; default: the finest level of the inputs.'),
      bbox: {
        title: 'Area',
        description: 'Only input slabs touching this area are used (default: everything).',
        schema: BBOX_SCHEMA,
        minOccurs: 0,
        maxOccurs: 1,
      },
      method: {
        title: 'Merge method',
        description:
          '`TOP`: the first input with data wins; `ALPHATOP`: alpha blending; `MULTIPLY`: values multiplied; `REPLACE`: only the first input where it has a slab.',
        schema: { type: 'string', enum: ['TOP', 'ALPHATOP', 'MULTIPLY', 'REPLACE'], default: 'TOP' },
        minOccurs: 0,
        maxOccurs: 1,
      },
      parallelization: {
        title: 'Parallel slabs',
        description: 'Slabs computed at once (default: the worker pool size).',
        schema: { type: 'integer', minimum: 1, maximum: 64 },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      pyramid: {
        title: 'Pyramid',
        description: 'The stored data record of the merged pyramid, with the counts of referenced and recomputed slabs.',
        schema: { type: 'object', contentMediaType: 'application/json' },
      },
    },
    example: { inputs: { stored_data: ['<id of the north pyramid>', '<id of the south pyramid>'], name: 'MERGED', method: 'TOP' } },
  },

  prepare,

  async execute(_raw, ctx) {
    return { pyramid: await run(ctx.plan, ctx) };
  },

  async release(planned) {
    planned.reservation.release();
  },
};

/** Writes the merged pyramid (rok4.md §9.3). */
async function run(c: MergePlanned, ctx: ProcessContext<MergePlanned>): Promise<StoredData> {
  const { inputs, tms, levels } = c;
  // What can change while the job was queued: the inputs are still READY.
  for (const [i, input] of inputs.entries()) await requireReadyRecord(ctx.datastore, input.record._id, `stored_data[${i}]`);
  // Parts of an earlier run of this job (retaken after its worker died) must not write into the new one.
  if (ctx.parts) await ctx.parts.stopEarlier(ctx.jobId, ctx.signal);
  const first = inputs[0].descriptor;
  if (inputs.some((i) => !i.descriptor.mask_format))
    ctx.warn(
      `${inputs
        .filter((i) => !i.descriptor.mask_format)
        .map((i) => `'${i.record.name}'`)
        .join(', ')} ha${inputs.length > 1 ? 've' : 's'} no masks: ${NO_MASK_WARNING}`,
    );
  const withMask = !!first.mask_format;
  const depth = first.levels[0].storage.type === 'FILE' ? first.levels[0].storage.path_depth : 2;
  const outputFormat = parseFormat(first.format);
  const spec: SlabSpec = {
    tileWidth: tileMatrix(tms, levels[0]).tileWidth,
    tileHeight: tileMatrix(tms, levels[0]).tileHeight,
    tilesPerWidth: first.levels[0].tiles_per_width,
    tilesPerHeight: first.levels[0].tiles_per_height,
    channels: first.raster_specifications!.channels,
    sampleType: outputFormat.sampleType,
    compression: outputFormat.compression,
    mask: withMask,
    nodata: nodataValues(first.raster_specifications!),
  };
  return writePyramid(ctx, c.reservation, 'merge failed', async (location) => {
    const name = location.name;
    const writer = new Rok4PyramidWriter(
      ctx.storage,
      name,
      {
        tile_matrix_set: first.tile_matrix_set,
        format: first.format,
        ...(withMask ? { mask_format: first.mask_format } : {}),
        raster_specifications: { ...first.raster_specifications! },
        levels: [],
      } as PyramidDescriptor,
      { folder: location.folder },
    );
    const sources: MergeSource[] = [];
    for (const [index, input] of inputs.entries()) {
      sources.push({ index, name: input.record.name, descriptor: input.descriptor, list: await readPyramidList(ctx.storage, input) });
    }
    const slab = { tilesPerWidth: spec.tilesPerWidth, tilesPerHeight: spec.tilesPerHeight };
    const area = c.bbox
      ? (level: string, col: number, row: number) => {
          const r = slabRangeOfBbox(tileMatrix(tms, level), c.bbox!, slab);
          return col >= r.colMin && col <= r.colMax && row >= r.rowMin && row <= r.rowMax;
        }
      : undefined;
    const plan = planMerge(sources, levels, { replace: c.method === 'REPLACE', area });
    writer.descriptor.levels = [...levels]
      .reverse()
      .filter((id) => plan.tileLimits.has(id))
      .map((id) => ({
        id,
        tiles_per_width: spec.tilesPerWidth,
        tiles_per_height: spec.tilesPerHeight,
        tile_limits: plan.tileLimits.get(id)!,
        storage: levelStorage(ctx.storage, location, id, withMask, depth),
      }));
    const total = [...plan.slabs.values()].reduce((n, jobs) => n + jobs.length, 0);
    const refs = new OriginalReferences(writer, ctx.storage, ctx.datastore);
    for (const input of inputs) refs.owners.add(input.record._id);
    let done = 0,
      referenced = 0,
      recomputed = 0,
      converted = 0;
    const sameFormat = (d: PyramidDescriptor) =>
      d.format === first.format &&
      d.raster_specifications?.channels === first.raster_specifications?.channels &&
      d.raster_specifications?.photometric === first.raster_specifications?.photometric;
    // The first failure stops the other slabs, and every slab already started is awaited before the
    // partial pyramid is removed (nothing may be written after, DESIGN §7).
    const siblings = new SiblingTasks(ctx.signal);
    const scheduler = new PriorityScheduler(
      Math.max(1, Math.min(c.parallelization ?? ctx.pool.threads, ctx.pool.threads * 2)),
      siblings.signal,
    );
    const storageDescriptor = describeStorage(ctx.storage);
    const sourceRefs = inputs.map((input) => ({ name: input.record.name, folder: input.location.folder, id: input.record._id }));

    /** The slab of `source` at the same place, made a reference to its original (rok4.md §7.1). */
    const reference = async (source: MergeSource, level: string, col: number, row: number, kind: 'DATA' | 'MASK') => {
      const entry = source.list.getEntry(writer.slabListPath(level, col, row, kind));
      if (entry) await refs.link(source.list, source.name, entry, { kind, level, col, row });
    };

    const common: ComposeCommon = { inputs: sourceRefs, method: c.method, spec, format: first.format };
    const compose = (t: Parameters<typeof composeTaskOf>[2], signal: AbortSignal) =>
      composeAndWrite(
        writer,
        (task, s) => ctx.pool.run<ComposeResult>(COMPOSE_TASKS, 'composeSlab', task, { signal: s }),
        composeTaskOf(common, storageDescriptor, t),
        signal,
      );
    const report = (level: string) =>
      ctx.progress(
        (done / total) * 100,
        `level ${level}: ${done}/${total} slabs (${referenced} referenced, ${recomputed} recomputed${converted ? `, ${converted} converted` : ''})`,
      );
    const all = [...plan.slabs.values()].flat();
    const isReference = (job: SlabJob) => job.sources.length === 1 && sameFormat(sources[job.sources[0]].descriptor);
    const count = (job: SlabJob) => {
      if (isReference(job)) referenced++;
      else if (job.sources.length === 1) converted++;
      else recomputed++;
    };

    // On bullmq workers, many slabs to recompute are handed out in parts (issue 14); references stay here.
    const toCompute = all.filter((job) => !isReference(job));
    const fromParts =
      ctx.parts && location.folder !== ''
        ? await composeSplit(
            ctx.parts,
            {
              jobId: ctx.jobId,
              signal: ctx.signal,
              progress: (f) =>
                ctx.progress(
                  f * (toCompute.length / total) * 100,
                  `parts: ${Math.round(f * toCompute.length)}/${toCompute.length} slabs recomputed`,
                ),
              common,
              location,
              descriptor: writer.descriptor,
              parallel: c.parallelization ?? 0,
            },
            toCompute,
          )
        : undefined;
    if (fromParts) {
      for (const p of fromParts) writer.list.setEntry(0, p);
      for (const job of toCompute) count(job);
      done = toCompute.length;
    }

    const tasks = (fromParts ? all.filter(isReference) : all).map((job) =>
      siblings.track(
        scheduler.run([levels.indexOf(job.level), job.row, job.col], async () => {
          siblings.signal.throwIfAborted();
          if (isReference(job)) {
            const single = sources[job.sources[0]];
            await reference(single, job.level, job.col, job.row, 'DATA');
            if (withMask && single.descriptor.mask_format) await reference(single, job.level, job.col, job.row, 'MASK');
          } else {
            await compose(job, siblings.signal);
          }
          count(job);
          done++;
          report(job.level);
        }),
      ),
    );
    await siblings.settle(() => tasks);
    return {
      writer,
      ready: {
        size: await ownBytes(ctx, treePrefix(location)),
        use: [...refs.owners],
        type_infos: pyramidTypeInfos(writer.descriptor, tms, {
          merge: {
            method: c.method,
            referenced,
            recomputed,
            converted,
            inputs: inputs.map((i) => ({ _id: i.record._id, name: i.record.name })),
          },
        }),
      },
    };
  });
}

/**
 * Bytes of the pyramid's own slabs (references excluded). Objects are looked at 16 at a time: on S3 each
 * costs a ranged GET (is it a reference?) and a HEAD, and one after the other they made a tenth of a merge.
 */
async function ownBytes(ctx: Pick<ProcessContext, 'storage'>, tree: string): Promise<number> {
  const keys: string[] = [];
  for await (const key of ctx.storage.list(`${tree}/`)) keys.push(key);
  let total = 0;
  let next = 0;
  const measureNext = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++];
      if ((await ctx.storage.linkTarget(key)) !== undefined) continue;
      total += (await ctx.storage.size(key)) ?? 0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, keys.length) }, measureNext));
  return total;
}

export default pyramidsToPyramid;
