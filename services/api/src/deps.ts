import type { Authenticator, Logger, RecordingStore, Redis, RedisKeys, RoomRegistry, Storage } from '@live-webrtc/shared';

/** What the API's routes need; built once in service.ts. */
export interface ApiDeps {
  auth: Authenticator;
  store: RecordingStore;
  registry: RoomRegistry;
  storage: Storage;
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  downloadRedirect: boolean;
  /** Headers the API sends to SFU internal routes (INTERNAL_TOKEN). */
  internalAuthHeaders: Record<string, string>;
  /** Whether an SFU internal URL read from the registry may receive them (SFU_INTERNAL_URLS). */
  internalUrlAllowed: (url: string) => boolean;
  /** REDIS_PREFIX (keys outside RedisKeys: token revocations). */
  redisPrefix: string;
}
