/**
 * A priority scheduler in front of the worker pool: at most `concurrency` tasks started at once,
 * the highest priority first. The pyramid walk uses it so that a parent slab runs as soon as its
 * children are done, before more bottom slabs start: memory then holds a few pending quadrants per
 * level, whatever the input size (DESIGN §6).
 */
export class PriorityScheduler {
  private running = 0;
  private readonly waiting: Array<{ priority: number[]; start: () => void }> = [];

  constructor(
    private readonly concurrency: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** Runs `task` when a slot is free; lower `priority` tuples (compared element by element) go first. */
  run<T>(priority: number[], task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        if (this.signal?.aborted) {
          reject(this.signal.reason ?? new Error('aborted'));
          this.release();
          return;
        }
        task()
          .then(resolve, reject)
          .finally(() => this.release());
      };
      if (this.running < this.concurrency) {
        this.running++;
        start();
      } else {
        let i = this.waiting.length;
        while (i > 0 && compare(priority, this.waiting[i - 1].priority) < 0) i--;
        this.waiting.splice(i, 0, { priority, start });
      }
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.start();
    else this.running--;
  }
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
