/**
 * The C allocator setting the server and the command line run under (DESIGN §6, memory).
 *
 * glibc's malloc gives each thread that allocates its own arena (up to 8 per core) and returns little
 * of them to the system: libvips' decode and encode threads allocate and free megabytes per band and
 * per tile, so the resident size of a long pyramid grows with the input (measured on the L raster:
 * peak RSS 705 MB with glibc's default, 579 MB with two arenas — and 10–15 % faster; on M 557 → 451 MB).
 * sharp's documentation names the same cause. The setting is read by glibc once, at process start, so
 * the entry points start a child process with it when it is not set yet (an explicit value is kept).
 */
import { spawn } from 'node:child_process';

/** Environment the process should run with. */
export const ALLOCATOR_ENV = { MALLOC_ARENA_MAX: '2' } as const;

/** True on glibc Linux when the setting is missing (musl, macOS and Windows allocators differ). */
export function allocatorNeedsRelaunch(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux' || env.MALLOC_ARENA_MAX !== undefined || env.DALLAGE_NO_RELAUNCH) return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * Runs this same command again with {@link ALLOCATOR_ENV} set, forwarding signals, and exits with
 * its status. Returns false (and does nothing) when no relaunch is needed.
 */
export function relaunchWithAllocatorSettings(): boolean {
  if (!allocatorNeedsRelaunch()) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...ALLOCATOR_ENV },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, as a shell expects (our forwarding handlers removed first).
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    else process.exit(code ?? 1);
  });
  return true;
}
