// Wires the SFU: mediasoup workers, the room registry, recordings and the HTTP server.
// `startSfu` is what main.ts, the all-in-one launcher and the tests call.
import type { Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import {
  Authenticator,
  ChannelHub,
  closeServer,
  createLogger,
  createMetrics,
  createRedis,
  createStorage,
  Counter,
  Gauge,
  JobQueues,
  listen,
  pingRedis,
  RecordingStore,
  RecordingLifecycle,
  CaptureRuns,
  RecorderLoads,
  redisKeys,
  revocationCheck,
  warnIfOpen,
  RoomRegistry,
  WebhookEmitter,
  boundPort,
  type Logger,
} from '@live-webrtc/shared';
import type { SfuConfig } from './config.js';
import { createSfuApp } from './http/app.js';
import { RecordingController } from './media/recordings.js';
import { SessionReaper } from './media/reaper.js';
import { RoomManager } from './media/rooms.js';
import { WorkerPool } from './media/workers.js';
import { registerMediaMetrics } from './mediaMetrics.js';

/**
 * The addresses WebRTC transports bind: RTC_LISTEN_IP (+ ANNOUNCED_IP) when set, else every
 * local IPv4 address, so browsers on this machine (127.0.0.1) and on the LAN both connect.
 */
export function rtcListenIps(c: Pick<SfuConfig, 'RTC_LISTEN_IP' | 'ANNOUNCED_IP'>): { ip: string; announcedIp?: string }[] {
  const announced = c.ANNOUNCED_IP ? { announcedIp: c.ANNOUNCED_IP } : {};
  if (c.RTC_LISTEN_IP) return [{ ip: c.RTC_LISTEN_IP, ...announced }];
  const ips = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === 'IPv4')
    .map((i) => i!.address);
  const unique = [...new Set(ips.length > 0 ? ips : ['127.0.0.1'])];
  // With ANNOUNCED_IP but no RTC_LISTEN_IP, bind everything and announce the public address.
  return c.ANNOUNCED_IP ? [{ ip: '0.0.0.0', announcedIp: c.ANNOUNCED_IP }] : unique.map((ip) => ({ ip }));
}

export interface RunningSfu {
  server: Server;
  port: number;
  instanceId: string;
  pool: WorkerPool;
  rooms: RoomManager;
  logger: Logger;
  close(): Promise<void>;
}

export async function startSfu(c: SfuConfig, opts: { logger?: Logger } = {}): Promise<RunningSfu> {
  const logger = opts.logger ?? createLogger('sfu', c.LOG_LEVEL);
  warnIfOpen(c, c.SFU_HTTP_ADDR, logger);
  const keys = redisKeys(c.REDIS_PREFIX);
  const redis = createRedis(c.REDIS_URL, `sfu-${c.INSTANCE_ID}`, { logger });
  const hub = new ChannelHub(createRedis(c.REDIS_URL, `sfu-${c.INSTANCE_ID}-sub`, { logger }));
  const storage = createStorage(c);
  await storage.init();
  const metrics = createMetrics('sfu');
  const store = new RecordingStore(redis, keys, storage);
  store.onTransition((r) => metrics.recordingTransitions.inc({ status: r.status }));
  const queues = new JobQueues(redis, c.REDIS_PREFIX);
  // Lifecycle webhooks: the SFU creates recordings and stops them when their media goes away.
  new WebhookEmitter({ queues, redis, prefix: c.REDIS_PREFIX, logger }).attach(store);
  const pool = await WorkerPool.create({ count: c.SFU_WORKERS, rtcMinPort: c.RTC_MIN_PORT, rtcMaxPort: c.RTC_MAX_PORT, logger });
  const registry = new RoomRegistry(redis, keys);
  const me = {
    id: c.INSTANCE_ID,
    publicUrl: c.PUBLIC_URL,
    internalUrl:
      c.SFU_INTERNAL_URL ?? `http://${c.SFU_HTTP_ADDR.host === '0.0.0.0' ? '127.0.0.1' : c.SFU_HTTP_ADDR.host}:${c.SFU_HTTP_ADDR.port}`,
    startedAt: new Date().toISOString(),
  };
  const rooms = new RoomManager(me, registry, pool, logger);
  const recordings = new RecordingController({
    lifecycle: new RecordingLifecycle(store, redis, keys, undefined, queues),
    runs: new CaptureRuns(redis, keys),
    queues,
    hub,
    redis,
    keys,
    rooms,
    instanceId: c.INSTANCE_ID,
    tapListenIp: c.TAP_LISTEN_IP,
    recordEnabled: c.RECORD_ENABLED,
    // RECORD_GRACE_SECONDS is the older name of the same wait; the longer one wins.
    graceSeconds: Math.max(c.RECORD_GRACE_SECONDS, c.RECORD_REJOIN_GRACE_SECONDS),
    recorderWaitSeconds: c.RECORDER_WAIT_SECONDS,
    admission: {
      loads: new RecorderLoads(redis, keys),
      trackCosts: { videoKbps: c.RECORD_VIDEO_COST_KBPS, audioKbps: c.RECORD_AUDIO_COST_KBPS },
      retryAfterSeconds: c.RECORD_ADMISSION_RETRY_SECONDS,
      admissions: new Counter({
        name: 'lw_sfu_recording_admissions_total',
        help: 'Recording starts admitted or refused (no recorder had room for their cost)',
        labelNames: ['result'],
        registers: [metrics.registry],
      }),
    },
    logger,
  });

  new Gauge({
    name: 'lw_sfu_sessions',
    help: 'Open WHIP/WHEP sessions on this instance',
    labelNames: ['kind'],
    registers: [metrics.registry],
    collect() {
      const all = rooms.all.flatMap((r) => [...r.sessions.values()]);
      this.set({ kind: 'publish' }, all.filter((s) => s.kind === 'publish').length);
      this.set({ kind: 'view' }, all.filter((s) => s.kind === 'view').length);
    },
  });
  new Gauge({
    name: 'lw_sfu_rooms',
    help: 'Rooms owned by this instance',
    registers: [metrics.registry],
    collect() {
      this.set(rooms.all.length);
    },
  });
  new Gauge({
    name: 'lw_sfu_worker_cpu_seconds',
    help: 'CPU time (user + system) used by each mediasoup worker process since it started',
    labelNames: ['worker'],
    registers: [metrics.registry],
    async collect() {
      this.reset(); // a replaced worker starts from zero under the same index
      for (const w of await pool.cpuMs().catch(() => [])) this.set({ worker: String(w.index) }, w.ms / 1000);
    },
  });
  registerMediaMetrics(metrics.registry, () => rooms.all);
  const reaped = new Counter({
    name: 'lw_sfu_sessions_reaped_total',
    help: 'Sessions removed because their client went away without a DELETE',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
  const reaper = new SessionReaper({
    rooms,
    idleMs: c.SESSION_TIMEOUT_SECONDS * 1000,
    logger,
    onReaped: (_s, reason) => reaped.inc({ reason }),
  });

  const app = createSfuApp({
    rooms,
    recordings,
    recordingStore: store,
    auth: new Authenticator({ authToken: c.AUTH_TOKEN, jwtSecret: c.JWT_SECRET, isRevoked: revocationCheck(redis, c.REDIS_PREFIX) }),
    transport: {
      listenIps: rtcListenIps(c),
      maxPublishers: c.MAX_PUBS_PER_ROOM,
      maxViewers: c.MAX_SUBS_PER_ROOM,
      maxViewerProfiles: c.MAX_VIEWER_PROFILES,
    },
    internalToken: c.INTERNAL_TOKEN,
    census: () => pool.census(),
    trustedProxies: c.TRUSTED_PROXIES,
    corsOrigins: c.CORS_ORIGINS,
    limits: { maxRooms: c.MAX_ROOMS, maxSessionsPerIp: c.MAX_SESSIONS_PER_IP, maxMediaSections: c.MAX_MEDIA_SECTIONS },
    metricsToken: c.METRICS_TOKEN,
    ice: { urls: c.TURN_URLS, username: c.TURN_USERNAME, password: c.TURN_PASSWORD, secret: c.TURN_SECRET, ttlSeconds: c.TURN_TTL },
    maxSdpBytes: c.MAX_SDP_BYTES,
    metrics,
    checks: { redis: () => pingRedis(redis), storage: () => storage.check(), mediasoup: () => pool.check() },
    logger,
  });
  await rooms.start();
  reaper.start();
  const server = await listen(app, c.SFU_HTTP_ADDR);
  const port = boundPort(server);
  logger.info({ addr: `${c.SFU_HTTP_ADDR.host}:${port}`, workers: pool.size, instance: c.INSTANCE_ID }, 'sfu listening');

  let closed = false;
  return {
    server,
    port,
    instanceId: c.INSTANCE_ID,
    pool,
    rooms,
    logger,
    async close() {
      if (closed) return;
      closed = true;
      reaper.stop();
      await closeServer(server);
      // Recordings of rooms going away are stopped (finalized by their recorders), not dropped.
      await recordings.stopAll();
      recordings.close();
      await rooms.close();
      pool.close();
      await queues.close();
      hub.close();
      redis.disconnect();
    },
  };
}
