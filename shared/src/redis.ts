// Redis connections and the key layout every service agrees on.
import { Redis } from 'ioredis';
import type { Logger } from './logging.js';
import { withTimeout } from './timeout.js';

export type { Redis };

export interface RedisConnectionOptions {
  /**
   * `requests` (default): commands fail within seconds while Redis is down, so an HTTP request
   * gets a 503 instead of hanging. `workers`: commands wait for Redis to come back, as BullMQ
   * workers require (maxRetriesPerRequest: null).
   */
  purpose?: 'requests' | 'workers';
  /** Connection errors are logged here (at most every 10 s), not printed unstructured. */
  logger?: Pick<Logger, 'warn'>;
}

export function createRedis(url: string, name: string, o: RedisConnectionOptions = {}): Redis {
  const forRequests = (o.purpose ?? 'requests') === 'requests';
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: false,
    maxRetriesPerRequest: forRequests ? 2 : null,
    ...(forRequests ? { commandTimeout: 3000 } : {}),
  });
  let lastLog = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastLog < 10_000) return;
    lastLog = Date.now();
    o.logger?.warn({ err: err.message, connection: name }, 'redis connection error (retrying)');
  });
  return redis;
}

/**
 * Whether `err` means "Redis is not answering" rather than a bug: ioredis gives these no class
 * of their own beyond MaxRetriesPerRequestError, so its two messages are matched too.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.message === 'Command timed out' ||
    err.message === 'Connection is closed.' ||
    err.message.startsWith("Stream isn't writeable")
  );
}

/** Key names, all under one prefix so deployments can share a Redis. */
export function redisKeys(prefix: string) {
  return {
    recording: (id: string) => `${prefix}:rec:${id}`,
    recordingsAll: `${prefix}:recs`,
    recordingsByRoom: (room: string) => `${prefix}:recs:room:${room}`,
    recordingsByStatus: (status: string) => `${prefix}:recs:status:${status}`,
    roomRecording: (room: string) => `${prefix}:room:${room}:recording`,
    room: (room: string) => `${prefix}:room:${room}`,
    rooms: `${prefix}:rooms`,
    instance: (id: string) => `${prefix}:instance:${id}`,
    instances: `${prefix}:instances`,
    recordingChannel: (id: string) => `${prefix}:recch:${id}`,
    /** A live recorder's heartbeat (short TTL). */
    recorder: (id: string) => `${prefix}:recorder:${id}`,
    recorders: `${prefix}:recorders`,
    /** Set once any recorder has ever run against this Redis (no TTL). */
    recordersSeen: `${prefix}:recorders:seen`,
    /** Hash recording id → the capture run working on it (CaptureRuns). */
    captureRuns: `${prefix}:captureruns`,
    /** Hash recorder id → its capture cost budget and use (admission.ts). */
    recorderLoads: `${prefix}:recorders:load`,
    /** Hash recording id → cost reserved for a capture no recorder has taken yet (admission.ts). */
    costReservations: `${prefix}:recorders:reserved`,
    /**
     * Set (short TTL, refreshed) while a recorder finishes the mp4 it encoded during the
     * recording (services/recorder/src/transcode/liveMp4.ts): the mp4 job waits for it.
     */
    liveMp4: (id: string) => `${prefix}:livemp4:${id}`,
    /**
     * Set (TTL, refreshed) while one process joins a recording's run files into its raw output
     * (services/recorder/src/jobs/joinLock.ts): the join writes over the object it reads from.
     */
    joinLock: (id: string) => `${prefix}:joinlock:${id}`,
    /**
     * Hash: the multipart upload a recording's capture runs fill with their continuous files'
     * parts, and each run's block of part numbers (services/recorder/src/jobs/rawUpload.ts).
     */
    rawUpload: (id: string) => `${prefix}:rawupload:${id}`,
    /** Short lock so only one recorder sweeps abandoned recordings at a time. */
    sweepLock: `${prefix}:sweeplock`,
  } as const;
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** Resolves when `redis` answers PING, rejects after `timeoutMs`. */
export async function pingRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  await withTimeout(redis.ping(), timeoutMs, 'redis ping');
}
