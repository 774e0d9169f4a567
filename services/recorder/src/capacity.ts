// This recorder's side of admission by cost (shared/src/recordings/admission.ts): what its
// running captures cost, reported to Redis every second for the SFU's admission check and
// exported as metrics.
import { availableParallelism } from 'node:os';
import { recordingCostKbps, type Logger, type RecorderLoads, type TrackCosts } from '@live-webrtc/shared';
import type { RecorderMetrics } from './metrics.js';

/** Budget for RECORDER_COST_BUDGET_KBPS = 0: 150,000 kbit/s per core. */
export const defaultBudgetKbps = (): number => 150_000 * availableParallelism();

export interface CaptureCostsOptions {
  recorderId: string;
  budgetKbps: number;
  trackCosts: TrackCosts;
  loads: RecorderLoads;
  metrics: RecorderMetrics;
  logger: Logger;
}

export class CaptureCosts {
  readonly #costs = new Map<string, number>();
  readonly #o: CaptureCostsOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: CaptureCostsOptions) {
    this.#o = o;
    o.metrics.costBudgetKbps.set(o.budgetKbps);
  }

  /** What a capture of these tracks costs; unknown tracks (a first run) count as one video + one audio. */
  costOf(tracks: readonly { kind: 'audio' | 'video' }[]): number {
    return recordingCostKbps(tracks.length > 0 ? tracks : [{ kind: 'video' }, { kind: 'audio' }], this.#o.trackCosts);
  }

  /** A capture of `recordingId` runs here now, costing `kbps` (replaces an earlier figure). */
  add(recordingId: string, kbps: number): void {
    this.#costs.set(recordingId, kbps);
    this.#update();
    // Its reservation (made by the SFU at start) is now part of our report.
    void this.#o.loads.release(recordingId).catch(() => {});
  }

  remove(recordingId: string): void {
    if (this.#costs.delete(recordingId)) this.#update();
  }

  get usedKbps(): number {
    let n = 0;
    for (const c of this.#costs.values()) n += c;
    return n;
  }

  /** Reports now and every `everyMs`. */
  async start(everyMs = 1000): Promise<void> {
    await this.#report();
    this.#timer = setInterval(() => void this.#report(), everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#o.loads.forget(this.#o.recorderId).catch(() => {});
  }

  #update(): void {
    this.#o.metrics.costUsedKbps.set(this.usedKbps);
    void this.#report();
  }

  async #report(): Promise<void> {
    try {
      await this.#o.loads.report(this.#o.recorderId, {
        budgetKbps: this.#o.budgetKbps,
        usedKbps: this.usedKbps,
        captures: this.#costs.size,
      });
    } catch (err) {
      this.#o.logger.debug({ err }, 'could not report the capture load');
    }
  }
}
