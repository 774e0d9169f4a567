// Messages between the SFU and a recorder about one running capture, over a Redis pub/sub
// channel per recording. They are a fast path only: the recording's status in the store is the
// truth, and both sides also poll it, so a missed message delays but never loses a stop.
import { z } from 'zod';

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
/** The capture ended (stop, failure or lost input); the SFU closes its taps. */
export const RecorderEndedSchema = z.object({
  type: z.literal('capture-ended'),
  recordingId: z.string(),
  firstSegment: z.number().int().nonnegative(),
  reason: z.string(),
});
/** Someone asked the recording to stop (API or the room emptied). */
export const StopRequestedSchema = z.object({ type: z.literal('stop'), recordingId: z.string() });
/** The SFU asks for keyframes until the recorder confirms; also tells the recorder a track ended. */
export const RecordingMessageSchema = z.discriminatedUnion('type', [
  RecorderListeningSchema,
  RecorderFirstFrameSchema,
  RecorderEndedSchema,
  StopRequestedSchema,
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
