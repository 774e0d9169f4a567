// Messages between the SFU and a recorder about one running capture, over a Redis pub/sub
// channel per recording. They are a fast path only: the recording's status in the store is the
// truth, and both sides also poll it, so a missed message delays but never loses a stop.
import { z } from 'zod';
import { CaptureTrackSchema } from './queue/jobs.js';

export const RecorderListeningSchema = z.object({
  type: z.literal('listening'),
  recordingId: z.string(),
  firstSegment: z.number().int().nonnegative(),
  /** Address the recorder's ffmpeg reads RTP on. */
  host: z.string(),
  tracks: z.array(z.object({ trackId: z.string(), rtpPort: z.number().int(), rtcpPort: z.number().int() })),
});
export const RecorderFirstFrameSchema = z.object({
  type: z.literal('first-frame'),
  recordingId: z.string(),
  firstSegment: z.number().int().nonnegative(),
});
/**
 * The recording's status is now `active` (written just before this is sent): a start request
 * waiting for the first frame reads it once (services/api/src/routes/startWait.ts).
 */
export const RecordingActiveSchema = z.object({
  type: z.literal('active'),
  recordingId: z.string(),
  firstSegment: z.number().int().nonnegative(),
});
/** The capture ended (stop, failure or lost input); the SFU closes its taps. */
export const RecorderEndedSchema = z.object({
  type: z.literal('capture-ended'),
  recordingId: z.string(),
  firstSegment: z.number().int().nonnegative(),
  reason: z.string(),
});
/** Someone asked the recording to stop (API or the room emptied). */
export const StopRequestedSchema = z.object({ type: z.literal('stop'), recordingId: z.string() });
/**
 * The SFU tells the running capture to end its run and start a new one (the publisher came
 * back with new producers): the recording continues as a new run.
 */
export const RunRestartSchema = z.object({ type: z.literal('restart-run'), recordingId: z.string(), reason: z.string() });
/** Someone paused the recording: the running capture ends its run without finalizing. */
export const PauseRequestedSchema = z.object({ type: z.literal('pause'), recordingId: z.string() });
/** The SFU asks for keyframes until the recorder confirms; also tells the recorder a track ended. */
export const RecordingMessageSchema = z.discriminatedUnion('type', [
  RecorderListeningSchema,
  RecorderFirstFrameSchema,
  RecordingActiveSchema,
  RecorderEndedSchema,
  StopRequestedSchema,
  PauseRequestedSchema,
  RunRestartSchema,
]);
export type RecordingMessage = z.infer<typeof RecordingMessageSchema>;

export function encodeMessage(m: RecordingMessage): string {
  return JSON.stringify(RecordingMessageSchema.parse(m));
}

/** Parses a message; returns null (never throws) for something that is not one of ours. */
export function decodeMessage(raw: string): RecordingMessage | null {
  try {
    const r = RecordingMessageSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

// Per-run taps: HTTP between a capture run and the SFU instance that owns the room
// (POST/GET/DELETE /internal/v1/recordings/{id}/runs/{attempt}…). Parsed on both sides.

/** A run asks for its tap: fresh PlainTransports and paused consumers for the room's producers. */
export const OpenTapRequestSchema = z.object({
  room: z.string().min(1).max(128),
  /** The recorder whose heartbeat keeps the tap open. */
  recorderId: z.string().min(1).max(128),
  /** First segment index the run writes (for logs and messages). */
  firstSegment: z.number().int().nonnegative(),
});
export type OpenTapRequest = z.infer<typeof OpenTapRequestSchema>;
/**
 * Where the SFU sends a track's media from (its PlainTransport's local address and RTP port):
 * the recorder accepts packets on the run's ports from there only, so a stranger's RTCP BYE
 * cannot end a capture.
 */
export const TapSourceSchema = z.object({
  trackId: z.string().min(1).max(64),
  ip: z.string().min(1).max(64),
  rtpPort: z.number().int().min(1).max(65535),
});
export type TapSource = z.infer<typeof TapSourceSchema>;
export const OpenTapResponseSchema = z.object({
  tracks: z.array(CaptureTrackSchema).min(1).max(16),
  /** Absent from an older SFU: then the recorder cannot filter by source. */
  sources: z.array(TapSourceSchema).max(16).optional(),
});
export type OpenTapResponse = z.infer<typeof OpenTapResponseSchema>;

/** ffmpeg has bound its ports: connect, resume, and ask for keyframes until the first frame. */
export const ConnectTapRequestSchema = z.object({
  host: z.string().min(1).max(64),
  tracks: z
    .array(
      z.object({
        trackId: z.string().min(1).max(64),
        rtpPort: z.number().int().min(1).max(65535),
        rtcpPort: z.number().int().min(1).max(65535),
      }),
    )
    .min(1)
    .max(16),
});
export type ConnectTapRequest = z.infer<typeof ConnectTapRequestSchema>;

/** A run's tap as the SFU sees it: `live` false once every producer it taps has closed. */
export const TapStatusSchema = z.object({
  attempt: z.number().int().nonnegative(),
  live: z.boolean(),
  /** RTP bytes the tap has sent so far: growing while ffmpeg shows no progress means ffmpeg is stuck. */
  bytesSent: z.number().nonnegative().default(0),
});
export type TapStatus = z.infer<typeof TapStatusSchema>;
