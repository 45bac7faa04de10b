import type { RecordLocks, Release } from './record-store.js';

/** A release that acts once, however often it is called (shared by the lock implementations). */
export function once(fn: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** Locks held in this process: what the memory and lowdb stores use (one server per data folder). */
export class ProcessLocks implements RecordLocks {
  private readonly held = new Map<string, { readers: number; writer: boolean }>();
  private readonly reserved = new Set<string>();

  private entry(id: string): { readers: number; writer: boolean } {
    let l = this.held.get(id);
    if (!l) this.held.set(id, (l = { readers: 0, writer: false }));
    return l;
  }

  private forget(id: string): void {
    const l = this.held.get(id);
    if (l && l.readers <= 0 && !l.writer) this.held.delete(id);
  }

  async read(ids: string[]): Promise<Release> {
    for (const id of ids) this.entry(id).readers++;
    return once(() => {
      for (const id of ids) {
        const l = this.held.get(id);
        if (l) l.readers--;
        this.forget(id);
      }
    });
  }

  async write(id: string): Promise<Release | undefined> {
    const l = this.entry(id);
    if (l.writer || l.readers > 0) return undefined;
    l.writer = true;
    return once(() => {
      l.writer = false;
      this.forget(id);
    });
  }

  async holders(id: string): Promise<{ readers: number; writer: boolean }> {
    const l = this.held.get(id);
    return { readers: l?.readers ?? 0, writer: l?.writer ?? false };
  }

  async reserve(scope: string, name: string): Promise<Release | undefined> {
    const key = `${scope}\u0000${name}`;
    if (this.reserved.has(key)) return undefined;
    this.reserved.add(key);
    return once(() => this.reserved.delete(key));
  }

  /** One process prepares each execution once: nothing to take over. */
  forRun(): RecordLocks {
    return this;
  }
}
