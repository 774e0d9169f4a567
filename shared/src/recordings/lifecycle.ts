// The one owner of the recording lifecycle: every service moves a recording from one status to
// the next through these named operations, never by writing a status itself. Each operation is
// idempotent where a retry or a second process may repeat it (stop, mark processing, fail), and
// refuses what the model does not allow (TransitionError). Listeners registered with
// `store.onTransition` see every change these make.
import type { Redis } from 'ioredis';
import { encodeMessage } from '../messages.js';
import type { RedisKeys } from '../redis.js';
import { transition, type Recording, type RecordingOutput } from './model.js';
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
   * A recording already stopping or past it is returned unchanged.
   */
  async stop(id: string): Promise<Recording> {
    const at = this.now();
    const rec = await this.store.update(id, (r) =>
      r.status === 'starting' || r.status === 'active' ? transition(r, 'stopping', at, { stoppedAt: at.toISOString() }) : null,
    );
    if (rec.status === 'stopping') {
      await this.redis.publish(this.keys.recordingChannel(id), encodeMessage({ type: 'stop', recordingId: id }));
    }
    return rec;
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

/** starting/active/stopping → processing (via stopping), with stop time and duration; null for other statuses. */
export function toProcessing(rec: Recording, stopAt: Date, now: Date): Recording | null {
  let r = rec;
  if (r.status === 'starting' || r.status === 'active')
    r = transition(r, 'stopping', now, { stoppedAt: r.stoppedAt ?? stopAt.toISOString() });
  if (r.status !== 'stopping') return null;
  const first = r.firstFrameAt ? Date.parse(r.firstFrameAt) : null;
  return transition(r, 'processing', now, {
    stoppedAt: r.stoppedAt ?? stopAt.toISOString(),
    durationMs: first !== null ? Math.max(0, stopAt.getTime() - first) : r.durationMs,
  });
}
