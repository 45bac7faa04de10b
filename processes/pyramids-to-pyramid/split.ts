/**
 * Split merges (issue 14, "split big pyramids … (and merge)"): a merge handles every level on its own
 * (rok4.md §9.3, JOINCACHE: upper levels are not recomputed from lower ones), so its slabs to recompute are
 * independent. On bullmq workers a merge with many of them hands them out in parts that any worker computes
 * (each slab written to the shared storage, as the single run writes it); the job itself — the finisher —
 * makes the references, adds the parts' list lines and commits. The same slabs either way: a slab's bytes
 * depend only on the inputs' versions of it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PartContext, type PartRunner, partModuleName } from '../../src/manager/parts.js';
import type { PyramidLocation } from '../../src/pyramid/location.js';
import { SiblingTasks } from '../../src/pyramid/siblings.js';
import type { PyramidDescriptor } from '../../src/rok4/descriptor.js';
import { Rok4PyramidWriter } from '../../src/rok4/writer.js';
import { describeStorage } from '../../src/storage/factory.js';
import { PriorityScheduler } from '../../src/workers/scheduler.js';
import type { ComposeResult, ComposeTask } from './compose-task.js';
import type { SlabJob } from './merge-plan.js';

/** What every slab of a merge shares (its task without the slab's place and sources). */
export type ComposeCommon = Omit<ComposeTask, 'storage' | 'level' | 'col' | 'row' | 'sources'> & {
  /** All inputs, by their index in the request. */
  inputs: ComposeTask['sources'];
};

/** A part's work: its slabs, written into the output pyramid (JSON: it travels through Redis). */
export interface ComposeArgs {
  common: ComposeCommon;
  location: PyramidLocation;
  /** The output's descriptor so far (levels and their storage: where slabs go). */
  descriptor: PyramidDescriptor;
  /** [level, col, row, ...input indexes on top first]. */
  slabs: Array<[string, number, number, number[]]>;
  /** Compose tasks at once on the part's worker (the request's `parallelization`; 0: twice its threads). */
  parallel: number;
}

/** What a part hands back: the list lines (root 0) of the slabs it wrote, and how many. */
export interface ComposeOutcome {
  listPaths: string[];
  written: number;
}

/** The compose task of one slab (on the pool of whichever process runs it). */
export function composeTaskOf(
  common: ComposeCommon,
  storage: ComposeTask['storage'],
  job: Pick<SlabJob, 'level' | 'col' | 'row' | 'sources'>,
): ComposeTask {
  const { inputs, ...rest } = common;
  return { ...rest, storage, sources: job.sources.map((i) => inputs[i]), level: job.level, col: job.col, row: job.row };
}

/** Composes one slab in `pool` and writes it (nothing for a slab without data). */
export async function composeAndWrite(
  writer: Rok4PyramidWriter,
  run: (task: ComposeTask, signal: AbortSignal) => Promise<ComposeResult>,
  task: ComposeTask,
  signal: AbortSignal,
): Promise<boolean> {
  const r = await run(task, signal);
  if (!r.data) return false;
  await writer.writeSlab(task.level, task.col, task.row, 'DATA', r.data);
  if (r.mask) await writer.writeSlab(task.level, task.col, task.row, 'MASK', r.mask);
  return true;
}

/** The module and function a part runs (resolved by every worker from the same build). */
const PART_MODULE = partModuleName(import.meta.url);
/** The pool task module that composes a slab. */
export const COMPOSE_TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'compose-task.js');

/** A part (runs on any worker): its slabs composed in its own pool and written. */
export async function composePart(args: ComposeArgs, ctx: PartContext): Promise<ComposeOutcome> {
  const writer = new Rok4PyramidWriter(ctx.storage, args.location.name, args.descriptor, { folder: args.location.folder });
  const storage = describeStorage(ctx.storage);
  const siblings = new SiblingTasks(ctx.signal);
  const scheduler = new PriorityScheduler(
    Math.max(1, Math.min(args.parallel || Number.POSITIVE_INFINITY, ctx.pool.threads * 2)),
    siblings.signal,
  );
  let done = 0;
  const tasks = args.slabs.map(([level, col, row, sources], i) =>
    siblings.track(
      scheduler.run([i], async () => {
        siblings.signal.throwIfAborted();
        const task = composeTaskOf(args.common, storage, { level, col, row, sources });
        await composeAndWrite(
          writer,
          (t, signal) => ctx.pool.run<ComposeResult>(COMPOSE_TASKS, 'composeSlab', t, { signal }),
          task,
          siblings.signal,
        );
        ctx.progress(++done / args.slabs.length);
      }),
    ),
  );
  await siblings.settle(() => tasks);
  const listPaths = [...writer.list.entries()].map((e) => e.path);
  return { listPaths, written: listPaths.length };
}

/**
 * The slabs to recompute, cut into `parts.parts` parts of consecutive slabs (bottom level first, as the plan
 * lists them), run by the workers; resolves with the list lines they wrote. Undefined when there are fewer
 * than `parts.splitSlabs` (a single run is then cheaper than the queue).
 */
export async function composeSplit(
  parts: PartRunner,
  request: {
    jobId: string;
    signal: AbortSignal;
    progress(fraction: number): void;
    common: ComposeCommon;
    location: PyramidLocation;
    descriptor: PyramidDescriptor;
    parallel: number;
  },
  jobs: SlabJob[],
): Promise<string[] | undefined> {
  if (parts.splitSlabs <= 0 || jobs.length < Math.max(parts.splitSlabs, parts.parts)) return undefined;
  const size = Math.ceil(jobs.length / parts.parts);
  const groups: SlabJob[][] = [];
  for (let i = 0; i < jobs.length; i += size) groups.push(jobs.slice(i, i + size));
  const outcomes = await parts.run<ComposeOutcome>(
    request.jobId,
    groups.map((g) => ({
      module: PART_MODULE,
      fn: 'composePart',
      weight: g.length,
      args: {
        common: request.common,
        location: request.location,
        descriptor: request.descriptor,
        slabs: g.map((j) => [j.level, j.col, j.row, j.sources]),
        parallel: request.parallel,
      } satisfies ComposeArgs,
    })),
    { signal: request.signal, progress: request.progress },
  );
  return outcomes.flatMap((o) => o.listPaths);
}
