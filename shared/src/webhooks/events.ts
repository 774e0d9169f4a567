// Lifecycle events of recordings, queued for webhook delivery. Every service that changes a
// recording attaches a WebhookEmitter to its store: each committed transition becomes one
// event (recording.started/active/stopped/ready/failed); the transcoder emits output.*.
// Events get a per-recording sequence number from Redis at emit time; deliveries keep it.
import type { Redis } from 'ioredis';
import type { Logger } from '../logging.js';
import { newId } from '../ids.js';
import { jobIds, type WebhookEventType } from '../queue/jobs.js';
import type { JobQueues } from '../queue/index.js';
import { presentRecording, type Recording, type RecordingStatus } from '../recordings/model.js';
import type { RecordingStore } from '../recordings/store.js';

/** Redis keys of webhook bookkeeping (under REDIS_PREFIX). */
export const webhookKeys = (prefix: string) => ({
  /** Last sequence number handed out for a recording's events. */
  seq: (recordingId: string) => `${prefix}:webhook:seq:${recordingId}`,
  /** Last sequence number finished (delivered or given up) for a recording and URL digest. */
  done: (recordingId: string, urlDigest: string) => `${prefix}:webhook:done:${recordingId}:${urlDigest}`,
});

/** Bookkeeping keys live as long as a recording may still produce events (30 days). */
export const WEBHOOK_KEY_TTL_S = 30 * 24 * 3600;

/** The event a status change announces, if any (`processing` is internal). */
export function eventTypeFor(status: RecordingStatus, from: RecordingStatus | null): WebhookEventType | null {
  if (from === null) return 'recording.started';
  switch (status) {
    case 'active':
      return from === 'paused' ? 'recording.resumed' : 'recording.active';
    case 'paused':
      return 'recording.paused';
    case 'stopping':
      return 'recording.stopped';
    case 'processing':
      // A paused recording stops straight to processing (one write, no `stopping` of its own).
      return from === 'paused' ? 'recording.stopped' : null;
    case 'ready':
      return 'recording.ready';
    case 'failed':
      return 'recording.failed';
    default:
      return null;
  }
}

export class WebhookEmitter {
  readonly #keys: ReturnType<typeof webhookKeys>;

  constructor(private readonly o: { queues: JobQueues; redis: Redis; prefix: string; logger: Logger; now?: () => Date }) {
    this.#keys = webhookKeys(o.prefix);
  }

  /** Emits an event for every status change `store` commits. */
  attach(store: RecordingStore): void {
    store.onTransition((rec, from) => {
      const type = eventTypeFor(rec.status, from);
      if (type)
        this.emit(type, rec).catch((err: unknown) => this.o.logger.warn({ err, recordingId: rec.id, type }, 'webhook event not queued'));
    });
  }

  /** Queues one event about `rec` (and `output` for output.* events). */
  async emit(type: WebhookEventType, rec: Recording, output?: string): Promise<void> {
    const key = this.#keys.seq(rec.id);
    const [[, seq]] = (await this.o.redis.multi().incr(key).expire(key, WEBHOOK_KEY_TTL_S).exec()) as [[Error | null, number]];
    const id = newId();
    await this.o.queues.enqueue(
      'WebhookEvent',
      {
        v: 1,
        id,
        type,
        createdAt: (this.o.now?.() ?? new Date()).toISOString(),
        recordingId: rec.id,
        seq,
        recording: presentRecording(rec) as unknown as Record<string, unknown>,
        ...(output ? { output } : {}),
      },
      { jobId: jobIds.webhookEvent(id), attempts: 5 },
    );
  }
}
