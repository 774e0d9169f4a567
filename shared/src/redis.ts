// Redis connections and the key layout every service agrees on.
import { Redis } from 'ioredis';

export type { Redis };

/** A connection usable by BullMQ too (it requires maxRetriesPerRequest: null). */
export function createRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
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
  } as const;
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** Resolves when `redis` answers PING, rejects after `timeoutMs`. */
export async function pingRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
