// Asking a running capture to stop: the store's status is the truth (recorders poll it), the
// pub/sub message is the fast path that lets ffmpeg get its `q` within milliseconds.
import type { Redis } from 'ioredis';
import { encodeMessage } from '../messages.js';
import type { RedisKeys } from '../redis.js';
import { transition, type Recording } from './model.js';
import type { RecordingStore } from './store.js';

/**
 * Moves a starting/active recording to `stopping` and tells its capture. A recording already
 * stopping or past it is returned unchanged (stop is idempotent).
 */
export async function requestStop(
  store: RecordingStore,
  redis: Redis,
  keys: RedisKeys,
  id: string,
  now: () => Date = () => new Date(),
): Promise<Recording> {
  const rec = await store.update(id, (r) =>
    r.status === 'starting' || r.status === 'active' ? transition(r, 'stopping', now(), { stoppedAt: now().toISOString() }) : null,
  );
  if (rec.status === 'stopping') await redis.publish(keys.recordingChannel(id), encodeMessage({ type: 'stop', recordingId: id }));
  return rec;
}
