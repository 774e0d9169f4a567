import type {
  Authenticator,
  ChannelHub,
  JobQueues,
  Logger,
  RecordingStore,
  Redis,
  RedisKeys,
  RoomRegistry,
  Storage,
} from '@live-webrtc/shared';

/** What the API's routes need; built once in service.ts. */
export interface ApiDeps {
  auth: Authenticator;
  store: RecordingStore;
  /** Job queues: a resumed recording's next capture run, a paused recording's finalize on stop. */
  queues: JobQueues;
  registry: RoomRegistry;
  storage: Storage;
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** S3_PRESIGN (or the older DOWNLOAD_REDIRECT): answer file downloads with a 302 to a presigned URL. */
  presign: boolean;
  /** Lifetime of presigned URLs, seconds. */
  presignTtlSeconds: number;
  /** Signed `?token=` for output files (players that cannot send headers); secret unset = no tokens. */
  outputTokens: { secret: string | undefined; ttlSeconds: number };
  /** Headers the API sends to SFU internal routes (INTERNAL_TOKEN). */
  internalAuthHeaders: Record<string, string>;
  /** Whether an SFU internal URL read from the registry may receive them (SFU_INTERNAL_URLS). */
  internalUrlAllowed: (url: string) => boolean;
  /** Per-recording channels (one subscriber connection): a start waits for `first-frame` on it. */
  hub: ChannelHub;
  /** RECORDING_START_WAIT_MS: how long a start waits for the first frame before answering. */
  startWaitMs: number;
  /** REDIS_PREFIX (keys outside RedisKeys: token revocations). */
  redisPrefix: string;
}
