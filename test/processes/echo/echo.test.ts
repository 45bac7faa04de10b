import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, waitForJob, withServer } from '../../helpers/server.js';

test('echo answers each input by the output of the same id (the OGC test process)', async () => {
  await withServer({ processes: { echo: 'echo' } }, async (s) => {
    const inputs = {
      stringInput: 'teststring',
      arrayInput: [1, 2, 3],
      objectInput: { a: [1, { b: 'c' }] },
      bboxInput: { bbox: [1, 2, 3, 4] },
    };
    const res = await execute(s.url, 'echo', {
      inputs,
      response: 'document',
      outputs: { stringInput: {}, arrayInput: {}, objectInput: {}, bboxInput: {} },
    });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    const value = (v: unknown) => (v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v);
    assert.equal(value(doc.stringInput), 'teststring');
    assert.deepEqual(value(doc.arrayInput), [1, 2, 3]);
    assert.deepEqual(value(doc.objectInput), inputs.objectInput);
    assert.deepEqual(value(doc.bboxInput), { bbox: [1, 2, 3, 4] });
  });
});

test('echo with a pause reports progress from a pool task and ends successful', async () => {
  await withServer({ processes: { echo: 'echo' } }, async (s) => {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'slow', pause: 2 } }, { Prefer: 'respond-async' });
    assert.equal(res.status, 201);
    const { jobID } = (await res.json()) as { jobID: string };
    let sawProgress = false;
    for (;;) {
      const status = (await (await fetch(`${s.url}/jobs/${jobID}`)).json()) as { status: string; progress?: number; message?: string };
      if (status.status === 'running' && (status.progress ?? 0) > 0 && /pausing/.test(status.message ?? '')) sawProgress = true;
      if (status.status !== 'accepted' && status.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const final = await waitForJob(s.url, jobID);
    assert.equal(final.status, 'successful');
    assert.equal(final.progress, 100);
    assert.ok(sawProgress, 'progress seen while pausing');
  });
});
