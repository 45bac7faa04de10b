import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inCI } from './env.js';

/** A small real filesystem (tmpfs) mounted for a test, which can be filled to the last byte. */
export interface SmallDisk {
  dir: string;
  /** Fills the free space with a filler file: from then on a write fails with ENOSPC. */
  fill(): Promise<void>;
  /** Removes the filler. */
  free(): Promise<void>;
  unmount(): void;
}

let probed: string | false | undefined;

/** Skip reason when no filesystem can be mounted here (not root, no mount): throws under CI. */
export function skipUnlessMount(): string | false {
  if (probed === undefined) {
    try {
      const disk = mountSmallDisk(64);
      disk.unmount();
      probed = false;
    } catch (err) {
      probed = `cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (probed && inCI) throw new Error(`required by the tests under CI: ${probed}`);
  return probed;
}

export function mountSmallDisk(kib: number): SmallDisk {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dallage-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const filler = path.join(dir, 'filler');
  return {
    dir,
    async fill() {
      const handle = await open(filler, 'a');
      const page = Buffer.alloc(4096, 1);
      try {
        for (;;) await handle.write(page);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await handle.close();
      }
    },
    async free() {
      await rm(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
