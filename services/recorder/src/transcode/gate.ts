// Admission of transcodes by CPU cost: a job waits until its estimated cores fit in the
// budget, so a few heavy transcodes (an HLS ladder, a composite) never crowd a recorder whose
// live captures need CPU too. A job costing more than the whole budget runs alone.
export class CostGate {
  #used = 0;
  readonly #waiting: { cost: number; resolve: () => void }[] = [];

  constructor(readonly budget: number) {
    if (!(budget > 0)) throw new RangeError(`bad CPU budget ${budget}`);
  }

  /** Cores admitted right now. */
  get used(): number {
    return this.#used;
  }

  /** Resolves with a release function once `cost` fits; release is idempotent. */
  async acquire(cost: number): Promise<() => void> {
    if (!this.#fits(cost) || this.#waiting.length > 0) {
      await new Promise<void>((resolve) => this.#waiting.push({ cost, resolve }));
    } else {
      this.#used += cost;
    }
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

  // First come, first served: a cheap job does not overtake an expensive one forever.
  #drain(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.cost)) {
      const next = this.#waiting.shift()!;
      this.#used += next.cost;
      next.resolve();
    }
  }
}
