import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Process, ProcessContext } from '../../src/process/types.js';
import { InputFile } from '../../src/process/inputs.js';
import { BBOX_SCHEMA } from '../../src/process/input-schemas.js';

const SLEEP_TASK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sleep-task.js');

/**
 * The CITE test process (/rec/core/test-process, ogcapi-processes.md §0.1): each input is echoed by
 * the output of the same id (the ETS asks for "the output whose id equals the first input's id");
 * `pause` (seconds, integer or float) keeps a pool task busy so that jobs run long and dismiss can
 * be shown to stop them.
 */
const echo: Process = {
  description: {
    id: 'echo',
    version: '1.0.0',
    title: 'Echo',
    description:
      'Returns its inputs unchanged. With `pause`, waits that many seconds first (in the worker pool), reporting progress; use it to test clients, async jobs and dismiss.',
    keywords: ['test', 'echo', 'ogc-cite'],
    jobControlOptions: ['sync-execute', 'async-execute', 'dismiss'],
    outputTransmission: ['value', 'reference'],
    inputs: {
      stringInput: {
        title: 'String',
        description: 'Any text; echoed by the output stringInput.',
        schema: { type: 'string', maxLength: 1_000_000 },
        minOccurs: 1,
        maxOccurs: 1,
      },
      pause: {
        title: 'Pause (seconds)',
        description: 'Seconds to wait before answering (integer or decimal, at most 3600).',
        schema: { type: 'number', minimum: 0, maximum: 3600, default: 0 },
        minOccurs: 0,
        maxOccurs: 1,
      },
      objectInput: { title: 'Object', description: 'Any JSON object.', schema: { type: 'object' }, minOccurs: 0, maxOccurs: 1 },
      arrayInput: {
        title: 'Array',
        description: 'An array of numbers.',
        schema: { type: 'array', items: { type: 'number' }, maxItems: 10000 },
        minOccurs: 0,
        maxOccurs: 1,
      },
      bboxInput: { title: 'Bounding box', description: 'An OGC bounding box.', schema: BBOX_SCHEMA, minOccurs: 0, maxOccurs: 1 },
      binaryInput: {
        title: 'Binary',
        description: 'Binary content (base64 or href), echoed with its media type.',
        schema: { type: 'string', format: 'binary', contentEncoding: 'binary', contentMediaType: 'application/octet-stream' },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      stringInput: { title: 'String', schema: { type: 'string', contentMediaType: 'text/plain' } },
      pause: { title: 'Pause', schema: { type: 'number' } },
      objectInput: { title: 'Object', schema: { type: 'object', contentMediaType: 'application/json' } },
      arrayInput: { title: 'Array', schema: { type: 'array', items: { type: 'number' } } },
      bboxInput: { title: 'Bounding box', schema: BBOX_SCHEMA },
      binaryInput: {
        title: 'Binary',
        schema: { type: 'string', format: 'binary', contentEncoding: 'binary', contentMediaType: 'application/octet-stream' },
      },
    },
    example: {
      inputs: { stringInput: 'Hello, dallage', pause: 2, arrayInput: [1, 2, 3], bboxInput: { bbox: [2.1, 48.7, 2.5, 49.0] } },
      outputs: { stringInput: { transmissionMode: 'value' } },
      response: 'document',
    },
  },

  async execute(inputs, ctx: ProcessContext) {
    const pause = typeof inputs.pause === 'number' ? inputs.pause : 0;
    if (pause > 0) await pauseInPool(pause, ctx);
    const outputs: Record<string, unknown> = {};
    for (const [id, value] of Object.entries(inputs)) {
      if (value instanceof InputFile) outputs[id] = value;
      else outputs[id] = value;
    }
    return outputs;
  },
};

/** Sleeps in a pool task (aborted with the job), reporting progress from the main thread. */
async function pauseInPool(seconds: number, ctx: ProcessContext): Promise<void> {
  const started = Date.now();
  const timer = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    ctx.progress(Math.min(99, (elapsed / seconds) * 100), `pausing: ${elapsed.toFixed(1)} s of ${seconds} s`);
  }, 100);
  try {
    await ctx.pool.run(SLEEP_TASK, 'sleep', { seconds }, { signal: ctx.signal });
  } finally {
    clearInterval(timer);
  }
  ctx.progress(100, 'pause done');
}

export default echo;
