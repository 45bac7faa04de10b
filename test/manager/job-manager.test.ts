/**
 * The JobManager on its own (no HTTP): a real runtime (memory job store, file storage in a temp folder,
 * the worker pool) running a fake process whose steps the test drives through gates, so that queueing,
 * dismiss, progress and the `prepare → execute → release` life cycle are checked state by state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config.js';
import { ApiError } from '../../src/errors.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { MemoryJobStore } from '../../src/manager/stores/memory.js';
import type { JobRecord, JobStatus } from '../../src/manager/job.js';
import type { ExecutionOutcome, Process, ProcessContext } from '../../src/process/types.js';

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

interface Plan {
  token: string;
  jobId: string;
}

/** What the fake process saw, per execution id. */
interface Trace {
  prepared: string[];
  executed: Array<{ jobId: string; plan: unknown; settings: unknown; options: Record<string, unknown>; defaulted: readonly string[] }>;
  released: Array<{ jobId: string; outcome: ExecutionOutcome }>;
}

/**
 * A process whose execute waits for the gate of its `key` input (or for its AbortSignal), reports
 * progress, and fails when asked. `produce` lists the outputs it returns.
 */
function fakeProcess(trace: Trace, gates: Map<string, ReturnType<typeof gate>>): Process<Plan> {
  return {
    description: {
      id: 'fake',
      version: '1.0.0',
      title: 'Fake',
      jobControlOptions: ['sync-execute', 'async-execute', 'dismiss'],
      outputTransmission: ['value', 'reference'],
      inputs: {
        key: { schema: { type: 'string' } },
        fail: { schema: { type: 'string' }, minOccurs: 0 },
        refuse: { schema: { type: 'boolean' }, minOccurs: 0 },
        level: { schema: { type: 'integer', default: 7 }, minOccurs: 0 },
        produce: { schema: { type: 'array', items: { type: 'string' } }, minOccurs: 0 },
      },
      outputs: { a: { schema: { type: 'string' } }, b: { schema: { type: 'string' } } },
    },
    async prepare(inputs, ctx) {
      if (inputs.refuse === true) throw new ApiError('invalid-input', "input 'refuse': refused by prepare", { input: 'refuse' });
      trace.prepared.push(ctx.jobId);
      return { token: `plan of ${inputs.key as string}`, jobId: ctx.jobId };
    },
    async execute(inputs, ctx: ProcessContext<Plan>) {
      trace.executed.push({ jobId: ctx.jobId, plan: ctx.plan, settings: ctx.settings, options: ctx.options, defaulted: ctx.defaulted });
      ctx.progress(40, 'gate reached');
      const g = gates.get(inputs.key as string);
      if (g) {
        await new Promise<void>((resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          void g.promise.then(resolve);
        });
      }
      if (typeof inputs.fail === 'string') throw new Error(inputs.fail);
      const produce = (inputs.produce as string[] | undefined) ?? ['a'];
      return Object.fromEntries(produce.map((id) => [id, `${id} of ${inputs.key as string} at level ${inputs.level as number}`]));
    },
    async release(plan, outcome) {
      trace.released.push({ jobId: plan.jobId, outcome });
    },
  };
}

interface Fixture {
  rt: Runtime;
  trace: Trace;
  gates: Map<string, ReturnType<typeof gate>>;
  dir: string;
}

async function withManager(options: { maxRunning?: number; store?: MemoryJobStore }, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-manager-'));
  const config = parseConfig(
    JSON.stringify({
      server: { limits: { max_running_jobs: options.maxRunning ?? 2, max_pixels: 1234 } },
      manager: { name: 'memory', connection: path.join(dir, 'jobs') },
      storage: { type: 'file', path: path.join(dir, 'store') },
      pool: { threads: 1 },
      processes: { echo: 'echo' },
      security: { input_roots: [path.join(dir, 'inputs')], allowed_hosts: [], allow_internal: false },
      tms_folders: [path.join(dir, 'tms')],
      logging: { enabled: false },
    }),
    {},
    'test',
  );
  const rt = await createRuntime(config, options.store ? { store: options.store } : {});
  const trace: Trace = { prepared: [], executed: [], released: [] };
  const gates = new Map<string, ReturnType<typeof gate>>();
  rt.registry.add('fake', fakeProcess(trace, gates), { colour: 'blue' });
  try {
    await fn({ rt, trace, gates, dir });
  } finally {
    for (const g of gates.values()) g.open();
    await rt.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function submit(
  f: Fixture,
  key: string,
  extra: Record<string, unknown> = {},
  body: Record<string, unknown> = {},
): Promise<JobRecord> {
  f.gates.set(key, f.gates.get(key) ?? gate());
  const execution = await f.rt.manager.execute(
    f.rt.registry.get('fake')!,
    { inputs: { key, ...extra }, ...body },
    { prefer: 'respond-async' },
  );
  assert.equal(execution.mode, 'async');
  return (execution as { job: JobRecord }).job;
}

/** Waits until `check` holds (job states change asynchronously; no timing is asserted). */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const statusOf = async (f: Fixture, id: string) => (await f.rt.manager.get(id))?.status;
const releasesOf = (f: Fixture, id: string) => f.trace.released.filter((r) => r.jobId === id).map((r) => r.outcome);

test('queue bounded by max_running_jobs: two run, the others wait accepted, then run in order', () =>
  withManager({ maxRunning: 2 }, async (f) => {
    const jobs: JobRecord[] = [];
    for (const key of ['q1', 'q2', 'q3', 'q4']) jobs.push(await submit(f, key));
    await until(
      async () =>
        (await statusOf(f, jobs[0].jobID)) === 'running' &&
        (await statusOf(f, jobs[1].jobID)) === 'running' &&
        f.trace.executed.length === 2,
      'two running',
    );
    assert.deepEqual(f.rt.manager.stats(), { running: 2, queued: 2 });
    assert.equal(await statusOf(f, jobs[0].jobID), 'running');
    assert.equal(await statusOf(f, jobs[2].jobID), 'accepted');
    assert.equal(await statusOf(f, jobs[3].jobID), 'accepted');
    assert.equal(f.trace.executed.length, 2);
    f.gates.get('q1')!.open();
    await until(async () => (await statusOf(f, jobs[2].jobID)) === 'running', 'the third starts when the first ends');
    assert.equal(await statusOf(f, jobs[0].jobID), 'successful');
    assert.equal(await statusOf(f, jobs[3].jobID), 'accepted');
    for (const key of ['q2', 'q3', 'q4']) f.gates.get(key)!.open();
    for (const job of jobs) await until(async () => (await statusOf(f, job.jobID)) === 'successful', `${job.jobID} successful`);
    // A job's slot and its release come right after its final state is written.
    await until(() => f.rt.manager.stats().running === 0 && f.trace.released.length === 4, 'slots freed');
    assert.deepEqual(f.rt.manager.stats(), { running: 0, queued: 0 });
    for (const job of jobs) assert.deepEqual(releasesOf(f, job.jobID), ['successful']);
  }));

test('prepare once before the job exists; execute gets its plan, typed settings and the plugin options only', () =>
  withManager({}, async (f) => {
    const job = await submit(f, 'p1');
    assert.deepEqual(f.trace.prepared, [job.jobID], 'prepare ran once, with the job id');
    f.gates.get('p1')!.open();
    await until(async () => (await statusOf(f, job.jobID)) === 'successful', 'successful');
    assert.equal(f.trace.executed.length, 1);
    const seen = f.trace.executed[0];
    assert.deepEqual(seen.plan, { token: 'plan of p1', jobId: job.jobID });
    const settings = seen.settings as { maxPixels: number; tmsFolders: string[] };
    assert.equal(settings.maxPixels, 1234);
    assert.deepEqual(settings.tmsFolders, [path.join(f.dir, 'tms')]);
    assert.deepEqual(seen.options, { colour: 'blue' }, 'server settings are not slipped into options');
    assert.deepEqual(seen.defaulted, ['level']);
    const results = await f.rt.manager.results(job.jobID);
    assert.equal(results.status, 'successful');
    if (results.status === 'successful')
      assert.equal(results.outputs.a.bytes.toString(), 'a of p1 at level 7', 'the schema default reached execute');
  }));

test('progress: the live value is readable while the job runs', () =>
  withManager({}, async (f) => {
    const job = await submit(f, 'pr');
    await until(async () => (await f.rt.manager.get(job.jobID))?.progress === 40, 'progress 40');
    const live = await f.rt.manager.get(job.jobID);
    assert.equal(live?.status, 'running');
    assert.equal(live?.message, 'gate reached');
    f.gates.get('pr')!.open();
    await until(async () => (await statusOf(f, job.jobID)) === 'successful', 'successful');
    assert.equal((await f.rt.manager.get(job.jobID))?.progress, 100);
  }));

test('dismiss a queued job: it never runs, release(dismissed) once, status dismissed', () =>
  withManager({ maxRunning: 1 }, async (f) => {
    const first = await submit(f, 'd1');
    const queued = await submit(f, 'd2');
    await until(async () => (await statusOf(f, first.jobID)) === 'running', 'first running');
    const dismissed = await f.rt.manager.dismiss(queued.jobID);
    assert.equal(dismissed.status, 'dismissed');
    assert.deepEqual(releasesOf(f, queued.jobID), ['dismissed']);
    f.gates.get('d1')!.open();
    await until(async () => (await statusOf(f, first.jobID)) === 'successful', 'first successful');
    assert.equal(f.trace.executed.filter((e) => e.jobId === queued.jobID).length, 0, 'a dismissed queued job never runs');
    assert.deepEqual(releasesOf(f, queued.jobID), ['dismissed']);
    await assert.rejects(f.rt.manager.results(queued.jobID), (e: ApiError) => e.kind === 'job-dismissed');
    await assert.rejects(f.rt.manager.result(queued.jobID, 'a'), (e: ApiError) => e.kind === 'job-dismissed');
  }));

test('dismiss a running job: its signal aborts it, release(dismissed) once, no results, the next job starts', () =>
  withManager({ maxRunning: 1 }, async (f) => {
    const running = await submit(f, 'r1');
    const next = await submit(f, 'r2');
    await until(async () => (await statusOf(f, running.jobID)) === 'running', 'running');
    assert.equal((await f.rt.manager.dismiss(running.jobID)).status, 'dismissed');
    await until(() => releasesOf(f, running.jobID).length > 0, 'released');
    await until(async () => (await statusOf(f, next.jobID)) === 'running', 'the next job runs');
    assert.deepEqual(releasesOf(f, running.jobID), ['dismissed']);
    assert.equal(await statusOf(f, running.jobID), 'dismissed');
    assert.ok(!existsSync(path.join(f.dir, 'store', 'jobs', running.jobID)), 'no results kept');
  }));

test('release exactly once: failed execute, refused prepare (never), sync success and failure', () =>
  withManager({}, async (f) => {
    const failing = await submit(f, 'f1', { fail: 'broken on purpose' });
    f.gates.get('f1')!.open();
    await until(async () => (await statusOf(f, failing.jobID)) === 'failed', 'failed');
    await until(() => releasesOf(f, failing.jobID).length > 0, 'released');
    assert.deepEqual(releasesOf(f, failing.jobID), ['failed']);
    const failed = await f.rt.manager.results(failing.jobID);
    assert.equal(failed.status, 'failed');
    if (failed.status === 'failed') {
      assert.equal(failed.problem.status, 500);
      assert.doesNotMatch(failed.problem.detail, /broken on purpose/, 'no internal text in the problem');
    }

    const before = f.trace.released.length;
    const fake = f.rt.registry.get('fake')!;
    await assert.rejects(
      f.rt.manager.execute(fake, { inputs: { key: 'x', refuse: true } }, { prefer: 'respond-async' }),
      (e: ApiError) => e.status === 400,
    );
    assert.equal(f.trace.released.length, before, 'no release without a successful prepare');
    assert.equal((await f.rt.manager.list({}, 0, 100)).jobs.length, 1, 'no job for a refused request');

    const sync = await f.rt.manager.execute(fake, { inputs: { key: 'sync-ok' } });
    assert.equal(sync.mode, 'sync');
    if (sync.mode === 'sync') {
      assert.deepEqual(releasesOf(f, sync.executionId), ['successful']);
      assert.equal(sync.outputs.a.bytes.toString(), 'a of sync-ok at level 7');
    }
    await assert.rejects(f.rt.manager.execute(fake, { inputs: { key: 'sync-bad', fail: 'no' } }), /no/);
    const syncFailed = f.trace.prepared.at(-1)!;
    assert.deepEqual(releasesOf(f, syncFailed), ['failed']);

    const controller = new AbortController();
    f.gates.set('sync-gone', gate());
    const gone = f.rt.manager.execute(fake, { inputs: { key: 'sync-gone' } }, { signal: controller.signal });
    await until(() => f.trace.executed.some((e) => (e.plan as Plan).token === 'plan of sync-gone'), 'sync run started');
    controller.abort(new Error('client closed the connection'));
    await assert.rejects(gone);
    assert.deepEqual(releasesOf(f, f.trace.prepared.at(-1)!), ['dismissed'], 'a sync run whose client left is released as dismissed');
  }));

test('an output the request named and the process did not produce: an error naming it (sync and async)', () =>
  withManager({}, async (f) => {
    const fake = f.rt.registry.get('fake')!;
    await assert.rejects(
      f.rt.manager.execute(fake, { inputs: { key: 'o1' }, outputs: { b: {} } }),
      (e: ApiError) => e.status === 400 && e.extra.output === 'b' && /output 'b'/.test(e.detail),
    );
    const job = await submit(f, 'o2', {}, { outputs: { a: {}, b: { transmissionMode: 'reference' } } });
    f.gates.get('o2')!.open();
    await until(async () => (await statusOf(f, job.jobID)) === 'failed', 'failed');
    const r = await f.rt.manager.results(job.jobID);
    assert.equal(r.status, 'failed');
    if (r.status === 'failed') assert.match(r.problem.detail, /output 'b' was requested/);
    // Outputs not named: whatever was produced, no error.
    const all = await f.rt.manager.execute(fake, { inputs: { key: 'o3' } });
    if (all.mode === 'sync') assert.deepEqual(Object.keys(all.outputs), ['a']);
  }));

test('shutdown: running and queued jobs are released once (failed), and the store keeps them for recovery', () =>
  withManager({ maxRunning: 1 }, async (f) => {
    const running = await submit(f, 's1');
    const queued = await submit(f, 's2');
    await until(async () => (await statusOf(f, running.jobID)) === 'running', 'running');
    await f.rt.manager.close();
    assert.deepEqual(releasesOf(f, running.jobID), ['failed']);
    assert.deepEqual(releasesOf(f, queued.jobID), ['failed']);
    await assert.rejects(f.rt.manager.execute(f.rt.registry.get('fake')!, { inputs: { key: 'late' } }), (e: ApiError) => e.status === 503);
  }));

/** The memory store refusing writes as a full disk does (the file system's ENOSPC). */
class FullDiskStore extends MemoryJobStore {
  full = false;
  private refuse(): void {
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }
  override async create(job: JobRecord): Promise<void> {
    this.refuse();
    return super.create(job);
  }
  override async update(id: string, patch: Partial<JobRecord>): Promise<JobRecord | undefined> {
    this.refuse();
    return super.update(id, patch);
  }
  override async updateIf(
    id: string,
    statuses: readonly JobStatus[],
    patch: Partial<JobRecord>,
    expect?: Partial<JobRecord>,
  ): Promise<JobRecord | undefined> {
    this.refuse();
    return super.updateIf(id, statuses, patch, expect);
  }
}

test('full disk at submission: the error reaches the caller, release(failed) once, no job anywhere, no temp folder', () => {
  const store = new FullDiskStore();
  return withManager({ store }, async (f) => {
    store.full = true;
    const tmpBefore = (await readdir(os.tmpdir())).filter((n) => n.startsWith('dallage-exec-')).length;
    await assert.rejects(
      f.rt.manager.execute(f.rt.registry.get('fake')!, { inputs: { key: 'full' } }, { prefer: 'respond-async' }),
      (e: NodeJS.ErrnoException) => e.code === 'ENOSPC',
    );
    assert.equal(f.trace.prepared.length, 1);
    assert.deepEqual(releasesOf(f, f.trace.prepared[0]), ['failed']);
    store.full = false;
    assert.equal((await f.rt.manager.list({}, 0, 10)).jobs.length, 0);
    assert.deepEqual(f.rt.manager.stats(), { running: 0, queued: 0 });
    assert.ok((await readdir(os.tmpdir())).filter((n) => n.startsWith('dallage-exec-')).length <= tmpBefore);
  });
});

test('full disk when a job ends: it shows running (as on disk) until its final state is written, then successful', () => {
  const store = new FullDiskStore();
  return withManager({ store }, async (f) => {
    const job = await submit(f, 'end-full');
    await until(async () => (await statusOf(f, job.jobID)) === 'running', 'running');
    store.full = true;
    f.gates.get('end-full')!.open();
    await until(async () => /saving its state failed/.test((await f.rt.manager.get(job.jobID))?.message ?? ''), 'the retry is visible');
    assert.equal(await statusOf(f, job.jobID), 'running', 'memory says what the disk says');
    assert.equal(releasesOf(f, job.jobID).length, 0, 'not released before its end is recorded');
    store.full = false;
    await until(async () => (await statusOf(f, job.jobID)) === 'successful', 'successful once written');
    await until(() => releasesOf(f, job.jobID).length > 0, 'released');
    assert.deepEqual(releasesOf(f, job.jobID), ['successful']);
  });
});

/** A store on which a dismiss lands between the manager's read of a job and its write of `running` (another server's). */
class DismissRaceStore extends MemoryJobStore {
  armed?: string;
  override async get(id: string): Promise<JobRecord | undefined> {
    const job = await super.get(id);
    if (id === this.armed && job?.status === 'accepted') {
      this.armed = undefined;
      await super.update(id, { status: 'dismissed', message: 'dismissed by the client' });
    }
    return job;
  }
}

test('a dismiss written between the read of a queued job and its start wins: the job never runs, it stays dismissed', () => {
  const store = new DismissRaceStore();
  return withManager({ maxRunning: 1, store }, async (f) => {
    const blocker = await submit(f, 'b1');
    const raced = await submit(f, 'race');
    await until(async () => (await statusOf(f, blocker.jobID)) === 'running', 'blocker running');
    store.armed = raced.jobID;
    f.gates.get('b1')!.open();
    await until(() => releasesOf(f, raced.jobID).length > 0, 'the raced job released');
    assert.deepEqual(releasesOf(f, raced.jobID), ['dismissed']);
    assert.equal(await statusOf(f, raced.jobID), 'dismissed', 'not overwritten by running');
    assert.equal(f.trace.executed.filter((e) => e.jobId === raced.jobID).length, 0, 'never executed');
  });
});
