// Webhook delivery: WebhookEvent fans one event out to every URL that wants it (WEBHOOK_URLS
// plus the recording's own), DeliverWebhook POSTs it there, signed, retried with backoff.
// Order per recording and URL: a delivery waits (delayed, not holding a worker slot) until the
// URL has finished the recording's previous event — delivered, or given up after its last
// attempt — so receivers see started → active → stopped → ready → output.* in order.
import { createHash } from 'node:crypto';
import {
  DelayedError,
  jobIds,
  loadRecordingOptions,
  resolveWebhookTarget,
  signWebhook,
  UnrecoverableError,
  WEBHOOK_KEY_TTL_S,
  webhookKeys,
  WebhookTargetError,
  type DeliverWebhook,
  type JobHandler,
  type JobQueues,
  type Logger,
  type RecordingStore,
  type Redis,
  type Storage,
} from '@live-webrtc/shared';
import { postWebhook } from './webhookPost.js';

export interface WebhookSettings {
  /** WEBHOOK_URLS: every event goes there. */
  urls: readonly string[];
  /** WEBHOOK_SECRET: signs deliveries; unset = unsigned (and a warning at start). */
  secret: string | undefined;
  /** WEBHOOK_ALLOW_PRIVATE: allow loopback/private/link-local targets. */
  allowPrivate: boolean;
  /** Attempts per delivery (exponential backoff from 1 s). */
  attempts: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** A delivery stops waiting for an earlier event after this long, ms. Default 10 min. */
  maxOrderWaitMs?: number;
}

export interface WebhookDeps {
  settings: WebhookSettings;
  store: RecordingStore;
  storage: Storage;
  queues: JobQueues;
  redis: Redis;
  prefix: string;
  logger: Logger;
  deliveries?: { inc(labels: { outcome: string }): void };
}

export const urlDigest = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 16);

/** How long an API-started recording's options may take to appear (the API saves them after the SFU created it). */
const OPTIONS_WAIT_MS = 5000;

/** WebhookEvent: one DeliverWebhook per target URL. */
export function webhookEventHandler(d: WebhookDeps): JobHandler<'WebhookEvent'> {
  return async (ev, _job, signal) => {
    const rec = await d.store.get(ev.recordingId).catch(() => null);
    let options = await loadRecordingOptions(d.storage, ev.recordingId).catch(() => null);
    // A recording started over the API gets its options (per-recording URLs) saved right after
    // the SFU created it: its first event may get here before them, so give them a moment.
    const deadline = Date.parse(ev.createdAt) + OPTIONS_WAIT_MS;
    while (!options && ev.type === 'recording.started' && rec?.trigger === 'api' && Date.now() < deadline && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 100));
      options = await loadRecordingOptions(d.storage, ev.recordingId).catch(() => null);
    }
    const urls = [...new Set([...d.settings.urls, ...(options?.webhookUrls ?? [])])];
    for (const url of urls) {
      await d.queues.enqueue(
        'DeliverWebhook',
        { ...ev, url },
        {
          jobId: jobIds.webhookDelivery(ev.id, urlDigest(url)),
          attempts: d.settings.attempts,
          backoff: { type: 'exponential', delay: 1000 },
        },
      );
    }
    return { urls: urls.length };
  };
}

/** DeliverWebhook: ordered, signed POST; 2xx is success, anything else is retried. */
export function deliverWebhookHandler(d: WebhookDeps): JobHandler<'DeliverWebhook'> {
  const keys = webhookKeys(d.prefix);
  return async (ev, job) => {
    const digest = urlDigest(ev.url);
    const doneKey = keys.done(ev.recordingId, digest);
    const done = Number((await d.redis.get(doneKey)) ?? 0);
    if (done >= ev.seq) return { outcome: 'duplicate' };
    const waitedMs = Date.now() - Date.parse(ev.createdAt);
    if (done < ev.seq - 1 && waitedMs < (d.settings.maxOrderWaitMs ?? 600_000)) {
      // An earlier event to this URL is still on its way: come back shortly, without using an attempt.
      await job.moveToDelayed(Date.now() + 250, job.token);
      throw new DelayedError();
    }
    const log = d.logger.child({ recordingId: ev.recordingId, event: ev.id, type: ev.type, url: ev.url });
    try {
      await deliver(d.settings, ev);
    } catch (err) {
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ err: err instanceof Error ? err.message : String(err), attempt: job.attemptsMade + 1, last }, 'webhook delivery failed');
      if (last) {
        await finish(d.redis, doneKey, ev.seq);
        d.deliveries?.inc({ outcome: 'failed' });
      }
      throw err;
    }
    await finish(d.redis, doneKey, ev.seq);
    d.deliveries?.inc({ outcome: 'delivered' });
    log.debug('webhook delivered');
    return { outcome: 'delivered' };
  };
}

/** Marks `seq` finished for the URL (never moving backwards). */
async function finish(redis: Redis, key: string, seq: number): Promise<void> {
  await redis.eval(
    "local c = tonumber(redis.call('get', KEYS[1]) or '0') if tonumber(ARGV[1]) > c then redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1",
    1,
    key,
    String(seq),
    String(WEBHOOK_KEY_TTL_S),
  );
}

/** The JSON body receivers get: {id, type, createdAt, recording} (+ output for output.*). */
export function webhookBody(ev: DeliverWebhook): string {
  return JSON.stringify({
    id: ev.id,
    type: ev.type,
    createdAt: ev.createdAt,
    recording: ev.recording,
    ...(ev.output ? { output: ev.output } : {}),
  });
}

/** Overrides for tests: how names resolve and which addresses count as private. */
export interface TargetPolicy {
  resolve?: Parameters<typeof resolveWebhookTarget>[2];
  isBlocked?: Parameters<typeof resolveWebhookTarget>[3];
}

export async function deliver(s: WebhookSettings, ev: DeliverWebhook, policy: TargetPolicy = {}): Promise<void> {
  let target;
  try {
    target = await resolveWebhookTarget(ev.url, s.allowPrivate, policy.resolve, policy.isBlocked);
  } catch (err) {
    if (err instanceof WebhookTargetError && err.code !== 'webhook_target_unresolvable')
      throw new UnrecoverableError(`${err.code}: ${err.message}`);
    throw err;
  }
  const body = webhookBody(ev);
  const ts = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'live-webrtc-webhooks/1',
    ...(s.secret ? signWebhook(s.secret, ev.id, ts, body) : { 'X-Webhook-Id': ev.id, 'X-Webhook-Timestamp': String(ts) }),
  };
  // Redirects are never followed (a 3xx is a failure): a public URL must not bounce the
  // request into the private network. The connection goes to the checked addresses only.
  const status = await postWebhook(target, headers, body, s.timeoutMs);
  if (status < 200 || status >= 300) throw new Error(`${ev.url} answered ${status}`);
}
