// Explicit liveness for the recorder: it heartbeats in Redis (short TTL), hands on the runs of
// recorders whose heartbeat lapsed (takeover = an ordinary new run), and sweeps recordings
// that no process works on, so none stays in a non-final state:
//   - starting/active with no claim → a new run continues it;
//   - stopping with no claim → finalized from what storage holds, or failed `abandoned`;
//   - processing with no finalize job pending → finalize queued again;
//   - a queued run whose job vanished (Redis lost it) → queued again.
// A killed recorder is noticed by its presence connection closing (presence.ts, ~0.2 s) or, when
// that cannot tell, by its heartbeat lapsing (the TTL).
import { jobIds, QUEUES, type CaptureClaim, type JobQueues, type Logger, type Recording, type RecorderPresence } from '@live-webrtc/shared';
import { continueAsNewRun, finalizeOrFail } from './jobs/capture.js';
import type { RecorderDeps } from './jobs/deps.js';

export interface LivenessOptions {
  deps: RecorderDeps;
  queues: JobQueues;
  logger: Logger;
  /** Tells a dead recorder by its closed Redis connection, before its heartbeat lapses. */
  presence?: RecorderPresence;
  /** How often to heartbeat and look for lapsed recorders, ms. Default TTL / 4. */
  beatMs?: number;
  /** How often to sweep, ms. Default 3000. */
  sweepMs?: number;
  /** A recording this long in a state with nothing working on it is acted on, ms. Default 5000. */
  abandonedAfterMs?: number;
}

export class RecorderLiveness {
  readonly #o: LivenessOptions;
  #beat: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #busy = false;
  #sweeping = false;
  #stopped = false;
  /** Recordings this process saw without a claim, and since when. */
  readonly #unclaimedSince = new Map<string, number>();

  constructor(o: LivenessOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    const { deps } = this.#o;
    await deps.runs.heartbeat(deps.recorderId);
    // Look for lapsed recorders often (a lapse is acted on within ~100 ms); heartbeat at a
    // quarter of the TTL, so two missed beats in a row still do not look like a death.
    const beatMs = this.#o.beatMs ?? Math.max(50, Math.floor(deps.runs.heartbeatTtlMs / 4));
    let lastBeat = 0;
    this.#beat = setInterval(
      () => {
        const beat = Date.now() - lastBeat >= beatMs;
        if (beat) lastBeat = Date.now();
        void this.#tick(beat);
      },
      Math.min(100, beatMs),
    );
    this.#sweep = setInterval(() => void this.sweep(), this.#o.sweepMs ?? 3000);
  }

  async #tick(beat: boolean): Promise<void> {
    const { deps, logger } = this.#o;
    // The heartbeat never waits behind a slow takeover scan.
    if (beat && !this.#stopped) void deps.runs.heartbeat(deps.recorderId).catch(() => {});
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    try {
      const others = (await deps.runs.all()).filter((c) => c.recorderId !== '' && c.recorderId !== deps.recorderId);
      const { presence } = this.#o;
      if (others.length > 0) await presence?.scan();
      for (const claim of others) {
        const closed = presence?.gone(claim.recorderId) ?? false;
        if (!closed && (await deps.runs.isAlive(claim.recorderId))) continue;
        if (closed) {
          // Its process is gone: its heartbeat goes too, so the SFU closes its taps now.
          await deps.runs.unregister(claim.recorderId);
          presence?.forget(claim.recorderId);
        }
        await this.#takeOver(claim, closed ? 'connection closed' : 'heartbeat lapsed');
      }
    } catch (err) {
      logger.debug({ err }, 'heartbeat/takeover tick failed');
    } finally {
      this.#busy = false;
    }
  }

  async #takeOver(claim: CaptureClaim, why: string): Promise<void> {
    const { deps, logger } = this.#o;
    const ok = await continueAsNewRun(
      deps,
      { recordingId: claim.recordingId, room: claim.room, sfuInstance: 'unknown' },
      claim.attempt,
      'takeover',
    );
    if (ok) {
      deps.metrics.takeovers.inc();
      logger.warn(
        { recordingId: claim.recordingId, deadRecorder: claim.recorderId, attempt: claim.attempt + 1, why },
        'recorder died; its capture continues as a new run',
      );
    }
  }

  /** One sweep for recordings nothing works on (one recorder at a time, by a short lock). */
  async sweep(): Promise<void> {
    if (this.#sweeping || this.#stopped) return;
    this.#sweeping = true;
    const { deps, logger } = this.#o;
    try {
      const locked = await deps.redis.set(deps.keys.sweepLock, deps.recorderId, 'PX', 2500, 'NX');
      if (locked !== 'OK') return;
      const claims = new Map((await deps.runs.all()).map((c) => [c.recordingId, c]));
      const seen = new Set<string>();
      for (const status of ['starting', 'active', 'stopping', 'processing'] as const) {
        const { items } = await deps.store.list({ status, limit: 100 });
        for (const rec of items) {
          seen.add(rec.id);
          await this.#sweepOne(rec, claims.get(rec.id)).catch((err: unknown) => logger.warn({ err, recordingId: rec.id }, 'sweep failed'));
        }
      }
      for (const id of this.#unclaimedSince.keys()) if (!seen.has(id)) this.#unclaimedSince.delete(id);
      // Claims of recordings that are final (or gone) are dropped.
      for (const [id] of claims) {
        if (seen.has(id)) continue;
        const rec = await deps.store.get(id);
        if (!rec || rec.status === 'ready' || rec.status === 'failed') await deps.runs.forget(id);
      }
    } catch (err) {
      logger.debug({ err }, 'sweep failed');
    } finally {
      this.#sweeping = false;
    }
  }

  async #sweepOne(rec: Recording, claim: CaptureClaim | undefined): Promise<void> {
    const { deps, logger } = this.#o;
    const after = this.#o.abandonedAfterMs ?? 5000;
    const log = logger.child({ recordingId: rec.id, status: rec.status });
    if (rec.status === 'processing') {
      await this.#ensureFinalize(rec.id, log);
      return;
    }
    if (claim) {
      this.#unclaimedSince.delete(rec.id);
      if (claim.recorderId === '' && Date.now() - claim.since > after) await this.#ensureRunQueued(claim, log);
      return;
    }
    const first = this.#unclaimedSince.get(rec.id) ?? Date.now();
    this.#unclaimedSince.set(rec.id, first);
    if (Date.now() - first < after) return;
    this.#unclaimedSince.delete(rec.id);
    if (rec.status === 'stopping') {
      log.warn('recording stopping with no capture on it; finalizing what storage holds');
      await finalizeOrFail(deps, rec.id, 'abandoned', 'the recording was stopping with no capture on it and nothing stored', log);
      return;
    }
    // starting/active with no run: continue it (the run waits for the publisher, within the grace).
    log.warn('live recording with no capture run; continuing it as a new run');
    const attempt = 1000 + rec.transitions.length + rec.segments.length;
    await deps.runs.queued(rec.id, rec.room, attempt, 'abandoned');
    await deps.queues.enqueue(
      'CaptureRecording',
      { v: 1, recordingId: rec.id, room: rec.room, sfuInstance: 'unknown', firstSegment: 0, tracks: [], attempt },
      { jobId: jobIds.captureRun(rec.id, attempt), attempts: 1 },
    );
  }

  /** A queued run whose job is gone (lost with Redis data) is queued again. */
  async #ensureRunQueued(claim: CaptureClaim, log: Logger): Promise<void> {
    const job = await this.#o.queues.queue(QUEUES.capture).getJob(jobIds.captureRun(claim.recordingId, claim.attempt));
    const state = job ? await job.getState() : 'missing';
    if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return;
    log.warn({ attempt: claim.attempt, state }, 'queued run has no job; queueing it again');
    if (job) await job.remove().catch(() => {});
    await this.#o.queues.enqueue(
      'CaptureRecording',
      {
        v: 1,
        recordingId: claim.recordingId,
        room: claim.room,
        sfuInstance: 'unknown',
        firstSegment: 0,
        tracks: [],
        attempt: claim.attempt,
      },
      { jobId: jobIds.captureRun(claim.recordingId, claim.attempt), attempts: 1 },
    );
    await this.#o.deps.runs.queued(claim.recordingId, claim.room, claim.attempt, claim.cause, claim.retry);
  }

  /** A processing recording with no finalize job pending gets one. */
  async #ensureFinalize(id: string, log: Logger): Promise<void> {
    const job = await this.#o.queues.queue(QUEUES.finalize).getJob(jobIds.finalize(id));
    const state = job ? await job.getState() : 'missing';
    if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return;
    log.warn({ state }, 'processing recording with no finalize job; queueing one');
    if (job) await job.remove().catch(() => {});
    await this.#o.queues.enqueue('FinalizeRecording', { v: 1, recordingId: id }, { jobId: jobIds.finalize(id) });
  }

  /** Stops heartbeating and removes the heartbeat at once (others take over immediately). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#beat);
    clearInterval(this.#sweep);
    await this.#o.deps.runs.unregister(this.#o.deps.recorderId).catch(() => {});
  }
}
