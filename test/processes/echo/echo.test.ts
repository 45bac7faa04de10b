import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, type JobStep, waitForJob, withServer } from '../../helpers/server.js';

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
    // The bbox schema's crs default (CRS84) fills the member left out.
    assert.deepEqual(value(doc.bboxInput), { bbox: [1, 2, 3, 4], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' });
  });
});

test('echo with a pause reports progress from a pool task and ends successful', async () => {
  await withServer({ processes: { echo: 'echo' } }, async (s) => {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'slow', pause: 2 } }, { Prefer: 'respond-async' });
    assert.equal(res.status, 201);
    const { jobID } = (await res.json()) as { jobID: string };
    const seen: JobStep[] = [];
    const final = await waitForJob(s.url, jobID, { seen });
    const sawProgress = seen.some((st) => st.status === 'running' && (st.progress ?? 0) > 0 && /pausing/.test(st.message ?? ''));
    assert.equal(final.status, 'successful');
    assert.equal(final.progress, 100);
    assert.ok(sawProgress, 'progress seen while pausing');
  });
});

test('a left-out input with a schema default is echoed with that default (pause: 0)', async () => {
  await withServer({ processes: { echo: 'echo' } }, async (s) => {
    const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' }, outputs: { pause: {} }, response: 'document' });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal((JSON.parse(text) as Record<string, unknown>).pause, 0);
  });
});
