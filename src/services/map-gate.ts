/**
 * How many WMS maps are drawn or in line for a thread at once. A map holds its RGBA canvas (width × height × 4
 * bytes, up to 64 MB at 4096²) and the window of one strip while it is drawn; without a bound, a burst of large
 * GetMaps would allocate that many times over (in the pool, a map waiting for a thread holds nothing yet).
 * Requests beyond `concurrent` wait in order; beyond `queue` waiting ones, they are refused at once (the caller
 * answers 503) instead of piling up.
 */
export class MapGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrent: number,
    readonly queue = 64,
  ) {}

  /** Runs `draw` when a place is free; undefined (without running it) when the queue is full. */
  async run<T>(draw: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.running >= this.concurrent) {
      if (this.waiting.length >= this.queue) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return { value: await draw() };
    } finally {
      // The place passes to the next waiting request (running stays the same) or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
