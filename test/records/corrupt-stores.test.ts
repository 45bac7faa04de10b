// Corrupt store files: the server starts anyway, moves the bad file aside, says which file and how many
// records were lost, and serves the rest. Records missing required fields are reported, not loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '../../src/log.js';
import { LowdbJobStore } from '../../src/manager/stores/lowdb.js';
import { RECORD_KINDS } from '../../src/records/kinds.js';
import { Datastore } from '../../src/records/stored-data.js';
import { LowdbRecordStore } from '../../src/records/stores/lowdb.js';
import { makeJob } from '../manager/job-store.suite.js';
import { startTestServer } from '../helpers/server.js';

function capture(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger({}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)), lines };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-corrupt-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Two full segments of jobs (0–999, 1000–1999) and a third one with 5. */
async function threeSegments(dir: string): Promise<void> {
  const s = new LowdbJobStore(dir);
  await s.open();
  await Promise.all(Array.from({ length: 2005 }, (_, i) => s.create(makeJob(i))));
  await s.close();
}

/** Replaces the first ':' from `from` on with '#': one byte that breaks the JSON. */
async function flipByte(file: string, from: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[bytes.indexOf(':'.charCodeAt(0), from)] = '#'.charCodeAt(0);
  await writeFile(file, bytes);
}

test('job store: one corrupt byte in a segment → that file is moved aside, logged with its name and count; the rest is served', () =>
  inTempDir(async (dir) => {
    await threeSegments(dir);
    const bad = path.join(dir, 'jobs-000002.json');
    await flipByte(bad, 5000);
    const { log, lines } = capture();
    const s = new LowdbJobStore(dir, log);
    await s.open();
    assert.equal(await s.count(), 1005);
    assert.ok(await s.get(makeJob(999).jobID));
    assert.equal(await s.get(makeJob(1000).jobID), undefined);
    assert.ok(await s.get(makeJob(2004).jobID));
    const files = await readdir(dir);
    const moved = files.filter((f) => f.startsWith('jobs-000002.json.corrupt-'));
    assert.equal(moved.length, 1);
    assert.ok(!files.includes('jobs-000002.json'));
    const entry = lines.find((l) => l.level === 'error' && l.file === bad);
    assert.ok(entry, JSON.stringify(lines));
    assert.equal(entry.lost, 1000);
    assert.equal(entry.movedTo, path.join(dir, moved[0]));
    // New jobs still go to the newest segment; reopening finds them, the quarantined file is left alone.
    await s.create(makeJob(5000));
    await s.close();
    const again = new LowdbJobStore(dir);
    await again.open();
    assert.equal(await again.count(), 1006);
    await again.close();
  }));

test('job store: a segment holding `null` (or not a job list) is moved aside and logged, not silently dropped', () =>
  inTempDir(async (dir) => {
    await threeSegments(dir);
    await writeFile(path.join(dir, 'jobs-000003.json'), 'null');
    await writeFile(path.join(dir, 'jobs-000001.json'), '{"jobs": 3}');
    const { log, lines } = capture();
    const s = new LowdbJobStore(dir, log);
    await s.open();
    assert.equal(await s.count(), 1000);
    const errors = lines
      .filter((l) => l.level === 'error')
      .map((l) => path.basename(l.file as string))
      .sort();
    assert.deepEqual(errors, ['jobs-000001.json', 'jobs-000003.json']);
    assert.equal((await readdir(dir)).filter((f) => f.includes('.corrupt-')).length, 2);
    // The next job goes to a fresh jobs-000003.json: the bad one was renamed, so nothing is overwritten.
    await s.create(makeJob(9000));
    await s.close();
  }));

test('job store: jobs missing required fields are reported and not loaded; the file is kept in an .invalid- copy', () =>
  inTempDir(async (dir) => {
    const good = makeJob(1);
    const { jobID: _, ...noId } = makeJob(2);
    const { status: __, ...noStatus } = makeJob(3);
    const { request: ___, ...noRequest } = makeJob(4);
    const text = JSON.stringify({ jobs: [good, noId, noStatus, null, noRequest, { ...makeJob(5), status: 'weird' }] });
    await writeFile(path.join(dir, 'jobs-000001.json'), text);
    const { log, lines } = capture();
    const s = new LowdbJobStore(dir, log);
    await s.open();
    assert.deepEqual(
      (await s.list({}, 0, 10)).jobs.map((j) => j.jobID),
      [good.jobID],
    );
    const entry = lines.find((l) => l.level === 'error');
    assert.ok(entry);
    assert.equal(entry.file, path.join(dir, 'jobs-000001.json'));
    assert.equal(entry.skipped, 5);
    assert.match(
      JSON.stringify(entry.problems),
      /'jobID' missing.*'status' missing.*not an object.*'request' missing.*unknown status 'weird'/,
    );
    const copy = (await readdir(dir)).find((f) => f.startsWith('jobs-000001.json.invalid-'));
    assert.ok(copy);
    assert.equal(await readFile(path.join(dir, copy), 'utf8'), text);
    await s.close();
  }));

test('records: a corrupt stored-data.json is moved aside and logged; missing-field records are not loaded', () =>
  inTempDir(async (dir) => {
    const store = new LowdbRecordStore(dir);
    await store.open(RECORD_KINDS);
    const ds = new Datastore(store);
    for (const name of ['a', 'b', 'c']) await ds.create({ name, type: 'T', status: 'READY' });
    await store.close();
    const file = path.join(dir, 'stored-data.json');
    await flipByte(file, 40);
    const { log, lines } = capture();
    const again = new LowdbRecordStore(dir, log);
    await again.open(RECORD_KINDS);
    assert.deepEqual(await new Datastore(again).list(), []);
    const entry = lines.find((l) => l.level === 'error');
    assert.equal(entry?.file, file);
    assert.equal(entry?.lost, 3);
    assert.equal((await readdir(dir)).filter((f) => f.startsWith('stored-data.json.corrupt-')).length, 1);
    await again.close();
  }));

test('server: starts on corrupt stores, serves the rest; a stored data missing fields is reported, not a 500 on ?f=html', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-corrupt-'));
  const jobs = path.join(dir, 'jobs');
  await mkdir(jobs, { recursive: true });
  const now = new Date().toISOString();
  const good = {
    _id: 'good',
    name: 'good',
    type: 'ROK4-PYRAMID-RASTER',
    status: 'READY',
    created: now,
    updated: now,
    use: [],
    type_infos: {},
    storage: { type: 'FILE', key: 'good.json' },
  };
  const broken = { _id: 'broken', name: 'broken', status: 'READY', created: now };
  await writeFile(path.join(jobs, 'stored-data.json'), JSON.stringify({ stored_data: [good, broken] }));
  await writeFile(path.join(jobs, 'jobs-000001.json'), '{"jobs": [{"jobID": "x", "proc');
  await writeFile(path.join(jobs, 'jobs-000002.json'), JSON.stringify({ jobs: [makeJob(7, { status: 'successful' })] }));
  const s = await startTestServer({ dir });
  try {
    const list = (await (await fetch(`${s.url}/stored_data`)).json()) as { stored_data: Array<{ _id: string }> };
    assert.deepEqual(
      list.stored_data.map((x) => x._id),
      ['good'],
    );
    assert.equal((await fetch(`${s.url}/stored_data/broken?f=html`)).status, 404);
    assert.equal((await fetch(`${s.url}/stored_data/good?f=html`)).status, 200);
    const jobList = (await (await fetch(`${s.url}/jobs`)).json()) as { jobs: Array<{ jobID: string }> };
    assert.deepEqual(
      jobList.jobs.map((j) => j.jobID),
      [makeJob(7).jobID],
    );
    assert.equal((await fetch(`${s.url}/jobs/${makeJob(7).jobID}?f=html`)).status, 200);
  } finally {
    await s.stop();
  }
});
