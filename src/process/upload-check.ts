/**
 * What the check processes of uploads share (issue 11): a check is a process with one input, `upload`,
 * whose run writes log lines (`INFO …`, `ERROR …`: which file, what is wrong). Any ERROR line fails the
 * job. Run by a close, it also moves the upload's check entry (asked → in_progress → passed | failed),
 * and the last check to end settles the upload CLOSED or UNSTABLE (src/uploads/uploads.ts).
 */
import { ApiError, invalidInput } from '../errors.js';
import type { Release } from '../records/record-store.js';
import type { Upload } from '../records/uploads.js';
import type { Uploads } from '../uploads/uploads.js';
import type { RasterLocation } from '../raster/geotiff-source.js';
import type { ExecutionOutcome, Process, ProcessContext } from './types.js';

/** Log lines kept per check: enough to name every problem of a real delivery, bounded for a hostile one. */
const MAX_LOG_LINES = 1000;

/** What a check's work gets. */
export interface CheckRun {
  upload: Upload;
  /** The upload's files: relative path → size in bytes. */
  files: Map<string, number>;
  /** Where one of its files is, for the raster readers (a local file, or an object on S3). */
  at(relPath: string): RasterLocation;
  /** The whole of one of its (small) files. */
  read(relPath: string): Promise<Buffer>;
  /** The MD5 of one of its files (hex), read in bounded chunks. */
  md5(relPath: string): Promise<string>;
  signal: AbortSignal;
  progress(percent: number, message?: string): void;
  info(line: string): void;
  /** A problem: the check fails (after it has looked at everything). */
  error(line: string): void;
}

export interface UploadCheckDefinition {
  /** The check's `_id` (src/uploads/checks.ts), also its process id. */
  id: string;
  name: string;
  title: string;
  description: string;
  /** Looks at the upload; returns what it learnt for the upload's `type_infos`, if anything. */
  run(check: CheckRun): Promise<Record<string, unknown> | undefined>;
}

interface CheckPlan {
  uploadId: string;
  /** The job id (the execution id of the check). */
  executionId: string;
  /** Where release records a run that ended without its verdict. */
  uploads: Uploads;
  /** True when the run belongs to a close (it updates the upload's checks). */
  ofClose: boolean;
  release: Release;
  /**
   * What the check found, kept by `execute` for `release`: the upload's check is marked ended only once
   * the job's own record holds its final state, so that a client seeing the upload CLOSED or UNSTABLE
   * finds the check's job successful or failed, never still running.
   */
  verdict?: { passed: boolean; logs: string[]; typeInfos?: Record<string, unknown> };
}

export function uploadCheckProcess(def: UploadCheckDefinition): Process<CheckPlan> {
  return {
    description: {
      id: def.id,
      version: '1.0.0',
      title: def.title,
      description: `${def.description} Closing an upload runs it; run on its own, it reports without changing the upload's state. Its log lines say which file and what is wrong; a problem fails the job.`,
      keywords: ['upload', 'check', 'delivery'],
      jobControlOptions: ['async-execute', 'dismiss'],
      outputTransmission: ['value'],
      inputs: {
        upload: {
          title: 'Upload',
          description: 'Id of the upload to check.',
          schema: { type: 'string', minLength: 1 },
          minOccurs: 1,
          maxOccurs: 1,
        },
      },
      outputs: {
        report: {
          title: 'Report',
          description: 'The check, the upload, its log lines and what it learnt (type_infos).',
          schema: { type: 'object', contentMediaType: 'application/json' },
        },
      },
    },

    async prepare(inputs, ctx) {
      const uploadId = inputs.upload as string;
      const upload = await ctx.uploads.get(uploadId);
      if (!upload) throw invalidInput('upload', `no upload with id '${uploadId}'`);
      const release = await ctx.uploads.lockForRead([uploadId], ctx.jobId);
      try {
        const ofClose = await ctx.uploads.checkSubmitted(uploadId, def.id, ctx.jobId);
        return { uploadId, executionId: ctx.jobId, uploads: ctx.uploads, ofClose, release };
      } catch (err) {
        release();
        throw err;
      }
    },

    async execute(_inputs, ctx: ProcessContext<CheckPlan>) {
      const { uploadId, ofClose } = ctx.plan;
      if (ofClose) await ctx.uploads.checkRunning(uploadId, ctx.jobId);
      const upload = await ctx.uploads.get(uploadId);
      if (!upload) throw invalidInput('upload', `the upload '${uploadId}' was deleted`);
      const logs: string[] = [];
      let errors = 0;
      let dropped = 0;
      const write = (line: string) => {
        if (logs.length < MAX_LOG_LINES) logs.push(line);
        else dropped++;
        ctx.report({ logs });
      };
      const typeInfos = await def.run({
        upload,
        files: await ctx.uploads.files.files(uploadId),
        at: (relPath) => ctx.uploads.location(uploadId, relPath),
        read: (relPath) => ctx.uploads.read(uploadId, relPath),
        md5: (relPath) => ctx.uploads.md5(uploadId, relPath, ctx.signal),
        signal: ctx.signal,
        progress: ctx.progress,
        info: (line) => write(`INFO ${line}`),
        error: (line) => {
          errors++;
          write(`ERROR ${line}`);
        },
      });
      ctx.signal.throwIfAborted();
      if (dropped) logs.push(`INFO ${dropped} more line(s) not kept`);
      ctx.report({ logs });
      ctx.plan.verdict = { passed: errors === 0, logs, ...(typeInfos ? { typeInfos } : {}) };
      if (errors) {
        const first = logs.find((l) => l.startsWith('ERROR'))?.slice(6);
        throw new ApiError('invalid-input', `the ${def.name} check found ${errors} problem(s) in upload '${upload.name}': ${first}`);
      }
      return { report: { check: { name: def.name, _id: def.id }, upload: uploadId, passed: true, logs, type_infos: typeInfos ?? {} } };
    },

    async release(plan: CheckPlan, outcome: ExecutionOutcome) {
      plan.release();
      // One handed over to a worker has not ended. The verdict counts when the job ended as it says (a
      // passed check whose job could not save its result, or was dismissed, did not pass); a run that
      // ended without one (dismissed, stopped, crashed) fails the check.
      if (!plan.ofClose || outcome === 'handed-over') return;
      const v = plan.verdict;
      const at = { executionId: plan.executionId };
      if (v && (outcome === 'successful') === v.passed) await plan.uploads.checkEnded(plan.uploadId, at, v.passed, v.logs, v.typeInfos);
      else await plan.uploads.checkEnded(plan.uploadId, at, false, [...(v?.logs ?? []), `ERROR the check ended ${outcome}`]);
    },
  };
}
