// RECORDING_RETENTION_DAYS: recordings that ended (ready or failed) and started longer ago than
// that are deleted with every stored object (raw, outputs, manifest) and their index entries.
// Runs on transcode recorders every `intervalMs`; a Redis lock keeps it to one at a time.
import type { Logger, RecordingStore, Redis } from '@live-webrtc/shared';

export interface RetentionOptions {
  store: RecordingStore;
  redis: Redis;
  prefix: string;
  days: number;
  logger: Logger;
  /** How often to look, ms. Default 1 hour. */
  intervalMs?: number;
  now?: () => number;
}

/** Deletes expired recordings once; returns the ids deleted. */
export async function purgeExpiredRecordings(o: RetentionOptions): Promise<string[]> {
  const lock = `${o.prefix}:retention:lock`;
  if ((await o.redis.set(lock, '1', 'EX', 300, 'NX')) !== 'OK') return [];
  const cutoff = (o.now?.() ?? Date.now()) - o.days * 86_400_000;
  const deleted: string[] = [];
  try {
    for (const status of ['ready', 'failed'] as const) {
      let cursor: string | undefined;
      do {
        const page = await o.store.list({ status, limit: 100, cursor });
        for (const rec of page.items) {
          if (Date.parse(rec.startedAt) >= cutoff) continue;
          await o.store.delete(rec.id).then(
            () => deleted.push(rec.id),
            (err: unknown) => o.logger.warn({ err, recordingId: rec.id }, 'expired recording not deleted'),
          );
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
  } finally {
    await o.redis.del(lock);
  }
  if (deleted.length > 0) o.logger.info({ count: deleted.length, days: o.days }, 'expired recordings deleted');
  return deleted;
}

/** Purges now and every intervalMs; returns a stop function. Does nothing when days is 0. */
export function startRetention(o: RetentionOptions): () => void {
  if (o.days <= 0) return () => {};
  const run = (): void => {
    purgeExpiredRecordings(o).catch((err: unknown) => o.logger.warn({ err }, 'retention run failed'));
  };
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, o.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
