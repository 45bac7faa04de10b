/**
 * Times a command and samples the resident memory of its whole process tree (all descendants,
 * every 100 ms from /proc), the way the peers are measured in ../shared/bench (measure.py): wall
 * seconds, CPU seconds of the tree, peak summed RSS.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measured {
  label: string;
  code: number;
  wallS: number;
  cpuS: number;
  /** Peak of the summed RSS of the process and its descendants, MB. */
  peakTreeRssMb: number;
  stdout: string;
  stderr: string;
}

const PAGE_KB = 4;

/** Summed VmRSS (kB) and CPU ticks of `root` and its descendants. */
function treeUsage(root: number): { rssKb: number; ticks: number } {
  const children = new Map<number, number[]>();
  const stats = new Map<number, { rssKb: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      // utime, stime, cutime, cstime are fields 14–17 of stat (index 11–14 after the name)
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      const pages = Number(readFileSync(`/proc/${name}/statm`, 'utf8').split(' ')[1]);
      const pid = Number(name);
      stats.set(pid, { rssKb: pages * PAGE_KB, ticks });
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended while we looked
    }
  }
  let rssKb = 0;
  let ticks = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    const s = stats.get(p);
    if (s) {
      rssKb += s.rssKb;
      ticks += s.ticks;
    }
    stack.push(...(children.get(p) ?? []));
  }
  return { rssKb, ticks };
}

/** Runs `cmd args` (no shell), samples its tree, resolves when it exits. */
export function measure(
  label: string,
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: boolean } = {},
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.echo) process.stderr.write(d);
    });
    let peakKb = 0;
    let lastTicks = 0;
    const sample = () => {
      if (child.pid === undefined) return;
      const u = treeUsage(child.pid);
      peakKb = Math.max(peakKb, u.rssKb);
      // children reaped by the root are counted in its cutime/cstime; keep the largest total seen
      lastTicks = Math.max(lastTicks, u.ticks);
    };
    const timer = setInterval(sample, 100);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({
        label,
        code: code ?? -1,
        wallS: (performance.now() - t0) / 1000,
        cpuS: lastTicks / 100,
        peakTreeRssMb: peakKb / 1024,
        stdout,
        stderr,
      });
    });
  });
}
