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
  /** Headers the API sends to SFU internal routes (its own AUTH_TOKEN). */
  internalAuthHeaders: Record<string, string>;
}
