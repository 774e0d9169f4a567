// Wires the API: Redis, storage, the recording store, the room registry and the HTTP server.
import type { Server } from 'node:http';
import {
  Authenticator,
  boundPort,
  ChannelHub,
  closeServer,
  createLogger,
  createMetrics,
  createRedis,
  createStorage,
  registerRecordingStatusMetrics,
  internalAuthHeaders,
  listen,
  JobQueues,
  pingRedis,
  RecordingStore,
  WebhookEmitter,
  redisKeys,
  revocationCheck,
  RoomRegistry,
  warnIfOpen,
  type Logger,
} from '@live-webrtc/shared';
import { createApiApp } from './app.js';
import { internalUrlMatcher } from './http/internalUrls.js';
import type { ApiConfig } from './config.js';

export interface RunningApi {
  server: Server;
  port: number;
  logger: Logger;
  close(): Promise<void>;
}

export async function startApi(c: ApiConfig, opts: { logger?: Logger } = {}): Promise<RunningApi> {
  const logger = opts.logger ?? createLogger('api', c.LOG_LEVEL);
  warnIfOpen(c, c.HTTP_ADDR, logger);
  const keys = redisKeys(c.REDIS_PREFIX);
  const redis = createRedis(c.REDIS_URL, 'api', { logger });
  const storage = createStorage(c);
  await storage.init();
  const metrics = createMetrics('api');
  registerRecordingStatusMetrics(metrics.registry, redis, keys);
  const store = new RecordingStore(redis, keys, storage);
  store.onTransition((r) => metrics.recordingTransitions.inc({ status: r.status }));
  const queues = new JobQueues(redis, c.REDIS_PREFIX);
  // Subscriber mode takes a connection of its own (a start waits for `first-frame` on it).
  const hub = new ChannelHub(createRedis(c.REDIS_URL, 'api-sub', { logger }));
  const webhooks = new WebhookEmitter({ queues, redis, prefix: c.REDIS_PREFIX, logger });
  webhooks.attach(store);
  const app = createApiApp(
    {
      auth: new Authenticator({ authToken: c.AUTH_TOKEN, jwtSecret: c.JWT_SECRET, isRevoked: revocationCheck(redis, c.REDIS_PREFIX) }),
      store,
      queues,
      registry: new RoomRegistry(redis, keys),
      storage,
      redis,
      keys,
      logger,
      presign: c.S3_PRESIGN || c.DOWNLOAD_REDIRECT,
      presignTtlSeconds: c.S3_PRESIGN_TTL_SECONDS,
      outputTokens: { secret: c.JWT_SECRET ?? c.AUTH_TOKEN, ttlSeconds: c.OUTPUT_TOKEN_TTL_SECONDS },
      internalAuthHeaders: internalAuthHeaders(c),
      internalUrlAllowed: internalUrlMatcher(c.SFU_INTERNAL_URLS.length > 0 ? c.SFU_INTERNAL_URLS : [c.SFU_URL]),
      redisPrefix: c.REDIS_PREFIX,
      hub,
      startWaitMs: c.RECORDING_START_WAIT_MS,
    },
    {
      sfuUrl: c.SFU_URL,
      metrics,
      checks: { redis: () => pingRedis(redis), storage: () => storage.check() },
      trustedProxies: c.TRUSTED_PROXIES,
      corsOrigins: c.CORS_ORIGINS,
      rateLimits: { perIpPerMinute: c.RATE_LIMIT_IP_PER_MINUTE, perTokenPerMinute: c.RATE_LIMIT_TOKEN_PER_MINUTE },
      redisPrefix: c.REDIS_PREFIX,
      metricsToken: c.METRICS_TOKEN,
      maxJsonBytes: c.MAX_JSON_BYTES,
      maxRelayBytes: c.MAX_RELAY_BYTES,
    },
  );
  const server = await listen(app, c.HTTP_ADDR);
  const port = boundPort(server);
  logger.info({ addr: `${c.HTTP_ADDR.host}:${port}`, storage: storage.kind }, 'api listening');
  let closed = false;
  return {
    server,
    port,
    logger,
    async close() {
      if (closed) return;
      closed = true;
      await closeServer(server);
      await queues.close();
      hub.close();
      redis.disconnect();
    },
  };
}
