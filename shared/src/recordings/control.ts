// Asking a running capture to stop: kept for callers that have no RecordingLifecycle at hand;
// the lifecycle's `stop` is the one implementation.
import type { Redis } from 'ioredis';
import type { JobQueues } from '../queue/index.js';
import type { RedisKeys } from '../redis.js';
import { RecordingLifecycle } from './lifecycle.js';
import type { Recording } from './model.js';
import type { RecordingStore } from './store.js';

/**
 * Moves a starting/active recording to `stopping` and tells its capture. A recording already
 * stopping or past it is returned unchanged (stop is idempotent).
 */
export function requestStop(
  store: RecordingStore,
  redis: Redis,
  keys: RedisKeys,
  id: string,
  now: () => Date = () => new Date(),
  /** Finalizes a paused recording at once (else the recorder's sweep does, within seconds). */
  queues?: JobQueues,
): Promise<Recording> {
  return new RecordingLifecycle(store, redis, keys, now, queues).stop(id);
}
