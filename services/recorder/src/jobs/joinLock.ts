// One joiner per recording. Joining run files by byte range (finalize.ts, mkv/join.ts) replaces
// the first run's object with the joined file while it copies ranges out of that same object:
// two joins at once (the stopping capture and a FinalizeRecording job the sweeper queued
// meanwhile) could copy ranges out of the other's result. So the join runs under a Redis lock;
// whoever waits for it finds the recording ready afterwards and does nothing.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Recording } from '@live-webrtc/shared';
import type { RecorderDeps } from './deps.js';

/** Lifetime of the lock; refreshed every third of it while the join runs. */
const TTL_MS = 30_000;
/** How long a waiter waits before it gives up (a join retries storage for ~3 minutes). */
const WAIT_MS = 5 * 60_000;

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Runs `join` holding the recording's join lock. Returns null, without running it, when the
 * recording became ready while this waited for the lock (another process joined it).
 */
export async function underJoinLock<T>(
  d: Pick<RecorderDeps, 'redis' | 'keys' | 'store'>,
  id: string,
  join: () => Promise<T>,
): Promise<T | null> {
  const key = d.keys.joinLock(id);
  const token = randomUUID();
  const until = Date.now() + WAIT_MS;
  while ((await d.redis.set(key, token, 'PX', TTL_MS, 'NX')) !== 'OK') {
    if (Date.now() > until) throw new Error(`recording ${id}: another process has been joining its run files for over ${WAIT_MS / 1000} s`);
    await sleep(250);
  }
  const refresh = setInterval(() => void d.redis.pexpire(key, TTL_MS).catch(() => undefined), TTL_MS / 3);
  try {
    const rec: Recording | null = await d.store.get(id);
    if (rec?.status === 'ready') return null;
    return await join();
  } finally {
    clearInterval(refresh);
    await d.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
