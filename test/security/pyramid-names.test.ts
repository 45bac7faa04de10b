/**
 * Issue 9, "Data destroyed by a name, and by a race": a product's name never reaches another product's files
 * or the server's (`jobs/`, `outputs/`), a cleanup removes only what its own run wrote, and two jobs given one
 * name never both write it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { skipUnlessCommands } from '../helpers/env.js';
import { execute, type TestServer, waitForJob } from '../helpers/server.js';
import {
  corruptBlock,
  generate,
  hrefOf,
  keysUnder,
  makeInput,
  openPyramid,
  pyramidResult,
  runJob,
  startPyramidServer,
  storedData,
} from '../helpers/pyramids.js';
import { checkReferences, pyramidSnapshot } from '../helpers/updates.js';

const skip = skipUnlessCommands('gdalinfo');
let s: TestServer;
let map: Awaited<ReturnType<typeof makeInput>>;
let corrupt: string;
const base = { tms: 'PM', mask: true, nodata: 255, width: 2, height: 2, compression: 'zip', bottom: '8' };

before(async () => {
  if (skip) return;
  s = await startPyramidServer();
  map = await makeInput(s, 'map.tif');
  corrupt = path.join(s.inputRoot, 'corrupt.tif');
  await corruptBlock(map.path, corrupt);
});

after(() => s?.stop());

async function deleteStoredData(id: string): Promise<number> {
  return (await fetch(`${s.url}/stored_data/${id}`, { method: 'DELETE' })).status;
}

test('pyramids named SAME.json and SAME.list (failing, then READY and deleted) leave the READY pyramid SAME as it was', {
  skip,
}, async () => {
  const same = await generate(s, { ...base, images: [{ href: map.href }], name: 'SAME' });
  const before = await pyramidSnapshot(s, 'SAME');
  for (const name of ['SAME.json', 'SAME.list']) {
    const failed = await runJob(s, { ...base, images: [{ href: hrefOf(corrupt) }], name });
    assert.equal(failed.final.status, 'failed', JSON.stringify(failed.final));
  }
  // The failed records keep their names: a READY pyramid named like SAME's list, then deleted.
  const other = await generate(s, { ...base, images: [{ href: map.href }], name: 'SAME.tmp' });
  assert.equal(await deleteStoredData(other.record._id as string), 204);

  assert.deepEqual(await pyramidSnapshot(s, 'SAME'), before, 'the files of SAME changed');
  const [record] = await storedData(s, '?name=SAME&status=READY');
  assert.equal(record._id, same.record._id);
  const reader = await openPyramid(s, 'SAME');
  assert.ok(reader.levels.length > 0);
  await checkReferences(s, 'SAME');
});

test("pyramids named jobs and outputs, then deleted, leave every job's results in place", { skip }, async () => {
  const echo = await execute(s.url, 'echo', { inputs: { stringInput: 'kept' }, response: 'document' }, { Prefer: 'respond-async' });
  assert.equal(echo.status, 201);
  const { jobID } = (await echo.json()) as { jobID: string };
  assert.equal((await waitForJob(s.url, jobID)).status, 'successful');
  const resultsBefore = await keysUnder(s, `jobs/${jobID}/`);
  assert.ok(resultsBefore.length > 0, 'the echo job stored its results');
  const firstPyramid = await generate(s, { ...base, images: [{ href: map.href }], name: 'FIRST' });

  for (const name of ['jobs', 'outputs']) {
    const made = await generate(s, { ...base, images: [{ href: map.href }], name });
    assert.equal(await deleteStoredData(made.record._id as string), 204);
  }
  assert.deepEqual(await keysUnder(s, `jobs/${jobID}/`), resultsBefore);
  const results = await fetch(`${s.url}/jobs/${jobID}/results`);
  assert.equal(results.status, 200, await results.text());
  assert.equal((await pyramidResult(s, firstPyramid.jobID)).status, 'READY');
});

test('two jobs given one name at once: one pyramid READY with its own files, the other refused or failed naming `name`', {
  skip,
}, async () => {
  const other = await makeInput(s, 'other.tif', { seed: 7 });
  const submit = (href: string) =>
    execute(s.url, 'raster-to-pyramid', { inputs: { ...base, images: [{ href }], name: 'RACE' } }, { Prefer: 'respond-async' });
  const answers = await Promise.all([submit(map.href), submit(other.href)]);
  const outcomes: string[] = [];
  for (const res of answers) {
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === 400) {
      assert.match(String(body.detail), /name/);
      outcomes.push('refused');
      continue;
    }
    assert.equal(res.status, 201, JSON.stringify(body));
    const final = await waitForJob(s.url, body.jobID as string);
    if (final.status === 'failed') assert.match(String(final.message), /'name'/);
    outcomes.push(String(final.status));
  }
  assert.deepEqual(outcomes.filter((o) => o === 'successful').length, 1, `outcomes: ${outcomes.join(', ')}`);
  const ready = await storedData(s, '?name=RACE&status=READY');
  assert.equal(ready.filter((r) => r.name === 'RACE').length, 1);
  // Nothing on disk that its list does not name: no slab of the other run mixed in.
  await checkReferences(s, 'RACE');
});
