// Liveness of recorders and of the capture runs they work on, in Redis.
//
// Every recorder heartbeats a key with a short TTL. Every recording being captured has one
// *claim* in a hash: which attempt (run job) works on it and which recorder holds it. A claim
// whose recorder's heartbeat lapsed is handed on: the claim moves to the next attempt (atomically,
// so two recorders noticing the same lapse hand it on once) and a new capture job is enqueued.
// The SFU uses the same heartbeats to close the taps of a dead recorder's runs.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisKeys } from '../redis.js';

export const CaptureClaimSchema = z.object({
  recordingId: z.string(),
  room: z.string(),
  /** Run attempt: 0 for the first run, +1 for every takeover, handover or restart. */
  attempt: z.number().int().nonnegative(),
  /** Recorder holding the run; '' while the run's job waits in the queue. */
  recorderId: z.string(),
  /** When the claim took this shape (epoch ms). */
  since: z.number(),
  /** Why this attempt exists (first, takeover, handover, ffmpeg_exited, …). */
  cause: z.string(),
  /**
   * Set while runs keep failing to start (ffmpeg not binding its ports, the tap gone before it
   * connected): since when (epoch ms, the first failed run's start), how many runs failed, and
   * the last error. It bounds the retries; a run that starts is not handed it on.
   */
  retry: z.object({ since: z.number(), tries: z.number().int().positive(), error: z.string() }).optional(),
});
export type RunRetry = NonNullable<CaptureClaim['retry']>;
export type CaptureClaim = z.infer<typeof CaptureClaimSchema>;

/** Heartbeat TTL default: a killed recorder is noticed within about this long, ms. */
export const RECORDER_HEARTBEAT_TTL_MS = 1000;

// KEYS[1] hash; ARGV: recording id, expected attempt, new claim json, new attempt.
// Replaces the claim only if it still is at the expected attempt (a hand-on happens once).
const ADVANCE = `
local cur = redis.call('hget', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).attempt ~= tonumber(ARGV[2]) then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS[1] hash; ARGV: recording id, attempt, claim json. A job takes the claim only for its own
// attempt (or a newer one than recorded, when the claim was lost): stale jobs get 0.
const TAKE = `
local cur = redis.call('hget', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).attempt > tonumber(ARGV[2]) then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS[1] hash; ARGV: recording id, attempt. Drops the claim only if it is still that attempt's.
const RELEASE = `
local cur = redis.call('hget', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).attempt == tonumber(ARGV[2]) then redis.call('hdel', KEYS[1], ARGV[1]) return 1 end
return 0`;

export class CaptureRuns {
  /** When this connection last came back after losing Redis (a restart, a network cut). */
  #reconnectedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly heartbeatTtlMs = RECORDER_HEARTBEAT_TTL_MS,
  ) {
    let connected = redis.status === 'ready';
    redis.on('ready', () => {
      if (connected) this.#reconnectedAt = Date.now();
      connected = true;
    });
  }

  /** Refreshes a recorder's heartbeat. */
  async heartbeat(recorderId: string): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.recorder(recorderId), String(Date.now()), 'PX', this.heartbeatTtlMs)
      .sadd(this.keys.recorders, recorderId)
      .set(this.keys.recordersSeen, '1')
      .exec();
  }

  /** Removes a recorder's heartbeat at once (clean shutdown). */
  async unregister(recorderId: string): Promise<void> {
    await this.redis.multi().del(this.keys.recorder(recorderId)).srem(this.keys.recorders, recorderId).exec();
  }

  /**
   * Whether the recorder's heartbeat is current. Right after this connection came back (Redis
   * restarted or was unreachable), every recorder counts as alive for two TTLs: their
   * heartbeats expired while nobody could write them, and they need a beat to renew them
   * (otherwise a Redis restart would look like every recorder dying at once).
   */
  async isAlive(recorderId: string): Promise<boolean> {
    const exists = await this.redis.exists(this.keys.recorder(recorderId));
    // Checked after the answer: a question asked while Redis was away is answered after it is back.
    if (Date.now() - this.#reconnectedAt < 2 * this.heartbeatTtlMs) return true;
    return exists === 1;
  }

  /** Ids of recorders whose heartbeat is current (stale set members are pruned). */
  async liveRecorders(): Promise<string[]> {
    const ids = await this.redis.smembers(this.keys.recorders);
    if (ids.length === 0) return [];
    const exists = await Promise.all(ids.map((id) => this.redis.exists(this.keys.recorder(id))));
    const dead = ids.filter((_, i) => exists[i] !== 1);
    if (dead.length > 0) await this.redis.srem(this.keys.recorders, ...dead);
    return ids.filter((_, i) => exists[i] === 1);
  }

  /** True once any recorder has ever heartbeated against this Redis. */
  async everSeen(): Promise<boolean> {
    return (await this.redis.exists(this.keys.recordersSeen)) === 1;
  }

  async claim(recordingId: string): Promise<CaptureClaim | null> {
    const raw = await this.redis.hget(this.keys.captureRuns, recordingId);
    return raw ? parseClaim(raw) : null;
  }

  async all(): Promise<CaptureClaim[]> {
    const h = await this.redis.hgetall(this.keys.captureRuns);
    return Object.values(h)
      .map(parseClaim)
      .filter((c): c is CaptureClaim => c !== null);
  }

  /** Records that `attempt`'s job is queued (no recorder yet). */
  async queued(recordingId: string, room: string, attempt: number, cause: string, retry?: RunRetry): Promise<void> {
    const c: CaptureClaim = { recordingId, room, attempt, recorderId: '', since: Date.now(), cause, ...(retry ? { retry } : {}) };
    await this.redis.hset(this.keys.captureRuns, recordingId, JSON.stringify(c));
  }

  /** A recorder takes `attempt`; false when a newer attempt already exists (this job is stale). */
  async take(recordingId: string, room: string, attempt: number, recorderId: string, cause: string): Promise<boolean> {
    const c: CaptureClaim = { recordingId, room, attempt, recorderId, since: Date.now(), cause };
    return (await this.redis.eval(TAKE, 1, this.keys.captureRuns, recordingId, String(attempt), JSON.stringify(c))) === 1;
  }

  /**
   * Hands the recording on from `from` to the next attempt (queued, no recorder yet). Returns
   * the new attempt, or null when someone else already moved it on. `retry` is carried only when
   * given (a run that failed to start); any other hand-on starts the count afresh.
   */
  async advance(from: CaptureClaim, cause: string, retry?: RunRetry): Promise<number | null> {
    const rest: CaptureClaim = { ...from };
    delete rest.retry;
    const next: CaptureClaim = {
      ...rest,
      attempt: from.attempt + 1,
      recorderId: '',
      since: Date.now(),
      cause,
      ...(retry ? { retry } : {}),
    };
    const ok = await this.redis.eval(ADVANCE, 1, this.keys.captureRuns, from.recordingId, String(from.attempt), JSON.stringify(next), '');
    return ok === 1 ? next.attempt : null;
  }

  /** The run is over for good (recording stopped, finalized or failed). */
  async release(recordingId: string, attempt: number): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keys.captureRuns, recordingId, String(attempt));
  }

  /** Drops the claim whatever its attempt (the recording is final). */
  async forget(recordingId: string): Promise<void> {
    await this.redis.hdel(this.keys.captureRuns, recordingId);
  }
}

function parseClaim(raw: string): CaptureClaim | null {
  try {
    const r = CaptureClaimSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
