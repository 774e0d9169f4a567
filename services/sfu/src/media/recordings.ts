// Recordings of this instance's rooms. Starting one creates the recording (lifecycle `start`) and
// enqueues its first capture run; each run then asks this instance for its own tap (see
// recordingTap.ts and the /internal/v1/recordings routes). When the recorded publisher leaves,
// the recording waits RECORD_REJOIN_GRACE_SECONDS: a publisher back in time continues it as a
// new run (compared by room and kind, never by producer id: a returning publisher has new
// producers), otherwise it is stopped. Taps whose recorder stopped heartbeating are closed.
// With RECORD_ENABLED a room is recorded from its first publisher.
import {
  AppError,
  CaptureRuns,
  conflict,
  encodeMessage,
  jobIds,
  newId,
  notFound,
  RecordingLifecycle,
  type ChannelHub,
  type ConnectTapRequest,
  type JobQueues,
  type Logger,
  type OpenTapRequest,
  type Recording,
  type Redis,
  type RedisKeys,
  type TapStatus,
  recordingCostKbps,
  type Counter,
  type RecorderLoads,
  type TrackCosts,
} from '@live-webrtc/shared';
import { RecordingTap } from './recordingTap.js';
import type { Room } from './room.js';
import type { RoomManager } from './rooms.js';

export interface RecordingControllerOptions {
  lifecycle: RecordingLifecycle;
  runs: CaptureRuns;
  queues: JobQueues;
  hub: ChannelHub;
  redis: Redis;
  keys: RedisKeys;
  rooms: RoomManager;
  instanceId: string;
  /** IP the recording PlainTransports bind. */
  tapListenIp: string;
  recordEnabled: boolean;
  /** Seconds a recording waits for its publisher to come back before it is stopped. */
  graceSeconds: number;
  /** Seconds a new recording waits for a recorder to take it before failing `no_recorder`. */
  recorderWaitSeconds: number;
  logger: Logger;
  /** Admission by cost (shared/src/recordings/admission.ts); none = every start admitted. */
  admission?: {
    loads: RecorderLoads;
    trackCosts: TrackCosts;
    /** Retry-After of a refused start, seconds. */
    retryAfterSeconds: number;
    admissions: Counter<'result'>;
  };
  /** How often taps check their recorder's heartbeat, ms. Default 250. */
  watchdogMs?: number;
}

/** What this instance knows about a room's live recording. */
interface RoomRecording {
  recordingId: string;
  room: string;
  /**
   * Open taps of the recording's runs here, oldest first: usually one; two while a new run
   * connects (the old run keeps recording until the new one is fed: a handover loses nothing).
   */
  taps: RecordingTap[];
  /** Pending stop after the publisher left. */
  graceTimer: NodeJS.Timeout | undefined;
}

export class RecordingController {
  /** By room name. */
  readonly #recs = new Map<string, RoomRecording>();
  readonly #wired = new WeakSet<Room>();
  readonly #watchdog: NodeJS.Timeout;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Rooms whose start() is in flight (a publisher's audio and video producers both trigger one). */
  readonly #starting = new Set<string>();
  #closed = false;

  constructor(private readonly o: RecordingControllerOptions) {
    this.#watchdog = setInterval(() => void this.#checkRecorders(), o.watchdogMs ?? 250);
    this.#watchdog.unref();
  }

  /** Hooks a room's events (call once per room when it is created or first used). */
  wire(room: Room): void {
    if (this.#wired.has(room)) return;
    this.#wired.add(room);
    room.on('producer', () => {
      // Wait a tick so a publisher's audio and video producers are both in the room.
      this.#later(50, () => {
        if (room.closed || room.producers.length === 0) return;
        const rec = this.#recs.get(room.name);
        if (rec) this.#publisherBack(room, rec);
        else if (this.o.recordEnabled && !this.#starting.has(room.name))
          this.start(room, 'auto').catch((err: unknown) =>
            this.o.logger.warn({ err, room: room.name }, 'automatic recording did not start'),
          );
      });
    });
    room.on('producerclose', () => {
      this.#checkMedia(room);
      // A participant left while others stay: the run restarts without them (their output ends).
      this.#later(50, () => this.#participantLeft(room));
    });
    room.once('closed', () => this.#checkMedia(room));
  }

  /** The room's live recording id as far as this instance knows. */
  recordingOf(room: string): string | undefined {
    return this.#recs.get(room)?.recordingId;
  }

  /** Creates a recording of the room and queues its first capture run; 409 when one is running, 503 with no recorder. */
  async start(room: Room, trigger: 'api' | 'auto'): Promise<Recording> {
    if (room.producers.length === 0) throw conflict('no_media', `room "${room.name}" has no published media to record`);
    if (this.#recs.has(room.name) || this.#starting.has(room.name))
      throw conflict('recording_in_progress', `room "${room.name}" is already being recorded`);
    this.#starting.add(room.name);
    try {
      return await this.#start(room, trigger);
    } finally {
      this.#starting.delete(room.name);
    }
  }

  async #start(room: Room, trigger: 'api' | 'auto'): Promise<Recording> {
    if (!(await this.#recorderEverSeen())) {
      throw new AppError(503, 'no_recorder', 'no recorder has ever connected to this deployment; start one (services/recorder)');
    }
    // The cost is held (under a token until the recording has an id) until a recorder takes
    // the run: it is then in that recorder's load report.
    const token = `start-${newId()}`;
    const cost = await this.#admit(room, token);
    let rec: Recording;
    try {
      rec = await this.o.lifecycle.start(room.name, trigger);
    } catch (err) {
      if (cost > 0) await this.o.admission?.loads.release(token).catch(() => {});
      throw err;
    }
    const log = this.o.logger.child({ room: room.name, recordingId: rec.id });
    if (this.o.admission && cost > 0) await this.o.admission.loads.rekey(token, rec.id).catch(() => {});
    this.#track(room.name, rec.id);
    try {
      await this.o.runs.queued(rec.id, room.name, 0, 'first');
      await this.o.queues.enqueue(
        'CaptureRecording',
        { v: 1, recordingId: rec.id, room: room.name, sfuInstance: this.o.instanceId, firstSegment: 0, tracks: [], attempt: 0 },
        { jobId: jobIds.captureRun(rec.id, 0), attempts: 1 },
      );
    } catch (err) {
      this.#untrack(room.name, rec.id);
      await this.o.lifecycle.fail(
        rec.id,
        'capture_failed',
        `could not queue the capture: ${err instanceof Error ? err.message : String(err)}`,
      );
      throw err;
    }
    // Bounded wait: no recorder taking the run in time fails it rather than leave it `starting`.
    this.#later(this.o.recorderWaitSeconds * 1000, () => void this.#checkTaken(rec.id));
    log.info({ trigger, tracks: room.producers.length }, 'recording started');
    return rec;
  }

  /**
   * The recording's cost (kbit/s, by its tracks) if some live recorder has room for it; else
   * 503 recorders_full with Retry-After.
   */
  async #admit(room: Room, reservationId: string): Promise<number> {
    const a = this.o.admission;
    if (!a) return 0;
    const cost = recordingCostKbps(
      room.producers.map((p) => ({ kind: p.kind })),
      a.trackCosts,
    );
    if (cost <= 0) return 0;
    const ttlMs = this.o.recorderWaitSeconds * 2000;
    const live = await this.o.runs.liveRecorders();
    if (live.length === 0) {
      // None up right now: the bounded wait for one applies.
      await a.loads.reserve(reservationId, cost, ttlMs).catch(() => {});
      return cost;
    }
    // Decided and held in one step: starts on other SFU instances cannot count the same room.
    const r = await a.loads.admitAndReserve(reservationId, cost, live, ttlMs);
    a.admissions.inc({ result: r.admitted ? 'admitted' : 'refused' });
    if (r.admitted) return cost;
    this.o.logger.warn(
      { room: room.name, costKbps: cost, freeKbps: r.freeKbps, reservedKbps: r.reservedKbps },
      'recording refused: recorders full',
    );
    throw new AppError(
      503,
      'recorders_full',
      `no recorder has room for this recording (${cost} kbit/s; ${Math.floor(r.freeKbps)} kbit/s free across ${r.recorders} recorders); retry later`,
      true,
      { costKbps: cost, freeKbps: Math.floor(r.freeKbps), retryAfterSeconds: a.retryAfterSeconds },
    );
  }

  /** Whether any recorder ever ran here; waits briefly for one that is starting alongside us. */
  async #recorderEverSeen(): Promise<boolean> {
    const until = Date.now() + Math.min(this.o.recorderWaitSeconds, 5) * 1000;
    for (;;) {
      if (await this.o.runs.everSeen()) return true;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #checkTaken(id: string): Promise<void> {
    try {
      const claim = await this.o.runs.claim(id);
      const rec = await this.o.lifecycle.store.get(id);
      if (!rec || rec.status !== 'starting' || !claim || claim.recorderId !== '' || claim.attempt !== 0) return;
      if ((await this.o.runs.liveRecorders()).length > 0) {
        // A recorder is up but busy (queue backlog): give it another wait.
        this.#later(this.o.recorderWaitSeconds * 1000, () => void this.#checkTaken(id));
        return;
      }
      await this.o.lifecycle.fail(id, 'no_recorder', `no recorder took the capture within ${this.o.recorderWaitSeconds} s`);
      await this.o.runs.forget(id);
      this.o.logger.warn({ recordingId: id }, 'no recorder took the recording; failed no_recorder');
    } catch (err) {
      this.o.logger.warn({ err, recordingId: id }, 'could not check whether a recorder took the recording');
    }
  }

  /** A run asks for its tap (fresh transports, paused consumers). Closes the recording's older run's tap. */
  async openTap(recordingId: string, attempt: number, req: OpenTapRequest): Promise<RecordingTap> {
    const rec = await this.o.lifecycle.store.mustGet(recordingId);
    if (rec.room !== req.room) throw conflict('room_mismatch', `recording ${recordingId} is of room "${rec.room}"`);
    if (rec.status !== 'starting' && rec.status !== 'active' && rec.status !== 'stopping') {
      throw conflict('recording_not_live', `recording ${recordingId} is ${rec.status}`);
    }
    const room = this.o.rooms.get(rec.room);
    // 409 no_media is what a run waiting for its publisher to come back retries on.
    if (!room || room.closed || room.producers.length === 0) throw conflict('no_media', `room "${rec.room}" has no published media now`);
    const entry = this.#track(room.name, recordingId);
    this.wire(room);
    const newest = entry.taps.at(-1);
    if (newest && newest.attempt > attempt) throw conflict('stale_run', `run ${attempt} was replaced by run ${newest.attempt}`);
    for (const t of entry.taps.filter((x) => x.attempt === attempt)) t.close('opened again');
    const tap = await RecordingTap.open({
      room,
      recordingId,
      attempt,
      firstSegment: req.firstSegment,
      recorderId: req.recorderId,
      listenIp: this.o.tapListenIp,
      hub: this.o.hub,
      keys: this.o.keys,
      logger: this.o.logger.child({ room: room.name, recordingId }),
    });
    entry.taps.push(tap);
    tap.once('closed', () => {
      entry.taps = entry.taps.filter((t) => t !== tap);
    });
    if (entry.graceTimer) {
      clearTimeout(entry.graceTimer);
      entry.graceTimer = undefined;
    }
    await this.o.rooms.setRecording(room.name, recordingId).catch(() => {});
    return tap;
  }

  #tapFor(recordingId: string, attempt: number): RecordingTap {
    for (const r of this.#recs.values()) {
      const tap = r.recordingId === recordingId ? r.taps.find((t) => !t.closed && t.attempt === attempt) : undefined;
      if (tap) return tap;
    }
    throw notFound('tap_not_found', `no open tap for run ${attempt} of recording ${recordingId} on this instance`);
  }

  async connectTap(recordingId: string, attempt: number, req: ConnectTapRequest): Promise<void> {
    const tap = this.#tapFor(recordingId, attempt);
    await tap.connect(req);
    // The new run is fed: older runs' taps end now (their ffmpeg sees its input stop).
    for (const r of this.#recs.values()) {
      if (r.recordingId !== recordingId) continue;
      for (const t of r.taps.filter((x) => x.attempt < attempt)) t.close(`replaced by run ${attempt}`);
    }
  }

  keyframe(recordingId: string, attempt: number): void {
    this.#tapFor(recordingId, attempt).requestKeyFrame();
  }

  async tapStatus(recordingId: string, attempt: number): Promise<TapStatus> {
    const tap = this.#tapFor(recordingId, attempt);
    return { attempt, live: tap.live, bytesSent: await tap.bytesSent() };
  }

  closeTap(recordingId: string, attempt: number, reason: string): void {
    for (const r of this.#recs.values()) {
      if (r.recordingId !== recordingId) continue;
      for (const t of r.taps.filter((x) => x.attempt === attempt)) t.close(reason);
    }
  }

  /** The recording ended for good here: forget it (its tap closes). */
  finished(recordingId: string): void {
    for (const [room, r] of this.#recs) {
      if (r.recordingId !== recordingId) continue;
      this.#untrack(room, recordingId);
    }
  }

  #track(room: string, recordingId: string): RoomRecording {
    let entry = this.#recs.get(room);
    if (entry && entry.recordingId !== recordingId) this.#untrack(room, entry.recordingId);
    entry = this.#recs.get(room);
    if (!entry) {
      entry = { recordingId, room, taps: [], graceTimer: undefined };
      this.#recs.set(room, entry);
      // Forget it once it is no longer live (stopped by the API, finalized, failed).
      void this.#watchUntilDone(entry);
    }
    return entry;
  }

  #untrack(room: string, recordingId: string): void {
    const entry = this.#recs.get(room);
    if (!entry || entry.recordingId !== recordingId) return;
    this.#recs.delete(room);
    clearTimeout(entry.graceTimer);
    for (const t of [...entry.taps]) t.close('recording ended');
    this.o.rooms.setRecording(room, null).catch(() => {});
  }

  async #watchUntilDone(entry: RoomRecording): Promise<void> {
    while (!this.#closed && this.#recs.get(entry.room) === entry) {
      await new Promise((r) => this.#later(1000, () => r(undefined)));
      const rec = await this.o.lifecycle.store.get(entry.recordingId).catch(() => undefined);
      if (rec === undefined) continue; // Redis hiccup: ask again
      if (!rec || rec.status === 'processing' || rec.status === 'ready' || rec.status === 'failed') {
        this.#untrack(entry.room, entry.recordingId);
        return;
      }
    }
  }

  /** The recorded room's publisher is back (new producers): the running run restarts on them. */
  #publisherBack(room: Room, rec: RoomRecording): void {
    if (rec.graceTimer) {
      clearTimeout(rec.graceTimer);
      rec.graceTimer = undefined;
    }
    const newest = rec.taps.at(-1);
    const tapped = new Set(newest && !newest.closed ? newest.producerIds : []);
    if (room.producers.every((p) => tapped.has(p.id))) return; // same producers: nothing to do
    this.o.logger.info({ room: room.name, recordingId: rec.recordingId }, 'recorded publisher is back; continuing as a new run');
    void this.o.redis
      .publish(
        this.o.keys.recordingChannel(rec.recordingId),
        encodeMessage({ type: 'restart-run', recordingId: rec.recordingId, reason: 'publisher_rejoined' }),
      )
      .catch(() => {});
  }

  /**
   * Someone left a room that still has publishers: the running run records their closed
   * producers no more, so the recording continues as a new run of who is left (each run's
   * participants are fixed; finalize ends the leaver's output where their last run ends).
   */
  #participantLeft(room: Room): void {
    const rec = this.#recs.get(room.name);
    if (!rec || room.closed || room.producers.length === 0) return;
    const newest = rec.taps.at(-1);
    if (!newest || newest.closed) return;
    const present = new Set(room.producers.map((p) => p.id));
    if (newest.producerIds.every((id) => present.has(id))) return;
    this.o.logger.info({ room: room.name, recordingId: rec.recordingId }, 'a recorded participant left; continuing as a new run');
    void this.o.redis
      .publish(
        this.o.keys.recordingChannel(rec.recordingId),
        encodeMessage({ type: 'restart-run', recordingId: rec.recordingId, reason: 'participant_left' }),
      )
      .catch(() => {});
  }

  /** The publisher left: stop after the rejoin grace unless it comes back. */
  #checkMedia(room: Room): void {
    const rec = this.#recs.get(room.name);
    if (!rec || rec.graceTimer) return;
    if (!room.closed && room.producers.length > 0) return;
    const stop = (): void => {
      rec.graceTimer = undefined;
      const current = this.o.rooms.get(room.name);
      if (current && !current.closed && current.producers.length > 0) return;
      this.o.lifecycle
        .stop(rec.recordingId)
        .catch((err: unknown) => this.o.logger.warn({ err, recordingId: rec.recordingId }, 'could not stop recording'));
    };
    if (this.o.graceSeconds > 0) {
      this.o.logger.info(
        { room: room.name, recordingId: rec.recordingId, graceSeconds: this.o.graceSeconds },
        'recorded publisher left; waiting',
      );
      rec.graceTimer = setTimeout(stop, this.o.graceSeconds * 1000);
      rec.graceTimer.unref();
    } else stop();
  }

  /** Closes the taps of runs whose recorder stopped heartbeating. */
  async #checkRecorders(): Promise<void> {
    const taps = [...this.#recs.values()].flatMap((r) => r.taps).filter((t) => !t.closed);
    for (const tap of taps) {
      const alive = await this.o.runs.isAlive(tap.recorderId).catch(() => true); // Redis down: keep feeding
      if (!alive) tap.close(`recorder ${tap.recorderId} heartbeat lapsed`);
    }
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  /** Stops (lifecycle) every recording this instance feeds: for a clean SFU shutdown. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#recs.values()].map((r) => this.o.lifecycle.stop(r.recordingId).catch(() => {})));
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const t of this.#timers) clearTimeout(t);
    for (const r of this.#recs.values()) {
      clearTimeout(r.graceTimer);
      for (const t of [...r.taps]) t.close('sfu shutting down');
    }
    this.#recs.clear();
  }
}
