/**
 * `npm run bench:scale` (issue 14, first part): what the queue costs per task. A real server with the
 * bullmq manager, 2 real `dallage worker` processes and a real redis-server (as the tests start them),
 * against the embedded lowdb manager: BENCH_TASKS (default 100) echo jobs submitted one after the other,
 * each waited for, and the time from the job's creation (stored, then queued, by the server) to its start
 * (written by the worker once it took and prepared it), p50 and p90; then the same jobs submitted all at
 * once (throughput). The goal of the issue is ≤ 5 ms p50 of overhead per task.
 * Not measured yet: the L pyramid on 1 worker × 2 threads vs 2 workers × 1 thread vs the embedded pool.
 */
import { startTestServer, submitJob, waitForJob, type TestServer } from '../test/helpers/server.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(s: TestServer, label: string): Promise<void> {
  // Warm-up: the first jobs load the plugins and open connections.
  for (let i = 0; i < 5; i++) await waitForJob(s.url, await submitJob(s.url, 'echo', { stringInput: 'warm' }));
  const overhead: number[] = [];
  for (let i = 0; i < TASKS; i++) {
    const final = await waitForJob(s.url, await submitJob(s.url, 'echo', { stringInput: `t${i}` }));
    if (final.status !== 'successful') throw new Error(`job ${final.jobID} ${final.status}`);
    overhead.push(Date.parse(final.started as string) - Date.parse(final.created as string));
  }
  overhead.sort((a, b) => a - b);
  const t0 = Date.now();
  const ids = await Promise.all(Array.from({ length: TASKS }, (_, i) => submitJob(s.url, 'echo', { stringInput: `b${i}` })));
  await Promise.all(ids.map((id) => waitForJob(s.url, id)));
  const seconds = (Date.now() - t0) / 1000;
  const p50 = quantile(overhead, 0.5);
  console.log(
    `${label.padEnd(34)} created→started p50 ${String(p50).padStart(4)} ms  p90 ${String(quantile(overhead, 0.9)).padStart(4)} ms  ` +
      `burst of ${TASKS}: ${(TASKS / seconds).toFixed(0)} jobs/s`,
  );
  if (label.startsWith('bullmq')) console.log(`goal ≤ 5 ms p50 per task: ${p50 <= 5 ? 'PASS' : 'MISS'} (${p50} ms)`);
}

async function main(): Promise<void> {
  console.log(`bench:scale — ${TASKS} echo jobs one by one (overhead), then ${TASKS} at once (throughput)`);
  for (const manager of ['lowdb', 'bullmq'] as const) {
    const s = await startTestServer({ manager, limits: { max_running_jobs: 4 }, workerConcurrency: 2 });
    try {
      await measure(s, manager === 'lowdb' ? 'lowdb (embedded)' : 'bullmq (2 worker processes × 2)');
    } finally {
      await s.stop();
    }
  }
}

await main();
