// Admission of transcodes by CPU cost: a job waits until its estimated cores fit in the
// budget, so a few heavy transcodes (an HLS ladder, a composite) never crowd a recorder whose
// live captures need CPU too. A job costing more than the whole budget runs alone. Waiting jobs
// are admitted by priority (lower first: the mp4 and the poster), then in arrival order.
export class CostGate {
  #used = 0;
  #arrivals = 0;
  readonly #waiting: { cost: number; priority: number; seq: number; resolve: () => void }[] = [];

  constructor(readonly budget: number) {
    if (!(budget > 0)) throw new RangeError(`bad CPU budget ${budget}`);
  }

  /** Cores admitted right now. */
  get used(): number {
    return this.#used;
  }

  /** Jobs waiting for admission. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves with a release function once `cost` fits; release is idempotent. */
  async acquire(cost: number, priority = 0): Promise<() => void> {
    const now = this.tryAcquire(cost, priority);
    if (now) return now;
    await new Promise<void>((resolve) => {
      this.#waiting.push({ cost, priority, seq: ++this.#arrivals, resolve });
      this.#waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    });
    return this.#releaser(cost);
  }

  /**
   * Admits `cost` now if it fits and no job of the same or a higher priority is waiting;
   * otherwise null (nothing is queued).
   */
  tryAcquire(cost: number, priority = 0): (() => void) | null {
    if (!this.#fits(cost) || this.#waiting.some((w) => w.priority <= priority)) return null;
    this.#used += cost;
    return this.#releaser(cost);
  }

  #releaser(cost: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= cost;
      this.#drain();
    };
  }

  #fits(cost: number): boolean {
    return this.#used === 0 || this.#used + cost <= this.budget + 1e-9;
  }

  // In priority order; a cheap job does not overtake an expensive one of its own priority.
  #drain(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.cost)) {
      const next = this.#waiting.shift()!;
      this.#used += next.cost;
      next.resolve();
    }
  }
}
