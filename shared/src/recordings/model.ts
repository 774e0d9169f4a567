// The recording object (API.md) and its lifecycle, modelled explicitly:
//   starting → active → stopping → processing → ready, or failed with a reason;
//   active ⇄ paused (pause ends the capture run; resume starts a new one whose media continues
//   the timeline with the paused span left out).
// Every transition is timestamped in the manifest.
import { z } from 'zod';
import { presentError } from './publicErrors.js';

export const RECORDING_STATUSES = ['starting', 'active', 'paused', 'stopping', 'processing', 'ready', 'failed'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];
export const RecordingStatusSchema = z.enum(RECORDING_STATUSES);

/** Allowed next states. `failed` is reachable from every non-terminal state. */
const NEXT: Record<RecordingStatus, readonly RecordingStatus[]> = {
  starting: ['active', 'stopping', 'failed'],
  active: ['paused', 'stopping', 'failed'],
  paused: ['active', 'stopping', 'failed'],
  stopping: ['processing', 'failed'],
  processing: ['ready', 'failed'],
  ready: [],
  failed: [],
};

export const canTransition = (from: RecordingStatus, to: RecordingStatus): boolean => NEXT[from].includes(to);
export const isTerminal = (s: RecordingStatus): boolean => NEXT[s].length === 0;
/**
 * Statuses in which a capture may still be running for the room (a paused recording's last run
 * may still be ending, and the room stays claimed by it).
 */
export const isLive = (s: RecordingStatus): boolean => s === 'starting' || s === 'active' || s === 'paused' || s === 'stopping';

export const RecordingErrorSchema = z.object({ code: z.string(), message: z.string() });

export const TrackSchema = z.object({
  kind: z.enum(['audio', 'video']),
  codec: z.string(),
  participant: z.string(),
});

/** The tracks of one capture run, in the order of its streams (finalize splits runs by participant). */
export const RunTracksSchema = z.object({
  /** The run (its first segment index, as `SegmentSchema.run`). */
  run: z.number().int().nonnegative(),
  tracks: z.array(TrackSchema),
});

/**
 * Someone recorded: an opaque id (never a session id), the output holding their audio + video,
 * and where they start and end on the recording's timeline (the raw output's, paused spans left
 * out), so a composite can place them. Filled in when the recording is finalized.
 */
export const ParticipantSchema = z.object({
  id: z.string(),
  output: z.string(),
  startOffsetMs: z.number().nonnegative(),
  endOffsetMs: z.number().nonnegative().nullable(),
  tracks: z.array(z.object({ kind: z.enum(['audio', 'video']), codec: z.string() })),
});
export type RecordingParticipant = z.infer<typeof ParticipantSchema>;

export const OUTPUT_STATUSES = ['pending', 'processing', 'ready', 'failed'] as const;
export const OutputSchema = z.object({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  /** File name under the recording's prefix in storage. */
  file: z.string(),
  contentType: z.string(),
  size: z.number().int().nonnegative().nullable(),
  status: z.enum(OUTPUT_STATUSES),
  progress: z.number().min(0).max(1),
  durationMs: z.number().nonnegative().nullable().default(null),
  /** Seconds left while processing, from the rate of progress (transcoded outputs). */
  etaSeconds: z.number().nonnegative().nullable().optional(),
  /** Why it failed, when it did. */
  error: RecordingErrorSchema.nullable().optional(),
});
export type RecordingOutput = z.infer<typeof OutputSchema>;

export const SegmentSchema = z.object({
  index: z.number().int().nonnegative(),
  key: z.string(),
  size: z.number().int().nonnegative(),
  /** Capture run (first segment index of the run) that wrote it. */
  run: z.number().int().nonnegative(),
  /**
   * Start and end of the segment on its run's timeline, seconds, as ffmpeg's segment list
   * reports them; null when unknown (a segment cut short by a crash). Finalize uses them to
   * join segments without gaps.
   */
  start: z.number().nullable().default(null),
  end: z.number().nullable().default(null),
  /**
   * Wall-clock time (epoch ms) of the run's timeline zero, so finalize can place runs on one
   * timeline: the gap between two runs stays a gap. Null for segments stored before runs had it.
   */
  runAt: z.number().nullable().default(null),
});
export type RecordingSegment = z.infer<typeof SegmentSchema>;

/**
 * A paused span: left out of the outputs. `offsetMs` is where the cut sits on the output's
 * timeline (media before it, then media from the resume on); null when the recording had no
 * frame yet.
 */
export const PauseSchema = z.object({
  at: z.string(),
  resumedAt: z.string().nullable(),
  offsetMs: z.number().nonnegative().nullable(),
  /** Internal: the capture-run attempt current when it paused (the resume's run comes after it). */
  attempt: z.number().int().nonnegative().nullable().default(null),
});
export type RecordingPause = z.infer<typeof PauseSchema>;

/** Milliseconds paused in total, an open pause counting until `until` (epoch ms). */
export function pausedMs(pauses: readonly RecordingPause[], until: number): number {
  return pauses.reduce((n, p) => n + Math.max(0, (p.resumedAt ? Date.parse(p.resumedAt) : until) - Date.parse(p.at)), 0);
}

/**
 * A wall-clock instant (epoch ms) moved onto the recording's timeline with every pause that
 * ended by then cut out: a run that started after a resume follows the media before the pause
 * without the paused span (finalize places runs by it).
 */
export function withoutPauses(wallMs: number, pauses: readonly RecordingPause[]): number {
  return (
    wallMs -
    pauses.reduce(
      (n, p) => (p.resumedAt && Date.parse(p.resumedAt) <= wallMs ? n + Math.max(0, Date.parse(p.resumedAt) - Date.parse(p.at)) : n),
      0,
    )
  );
}

/**
 * A capture run's continuous file, completed in storage when the run ended (the fast path to a
 * ready output: finalize uses it when it covers the whole recording instead of joining
 * segments). A recording is a list of runs per output, each at its offset on the recording's
 * timeline.
 */
export const RunFileSchema = z.object({
  /** Output it belongs to ("raw"). */
  output: z.string(),
  /** Capture run (first segment index) that wrote it. */
  run: z.number().int().nonnegative(),
  /** Where the run starts on the recording's timeline, ms. */
  offsetMs: z.number().nonnegative(),
  /** Storage key of the completed object. */
  key: z.string(),
  file: z.string(),
  contentType: z.string(),
  size: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  /**
   * Storage key of the file's layout (the recorder's mkv/layout.ts: clusters, tracks), with
   * which finalize joins several runs' files by byte range; null when it could not be read.
   */
  layout: z.string().nullable().default(null),
});
export type RunFile = z.infer<typeof RunFileSchema>;

/** The manifest stored next to a recording's files: the truth about it. */
export const RecordingSchema = z.object({
  id: z.string(),
  room: z.string(),
  status: RecordingStatusSchema,
  error: RecordingErrorSchema.nullable(),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  durationMs: z.number().nonnegative().nullable(),
  tracks: z.array(TrackSchema),
  outputs: z.array(OutputSchema),
  segments: z.array(SegmentSchema).default([]),
  runFiles: z.array(RunFileSchema).default([]),
  /** ISO time of every transition, by status. */
  transitions: z.array(z.object({ status: RecordingStatusSchema, at: z.string() })),
  /** Why it was started: an API call or RECORD_ENABLED auto-recording. */
  trigger: z.enum(['api', 'auto']),
  /** Wall-clock time the first frame reached the recorder (ISO), for duration and sync figures. */
  firstFrameAt: z.string().nullable().default(null),
  /**
   * Internal: wall-clock time (epoch ms) the first run's ffmpeg started. A later run writes its
   * continuous file with its own start's distance from it (paused spans cut out) added to every
   * timestamp, so the runs' files share the recording's timeline and join by byte range.
   */
  timelineAt: z.number().nullable().default(null),
  /** Internal: each capture run's tracks in stream order. */
  runTracks: z.array(RunTracksSchema).default([]),
  /** Everyone recorded, with their output and offsets (set at finalize). */
  participants: z.array(ParticipantSchema).default([]),
  /** Paused spans, oldest first (left out of the outputs). */
  pauses: z.array(PauseSchema).default([]),
  /** Optimistic-concurrency version, bumped by every write. */
  version: z.number().int().nonnegative(),
});
export type Recording = z.infer<typeof RecordingSchema>;

export class TransitionError extends Error {
  constructor(
    readonly from: RecordingStatus,
    readonly to: RecordingStatus,
  ) {
    super(`recording cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

/** Returns the recording moved to `to` at `now`; throws TransitionError when not allowed. */
export function transition(
  rec: Recording,
  to: RecordingStatus,
  now: Date,
  patch: Partial<Pick<Recording, 'error' | 'stoppedAt' | 'durationMs' | 'firstFrameAt'>> = {},
): Recording {
  if (!canTransition(rec.status, to)) throw new TransitionError(rec.status, to);
  return { ...rec, ...patch, status: to, transitions: [...rec.transitions, { status: to, at: now.toISOString() }] };
}

export function newRecording(args: { id: string; room: string; trigger: 'api' | 'auto'; now: Date }): Recording {
  const at = args.now.toISOString();
  return {
    id: args.id,
    room: args.room,
    status: 'starting',
    error: null,
    startedAt: at,
    stoppedAt: null,
    durationMs: null,
    tracks: [],
    outputs: [],
    segments: [],
    runFiles: [],
    transitions: [{ status: 'starting', at }],
    trigger: args.trigger,
    firstFrameAt: null,
    timelineAt: null,
    pauses: [],
    runTracks: [],
    participants: [],
    version: 0,
  };
}

/** The public recording object of API.md (internal bookkeeping left out). */
export function presentRecording(r: Recording) {
  return {
    id: r.id,
    room: r.room,
    status: r.status,
    error: presentError(r.error),
    startedAt: r.startedAt,
    stoppedAt: r.stoppedAt,
    durationMs: r.durationMs,
    firstFrameAt: r.firstFrameAt,
    tracks: r.tracks,
    outputs: r.outputs.map((o) => ({
      name: o.name,
      contentType: o.contentType,
      size: o.size,
      status: o.status,
      progress: o.progress,
      durationMs: o.durationMs,
      etaSeconds: o.etaSeconds ?? null,
      error: presentError(o.error),
    })),
    transitions: r.transitions,
    participants: r.participants,
    pauses: r.pauses.map((p) => ({ at: p.at, resumedAt: p.resumedAt, offsetMs: p.offsetMs })),
    trigger: r.trigger,
  };
}
export type RecordingView = ReturnType<typeof presentRecording>;
