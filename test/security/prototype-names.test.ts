import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';
import { assertProblem } from '../api/problem-assert.js';

// Issue 9: `GET /jobs/{id}/results/__proto__` answered 500 "invalid storage key" — the output was
// looked up as a plain object member and found Object.prototype. Names of Object.prototype members
// are ordinary unknown names everywhere: 404.

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.stop());

test('an output named like an Object.prototype member is a 404 no-such-output', async () => {
  const res = await execute(s.url, 'echo', { inputs: { stringInput: 'x' } }, { Prefer: 'respond-async' });
  assert.equal(res.status, 201);
  const job = (await res.json()) as { jobID: string };
  assert.equal((await waitForJob(s.url, job.jobID)).status, 'successful');
  for (const name of NAMES) {
    await assertProblem(await fetch(`${s.url}/jobs/${job.jobID}/results/${name}`), 404, { type: 'no-such-output' });
  }
  assert.equal((await fetch(`${s.url}/jobs/${job.jobID}/results/stringInput`)).status, 200, 'a real output still answers');
});

test('jobs, processes, stored data and sync outputs named like Object.prototype members are 404s', async () => {
  for (const name of NAMES) {
    for (const path of [
      `/jobs/${name}`,
      `/jobs/${name}/results`,
      `/processes/${name}`,
      `/stored_data/${name}`,
      `/outputs/${name}/${name}`,
    ]) {
      const res = await fetch(`${s.url}${path}`);
      await res.arrayBuffer();
      assert.equal(res.status, 404, `GET ${path}`);
    }
    await assertProblem(await execute(s.url, name, { inputs: {} }), 404);
  }
});
