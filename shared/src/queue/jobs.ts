// The contracts between services for work that outlives a request: queue names, job names and
// their payload schemas. Producers and workers both parse payloads with these schemas.
import { z } from 'zod';
import { IdSchema, RoomNameSchema } from '../ids.js';

export const QUEUES = {
  capture: 'capture',
  finalize: 'finalize',
  transcode: 'transcode',
  webhooks: 'webhooks',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const CodecSchema = z.object({
  mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9.-]+$/),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
});
export type Codec = z.infer<typeof CodecSchema>;

export const CaptureTrackSchema = z.object({
  /** Stable id of the track within the recording (the producer id). */
  trackId: z.string().min(1).max(64),
  kind: z.enum(['audio', 'video']),
  participant: z.string().min(1).max(128),
  codec: CodecSchema,
  ssrc: z.number().int().nonnegative(),
});
export type CaptureTrack = z.infer<typeof CaptureTrackSchema>;

/** Capture one segment run of a recording: RTP from the SFU → ffmpeg → segment files. */
export const CaptureRecordingSchema = z.object({
  v: z.literal(1),
  recordingId: IdSchema,
  room: RoomNameSchema,
  /** Id of the SFU instance that taps the room (who to tell where to send RTP). */
  sfuInstance: z.string().min(1).max(128),
  /** First segment index this run writes (a run that takes over continues numbering). */
  firstSegment: z.number().int().nonnegative(),
  /**
   * Tracks as the SFU saw them when the recording started (informative: each run asks the SFU
   * for its own tap and records the tracks that tap has).
   */
  tracks: z.array(CaptureTrackSchema).max(16).default([]),
  /** Which run of the recording this job is (0 = first; each takeover, handover or restart adds one). */
  attempt: z.number().int().nonnegative().default(0),
});
export type CaptureRecording = z.infer<typeof CaptureRecordingSchema>;

/** Turn a stopped recording's segments into its outputs (raw container first). */
export const FinalizeRecordingSchema = z.object({
  v: z.literal(1),
  recordingId: IdSchema,
});
export type FinalizeRecording = z.infer<typeof FinalizeRecordingSchema>;

/** Outputs the transcoding pipeline makes from a recording's raw file (API.md names). */
export const TRANSCODE_OUTPUT_NAMES = ['mp4', 'hls', 'poster', 'sprite', 'audio', 'composite'] as const;
export type TranscodeOutputName = (typeof TRANSCODE_OUTPUT_NAMES)[number];
export const TranscodeOutputNameSchema = z.enum(TRANSCODE_OUTPUT_NAMES);

/** W3C trace context carried through the queue, so a job's span joins the start request's trace. */
const TraceparentSchema = z
  .string()
  .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
  .optional();

/** Make one output of a ready recording from its raw file. */
export const TranscodeRecordingSchema = z.object({
  v: z.literal(1),
  recordingId: IdSchema,
  output: TranscodeOutputNameSchema,
  traceparent: TraceparentSchema,
});
export type TranscodeRecording = z.infer<typeof TranscodeRecordingSchema>;

export const WEBHOOK_EVENT_TYPES = [
  'recording.started',
  'recording.active',
  'recording.paused',
  'recording.resumed',
  'recording.stopped',
  'recording.ready',
  'recording.failed',
  'output.ready',
  'output.failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** One lifecycle event of a recording, to be fanned out to every webhook URL that wants it. */
export const WebhookEventSchema = z.object({
  v: z.literal(1),
  /** Unique event id (receivers deduplicate by it). */
  id: IdSchema,
  type: z.enum(WEBHOOK_EVENT_TYPES),
  createdAt: z.string().datetime(),
  recordingId: IdSchema,
  /** Order of the event among its recording's events (1, 2, …): deliveries keep this order. */
  seq: z.number().int().positive(),
  /** The public recording object at the time of the event. */
  recording: z.record(z.string(), z.unknown()),
  /** For output.* events: which output. */
  output: z.string().max(32).optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** Deliver one event to one URL (signed, retried with backoff, in order per recording and URL). */
export const DeliverWebhookSchema = WebhookEventSchema.extend({
  url: z.string().url().max(2048),
});
export type DeliverWebhook = z.infer<typeof DeliverWebhookSchema>;

export const JOB_SCHEMAS = {
  CaptureRecording: CaptureRecordingSchema,
  FinalizeRecording: FinalizeRecordingSchema,
  TranscodeRecording: TranscodeRecordingSchema,
  WebhookEvent: WebhookEventSchema,
  DeliverWebhook: DeliverWebhookSchema,
} as const;
export type JobName = keyof typeof JOB_SCHEMAS;
export type JobData<N extends JobName> = z.infer<(typeof JOB_SCHEMAS)[N]>;

/** Which queue carries which job; the compiler checks every job has one. */
export const JOB_QUEUE: Record<JobName, QueueName> = {
  CaptureRecording: QUEUES.capture,
  FinalizeRecording: QUEUES.finalize,
  TranscodeRecording: QUEUES.transcode,
  WebhookEvent: QUEUES.webhooks,
  DeliverWebhook: QUEUES.webhooks,
};

/** Job ids derive from the recording id so a duplicate enqueue collapses into one job. */
export const jobIds = {
  capture: (recordingId: string, firstSegment: number) => `capture-${recordingId}-${firstSegment}`,
  /** One job per run attempt of a recording (takeovers never collide with the run they replace). */
  captureRun: (recordingId: string, attempt: number) => `capture-${recordingId}-a${attempt}`,
  finalize: (recordingId: string) => `finalize-${recordingId}`,
  transcode: (recordingId: string, output: string) => `transcode-${recordingId}-${output}`,
  webhookEvent: (eventId: string) => `webhook-${eventId}`,
  /** One delivery per event and URL (the URL by a short digest: job ids must not hold ':'). */
  webhookDelivery: (eventId: string, urlDigest: string) => `webhook-${eventId}-${urlDigest}`,
};
