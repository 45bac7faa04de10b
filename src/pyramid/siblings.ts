/**
 * Sibling tasks that stop together (slabs of one pyramid): the first failure aborts the others, and so
 * does the parent signal (a dismiss); `settle` waits for every task, failed or not, before rethrowing, so
 * that nothing is written after the caller removes the partial product (DESIGN §7).
 */
export class SiblingTasks {
  private readonly stop = new AbortController();
  private readonly onAbort = (): void => this.stop.abort(this.parent.reason);

  constructor(private readonly parent: AbortSignal) {
    parent.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Aborted by the first failure or by the parent: hand it to every sibling's pool task. */
  get signal(): AbortSignal {
    return this.stop.signal;
  }

  /** Stops the siblings because of `reason`. */
  fail(reason: unknown): void {
    this.stop.abort(reason);
  }

  /** `task`, whose rejection stops the siblings. */
  track<T>(task: Promise<T>): Promise<T> {
    return task.catch((err: unknown) => {
      this.stop.abort(err);
      throw err;
    });
  }

  /**
   * Waits for each group of tasks in turn (a group is read once the previous one settled, so tasks that
   * start others are waited for too), then throws the reason of the first failure: the parent's when it
   * was aborted, else the one that stopped the siblings.
   */
  async settle(...groups: Array<() => Array<Promise<unknown>>>): Promise<void> {
    try {
      let failed: PromiseRejectedResult | undefined;
      for (const group of groups) {
        const outcomes = await Promise.allSettled(group());
        failed ??= outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      }
      if (failed) throw this.parent.aborted ? this.parent.reason : (this.stop.signal.reason ?? failed.reason);
      this.parent.throwIfAborted();
    } finally {
      this.parent.removeEventListener('abort', this.onAbort);
    }
  }
}
