import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, execute, waitForJob } from './helpers/server.js';

test('the server starts on port 0, runs echo sync and async', async () => {
  const s = await startTestServer();
  try {
    const landing = await fetch(s.url + '/');
    assert.equal(landing.status, 200);
    const sync = await execute(s.url, 'echo', { inputs: { stringInput: 'teststring' }, outputs: { stringInput: {} } });
    assert.equal(sync.status, 200);
    assert.equal(await sync.text(), 'teststring');
    const async_ = await execute(
      s.url,
      'echo',
      { inputs: { stringInput: 'x', pause: 0.2 }, response: 'document' },
      { Prefer: 'respond-async' },
    );
    assert.equal(async_.status, 201);
    const job = (await async_.json()) as { jobID: string };
    const done = await waitForJob(s.url, job.jobID);
    assert.equal(done.status, 'successful');
    const results = (await (await fetch(`${s.url}/jobs/${job.jobID}/results`)).json()) as Record<string, unknown>;
    assert.deepEqual(results, { stringInput: 'x', pause: 0.2 });
  } finally {
    await s.stop();
  }
});
