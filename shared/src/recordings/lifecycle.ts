// The one owner of the recording lifecycle: every service moves a recording from one status to
// the next through these named operations, never by writing a status itself. Each operation is
// idempotent where a retry or a second process may repeat it (stop, mark processing, fail), and
// refuses what the model does not allow (TransitionError). Listeners registered with
// `store.onTransition` see every change these make.
import type { Redis } from 'ioredis';
import { conflict } from '../errors.js';
import { encodeMessage } from '../messages.js';
import { jobIds } from '../queue/jobs.js';
import type { JobQueues } from '../queue/index.js';
import type { RedisKeys } from '../redis.js';
import { pausedMs, transition, type Recording, type RecordingOutput } from './model.js';
import { CaptureRuns } from './runs.js';
import type { RecordingStore } from './store.js';

/** Why a recording failed: the typed codes of `recording.error.code`. */
export const FAILURE_CODES = [
  /** No decodable media reached the recorder (no RTP, no keyframe) before it was stopped or timed out. */
  'no_media',
  /** No recorder took the capture within the bounded wait. */
  'no_recorder',
  /** The SFU could not create the tap (room gone, no producers). */
  'tap_failed',
  /** The recorder's own failure (ports, ffmpeg would not start, Redis/storage errors). */
  'capture_failed',
  /** The capture's recorder vanished before any segment was stored. */
  'capture_lost',
  /** The recorder shut down before any media arrived. */
  'recorder_shutdown',
  /** ffmpeg exited before any media arrived for a reason other than missing media. */
  'ffmpeg_failed',
  /** Nothing to finalize. */
  'no_segments',
  /** A stored segment could not be read back. */
  'segment_missing',
  /** Joining or probing the output failed. */
  'finalize_failed',
  /** The output could not be uploaded. */
  'upload_failed',
  /** Left in a non-final state with no process on it and nothing stored to finish it from. */
  'abandoned',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export class RecordingLifecycle {
  constructor(
    readonly store: RecordingStore,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly now: () => Date = () => new Date(),
    /**
     * Where the lifecycle queues the work a transition calls for when no capture is running to
     * do it: a resumed recording's next run, a paused recording's finalize on stop. Without it
     * the recorder's sweep picks those up (within seconds).
     */
    private readonly queues?: JobQueues,
  ) {}

  /** Creates the room's recording in `starting`; 409 when the room already has a live one. */
  start(room: string, trigger: 'api' | 'auto'): Promise<Recording> {
    return this.store.create(room, trigger);
  }

  /** starting → active when the first decodable frame arrived; a later run only keeps the first firstFrameAt. */
  markActive(id: string, at: Date): Promise<Recording> {
    return this.store.update(id, (r) => {
      const firstFrameAt = r.firstFrameAt ?? at.toISOString();
      if (r.status === 'starting') return transition(r, 'active', at, { firstFrameAt });
      return r.firstFrameAt ? null : { ...r, firstFrameAt };
    });
  }

  /**
   * starting/active → stopping and tells the capture (pub/sub fast path; captures also poll).
   * A paused recording has no capture: it goes on to processing at once (its open pause is the
   * end of the media) and is finalized. A recording already stopping or past it is returned
   * unchanged.
   */
  async stop(id: string): Promise<Recording> {
    const at = this.now();
    let fromPaused = false;
    const rec = await this.store.update(id, (r) => {
      fromPaused = r.status === 'paused';
      if (fromPaused) return toProcessing(r, at, at);
      return r.status === 'starting' || r.status === 'active' ? transition(r, 'stopping', at, { stoppedAt: at.toISOString() }) : null;
    });
    if (rec.status === 'stopping') {
      await this.redis.publish(this.keys.recordingChannel(id), encodeMessage({ type: 'stop', recordingId: id }));
    }
    // Stopped while paused (its pause's run may still be ending: finalize waits for `processing`
    // and reads what storage and the work directory hold then).
    if (fromPaused && rec.status === 'processing') {
      await this.queues?.enqueue('FinalizeRecording', { v: 1, recordingId: id }, { jobId: jobIds.finalize(id) });
    }
    return rec;
  }

  /**
   * active → paused: the running capture ends its run (message; captures also poll) and the
   * span until resume is left out of the outputs. 409 `invalid_state` unless active.
   */
  async pause(id: string): Promise<Recording> {
    const at = this.now();
    const claim = await new CaptureRuns(this.redis, this.keys).claim(id);
    const rec = await this.store.update(id, (r) => {
      if (r.status !== 'active') throw conflict('invalid_state', `recording ${id} is ${r.status}; only an active recording can be paused`);
      const first = r.firstFrameAt ? Date.parse(r.firstFrameAt) : null;
      const offsetMs = first === null ? null : Math.max(0, at.getTime() - first - pausedMs(r.pauses, at.getTime()));
      const pause = { at: at.toISOString(), resumedAt: null, offsetMs, attempt: claim?.attempt ?? null };
      return transition({ ...r, pauses: [...r.pauses, pause] }, 'paused', at);
    });
    await this.redis.publish(this.keys.recordingChannel(id), encodeMessage({ type: 'pause', recordingId: id }));
    return rec;
  }

  /**
   * paused → active, closing the open pause, and queues the next capture run (its media
   * continues the timeline after the cut). 409 `invalid_state` unless paused.
   */
  async resume(id: string): Promise<Recording> {
    const at = this.now();
    const rec = await this.store.update(id, (r) => {
      if (r.status !== 'paused') throw conflict('invalid_state', `recording ${id} is ${r.status}; only a paused recording can be resumed`);
      const pauses = r.pauses.map((p, i) =>
        i === r.pauses.length - 1 && p.resumedAt === null ? { ...p, resumedAt: at.toISOString() } : p,
      );
      return transition({ ...r, pauses }, 'active', at);
    });
    await this.#queueResumedRun(rec);
    return rec;
  }

  /** The resumed recording's next run, after every attempt so far (a later attempt wins its claim). */
  async #queueResumedRun(rec: Recording): Promise<void> {
    if (!this.queues) return;
    const runs = new CaptureRuns(this.redis, this.keys);
    const claim = await runs.claim(rec.id);
    const attempt = Math.max(claim?.attempt ?? 0, ...rec.pauses.map((p) => p.attempt ?? 0)) + 1;
    await runs.queued(rec.id, rec.room, attempt, 'resumed');
    await this.queues.enqueue(
      'CaptureRecording',
      { v: 1, recordingId: rec.id, room: rec.room, sfuInstance: 'unknown', firstSegment: 0, tracks: [], attempt },
      { jobId: jobIds.captureRun(rec.id, attempt), attempts: 1 },
    );
  }

  /**
   * starting/active/stopping → processing (through stopping), with stop time and duration.
   * Returns the recording as it is when it is already processing or final.
   */
  markProcessing(id: string, stopAt: Date = this.now()): Promise<Recording> {
    return this.store.update(id, (rec) => toProcessing(rec, stopAt, this.now()));
  }

  /** processing → ready with the raw output stored; unchanged when it is not processing. */
  markReady(id: string, output: RecordingOutput): Promise<Recording> {
    return this.store.update(id, (r) => {
      if (r.status !== 'processing') return null;
      const outputs = [...r.outputs.filter((x) => x.name !== output.name), output];
      return transition({ ...r, outputs }, 'ready', this.now());
    });
  }

  /** Any non-terminal status → failed with a typed code; a terminal recording is left as it is. */
  fail(id: string, code: FailureCode, message: string): Promise<Recording> {
    return this.store.fail(id, code, message);
  }
}

/**
 * starting/active/paused/stopping → processing (via stopping), with stop time and duration (the
 * paused spans left out); null for other statuses.
 */
export function toProcessing(rec: Recording, stopAt: Date, now: Date): Recording | null {
  let r = rec;
  if (r.status === 'starting' || r.status === 'active' || r.status === 'paused')
    r = transition(r, 'stopping', now, { stoppedAt: r.stoppedAt ?? stopAt.toISOString() });
  if (r.status !== 'stopping') return null;
  const first = r.firstFrameAt ? Date.parse(r.firstFrameAt) : null;
  return transition(r, 'processing', now, {
    stoppedAt: r.stoppedAt ?? stopAt.toISOString(),
    durationMs: first !== null ? Math.max(0, stopAt.getTime() - first - pausedMs(r.pauses, stopAt.getTime())) : r.durationMs,
  });
}
