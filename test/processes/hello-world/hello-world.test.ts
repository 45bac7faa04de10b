import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, waitForJob, withServer } from '../../helpers/server.js';

test('hello-world greets the name, with the message when one is given, sync and async', async () => {
  await withServer({ processes: { 'hello-world': 'hello-world' } }, async (s) => {
    const plain = await execute(s.url, 'hello-world', { inputs: { name: 'World' } });
    assert.equal(plain.status, 200);
    assert.deepEqual(await plain.json(), { id: 'greeting', value: 'Hello World!' });

    const job = await execute(s.url, 'hello-world', { inputs: { name: 'Corse', message: 'Bonjour.' } }, { Prefer: 'respond-async' });
    assert.equal(job.status, 201);
    const { jobID } = (await job.json()) as { jobID: string };
    assert.equal((await waitForJob(s.url, jobID)).status, 'successful');
    const results = await fetch(`${s.url}/jobs/${jobID}/results`);
    assert.deepEqual(await results.json(), { id: 'greeting', value: 'Hello Corse! Bonjour.' });
  });
});
