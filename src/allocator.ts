/**
 * The C allocator setting the server and the command line run under (DESIGN §6, memory).
 *
 * glibc's malloc gives each thread that allocates its own arena (up to 8 per core) and returns little
 * of them to the system; and after a large block is freed it raises its mmap threshold (up to 32 MB),
 * so later slab halves, windows and bands come from those arenas and fragment them. libvips' threads
 * and our workers allocate and free megabytes per band and per tile, so the resident size of a long
 * pyramid grew with the input. Measured (peak RSS of the process tree, bench:pyramid): glibc defaults
 * M 557 MB / L 705 MB; two arenas M 451 / L 579 (and 10–15 % faster on L); two arenas and a fixed 4 MB
 * mmap threshold M 405–433 / L 511, same speed within the noise. sharp's documentation names the same
 * cause. glibc reads these once, at process start, so the entry points start a child process with
 * them when they are not all set (values set explicitly are kept).
 */
import { spawn } from 'node:child_process';

/** Environment the process should run with. */
export const ALLOCATOR_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '4194304' } as const;

/** Set for a relaunched child: its IPC channel is the parent's life line (see {@link watchParent}). */
const WATCH_ENV = 'DALLAGE_WATCH_PARENT';

/** True on glibc Linux when a setting is missing (musl, macOS and Windows allocators differ). */
export function allocatorNeedsRelaunch(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux' || env.DALLAGE_NO_RELAUNCH) return false;
  if (Object.keys(ALLOCATOR_ENV).every((k) => env[k] !== undefined)) return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * Runs this same command again with {@link ALLOCATOR_ENV} set, forwarding signals, and exits with
 * its status. Returns false (and does nothing) when no relaunch is needed.
 */
export function relaunchWithAllocatorSettings(): boolean {
  if (!allocatorNeedsRelaunch()) {
    watchParent();
    return false;
  }
  // Its own process group: a Ctrl-C on the terminal reaches this process only, which passes it on
  // once (in the same group the child would get it twice, and a second SIGINT ends `dallage execute`
  // before it has removed a dismissed job's partial output).
  // An IPC channel the child watches: its end closes when this process dies, however (kill -9 included),
  // so a server never outlives the process its supervisor (systemd, a shell, a test) knows and kills.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...ALLOCATOR_ENV, ...process.env, [WATCH_ENV]: '1' },
    detached: true,
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    // Die of the same signal, as a shell expects (our forwarding handlers removed first).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
  return true;
}

/**
 * In a relaunched child: when the parent's end of the IPC channel closes (the parent died, even of
 * SIGKILL, which it cannot forward), stop as if the parent had passed on a SIGTERM: the server's
 * graceful shutdown (bounded by `server.shutdown_timeout`), or `dallage execute`'s dismiss. The
 * channel is unref'ed: it keeps no process alive by itself.
 */
function watchParent(): void {
  if (!process.env[WATCH_ENV]) return;
  delete process.env[WATCH_ENV]; // not inherited by what this process starts
  if (!process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
