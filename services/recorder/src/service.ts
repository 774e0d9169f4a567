// Wires the recorder: Redis, storage, the recording lifecycle, the capture and finalize workers,
// liveness (heartbeat, takeover, sweep) and a small HTTP server for health, readiness and metrics.
// `startRecorder` is what main.ts, the all-in-one launcher and the integration tests call.
//
// Capture runs last as long as a recording; BullMQ's stalled-job detection (20–25 s) is far too
// slow to notice a dead recorder, so it is not what hands captures on: every recorder heartbeats
// in Redis with a short TTL (RECORDER_HEARTBEAT_TTL_MS) and any live recorder moves a lapsed
// recorder's runs on to a new run (liveness.ts). maxStalledCount 0: a stalled capture job is
// never re-run by BullMQ (that would be a second run of the same attempt).
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import Koa from 'koa';
import {
  boundPort,
  ChannelHub,
  closeServer,
  createLogger,
  createRedis,
  createStorage,
  createStorageMetrics,
  instrumentUploads,
  registerQueueMetrics,
  createWorker,
  errorMiddleware,
  JobQueues,
  listen,
  metricsMiddleware,
  opsMiddleware,
  tracingMiddleware,
  pingRedis,
  QUEUES,
  RecordingStore,
  RecorderLoads,
  RecordingLifecycle,
  CaptureRuns,
  presenceConnectionName,
  RecorderPresence,
  RoomRegistry,
  internalAuthHeaders,
  redisKeys,
  safeEqual,
  credentialsFrom,
  warnIfOpen,
  WebhookEmitter,
  type Logger,
} from '@live-webrtc/shared';
import type { RecorderConfig } from './config.js';
import { checkFfmpeg } from './ffmpeg/runner.js';
import { captureHandler, type CaptureResult } from './jobs/capture.js';
import { killLeftoverFfmpeg } from './jobs/leftovers.js';
import { uploadSpool } from './jobs/spool.js';
import { CaptureCosts, defaultBudgetKbps } from './capacity.js';
import { RecorderLiveness } from './liveness.js';
import { TapClient } from './sfu/tapClient.js';
import type { RecorderDeps } from './jobs/deps.js';
import { finalizeHandler } from './jobs/finalize.js';
import { transcodeHandler, type TranscodeDeps } from './jobs/transcode.js';
import { deliverWebhookHandler, webhookEventHandler } from './jobs/webhooks.js';
import { CostGate } from './transcode/gate.js';
import { createTranscodeMetrics } from './transcode/metrics.js';
import { createLiveMp4Metrics, LiveMp4s } from './transcode/liveMp4.js';
import { startRetention } from './transcode/retention.js';
import { scheduleTranscodes } from './transcode/schedule.js';
import { createRecorderMetrics, type RecorderMetrics } from './metrics.js';
import { PortAllocator } from './ports.js';

export interface StartRecorderOptions {
  logger?: Logger;
  /** On close, how long to wait for the finalize jobs of captures that close ended, ms. Default 10000. */
  shutdownDrainMs?: number;
  /** How often captures re-read their recording's status, ms. Default 1000. */
  statusPollMs?: number;
}

export interface RunningRecorder {
  server: Server;
  /** This recorder's id in Redis. */
  recorderId: string;
  /** The HTTP port actually bound (RECORDER_HTTP_ADDR may say 0). */
  port: number;
  logger: Logger;
  metrics: RecorderMetrics;
  /** Stops taking jobs, ends running captures cleanly (files finalized and uploaded), waits briefly for their finalize jobs, then disconnects. Idempotent. */
  close(): Promise<void>;
}

export async function startRecorder(c: RecorderConfig, opts: StartRecorderOptions = {}): Promise<RunningRecorder> {
  const logger = opts.logger ?? createLogger('recorder', c.LOG_LEVEL);
  warnIfOpen(c, c.RECORDER_HTTP_ADDR, logger);
  // Fail at start, not at the first recording, when ffmpeg is missing or lacks a format.
  await checkFfmpeg(c.FFMPEG_PATH);
  const keys = redisKeys(c.REDIS_PREFIX);
  // Jobs wait for Redis to come back rather than fail (BullMQ workers need that anyway).
  const redis = createRedis(c.REDIS_URL, 'recorder', { purpose: 'workers', logger });
  const hub = new ChannelHub(createRedis(c.REDIS_URL, 'recorder-sub', { purpose: 'workers', logger }));
  const metrics = createRecorderMetrics(c.RECORDER_CONCURRENCY);
  const storage = instrumentUploads(createStorage(c), createStorageMetrics(metrics.registry));
  await storage.init();
  await mkdir(c.RECORDER_WORK_DIR, { recursive: true });
  const store = new RecordingStore(redis, keys, storage);
  store.onTransition((r) => metrics.recordingTransitions.inc({ status: r.status }));
  store.onManifestError = (id, err) =>
    logger.warn({ err, recordingId: id }, 'manifest write failed (storage down?); retrying in the background');
  const queues = new JobQueues(redis, c.REDIS_PREFIX);
  const recorderId = c.RECORDER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const runs = new CaptureRuns(redis, keys, c.RECORDER_HEARTBEAT_TTL_MS);
  // ffmpeg left running by a run of a recorder that was killed on this machine ends now.
  const leftovers = await killLeftoverFfmpeg(c.RECORDER_WORK_DIR, (id) => runs.isAlive(id));
  if (leftovers.length > 0) logger.warn({ pids: leftovers }, 'ended ffmpeg processes left by a dead recorder');
  const webhooks = new WebhookEmitter({ queues, redis, prefix: c.REDIS_PREFIX, logger });
  webhooks.attach(store);
  // The raw file is ready: queue the recording's transcodes (whichever recorder finalized it).
  store.onTransition((r) => {
    if (r.status !== 'ready') return;
    scheduleTranscodes({ store, storage, queues, logger, defaults: c.TRANSCODE_OUTPUTS, attempts: c.TRANSCODE_ATTEMPTS }, r).catch(
      (err: unknown) => logger.error({ err, recordingId: r.id }, 'transcodes not queued'),
    );
  });
  const transcodeMetrics = createTranscodeMetrics(metrics.registry);
  registerQueueMetrics(metrics.registry, () => Object.values(QUEUES).map((q) => queues.queue(q)));
  const deps: RecorderDeps = {
    settings: {
      host: c.RECORDER_HOST,
      workDir: c.RECORDER_WORK_DIR,
      segmentSeconds: c.SEGMENT_SECONDS,
      firstFrameTimeoutMs: c.FIRST_FRAME_TIMEOUT_MS,
      mediaTimeoutS: c.RECORDER_MEDIA_TIMEOUT_SECONDS,
      ...(opts.statusPollMs !== undefined ? { statusPollMs: opts.statusPollMs } : {}),
      rejoinGraceS: c.RECORD_REJOIN_GRACE_SECONDS,
      stuckMs: c.RECORDER_STUCK_MS,
      bindTimeoutMs: c.RECORDER_BIND_TIMEOUT_MS,
      startRetryS: c.RECORDER_START_RETRY_SECONDS,
      ffmpegPath: c.FFMPEG_PATH,
      ffprobePath: c.FFPROBE_PATH,
    },
    recorderId,
    store,
    lifecycle: new RecordingLifecycle(store, redis, keys, undefined, queues),
    runs,
    tap: new TapClient({ registry: new RoomRegistry(redis, keys), headers: internalAuthHeaders(c) }),
    storage,
    redis,
    hub,
    keys,
    queues,
    ports: new PortAllocator({ host: c.RECORDER_HOST, minPort: c.RECORDER_RTP_MIN_PORT, maxPort: c.RECORDER_RTP_MAX_PORT }),
    metrics,
    costs: new CaptureCosts({
      recorderId,
      budgetKbps: c.RECORDER_COST_BUDGET_KBPS || defaultBudgetKbps(),
      trackCosts: { videoKbps: c.RECORD_VIDEO_COST_KBPS, audioKbps: c.RECORD_AUDIO_COST_KBPS },
      loads: new RecorderLoads(redis, keys),
      metrics,
      logger,
    }),
    logger,
  };

  // Aborted on close: every running capture (and any fetched while closing) ends cleanly.
  const shutdown = new AbortController();
  const capturing = c.RECORDER_ROLES.includes('capture');
  const transcoding = c.RECORDER_ROLES.includes('transcode');
  const captureWorker = createWorker(
    QUEUES.capture,
    { CaptureRecording: captureHandler(deps, shutdown.signal) },
    {
      connection: redis,
      prefix: c.REDIS_PREFIX,
      concurrency: c.RECORDER_CONCURRENCY,
      logger,
      lockDuration: 20_000,
      stalledInterval: 5_000,
      maxStalledCount: 0,
      autorun: capturing,
    },
  );
  const finalizeWorker = createWorker(
    QUEUES.finalize,
    { FinalizeRecording: finalizeHandler(deps) },
    { connection: redis, prefix: c.REDIS_PREFIX, concurrency: c.RECORDER_FINALIZE_CONCURRENCY, logger, autorun: capturing },
  );
  // Transcodes: aborted on close (a retry elsewhere starts over); admitted by CPU cost.
  const transcodeShutdown = new AbortController();
  const tdeps: TranscodeDeps = {
    ...deps,
    transcode: {
      niceness: c.TRANSCODE_NICE,
      preset: c.TRANSCODE_PRESET,
      crf: c.TRANSCODE_CRF,
      mp4Audio: c.TRANSCODE_MP4_AUDIO,
      ...(c.TRANSCODE_THREADS ? { threads: c.TRANSCODE_THREADS } : {}),
    },
    gate: new CostGate(c.TRANSCODE_CPU_BUDGET),
    webhooks,
    transcodeMetrics,
  };
  const transcode = transcodeHandler(tdeps);
  // mp4s encoded while recording, on recorders that transcode (the mp4 job waits for them).
  const liveMp4 =
    capturing && transcoding && c.TRANSCODE_LIVE_MAX > 0
      ? new LiveMp4s(
          {
            recorderId,
            store,
            storage,
            redis,
            keys,
            webhooks,
            metrics: transcodeMetrics,
            gate: tdeps.gate,
            logger,
            ffmpegPath: c.FFMPEG_PATH,
            ffprobePath: c.FFPROBE_PATH,
            workDir: c.RECORDER_WORK_DIR,
            niceness: c.TRANSCODE_NICE,
            tuning: tdeps.transcode,
            defaults: c.TRANSCODE_OUTPUTS,
            max: c.TRANSCODE_LIVE_MAX,
          },
          createLiveMp4Metrics(metrics.registry),
        )
      : undefined;
  if (liveMp4) deps.liveMp4 = liveMp4;
  const transcodeWorker = createWorker(
    QUEUES.transcode,
    { TranscodeRecording: (data, job, signal) => transcode(data, job, AbortSignal.any([signal, transcodeShutdown.signal])) },
    // A long ladder must not look stalled: the lock is renewed every 30 s while the process lives.
    { connection: redis, prefix: c.REDIS_PREFIX, concurrency: c.TRANSCODE_CONCURRENCY, logger, lockDuration: 60_000, autorun: transcoding },
  );
  if (!c.WEBHOOK_SECRET && c.WEBHOOK_URLS.length > 0) logger.warn('WEBHOOK_URLS is set without WEBHOOK_SECRET: deliveries are not signed');
  const wdeps = {
    settings: {
      urls: c.WEBHOOK_URLS,
      secret: c.WEBHOOK_SECRET,
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE,
      attempts: c.WEBHOOK_ATTEMPTS,
      timeoutMs: c.WEBHOOK_TIMEOUT_MS,
    },
    store,
    storage,
    queues,
    redis,
    prefix: c.REDIS_PREFIX,
    logger,
    deliveries: transcodeMetrics.webhookDeliveries,
  };
  const fanOut = webhookEventHandler(wdeps);
  const webhookWorker = createWorker(
    QUEUES.webhooks,
    {
      // Fan-outs waiting for a recording's options stop waiting on close.
      WebhookEvent: (data, job, signal) => fanOut(data, job, AbortSignal.any([signal, transcodeShutdown.signal])),
      DeliverWebhook: deliverWebhookHandler(wdeps),
    },
    { connection: redis, prefix: c.REDIS_PREFIX, concurrency: 16, logger, autorun: transcoding },
  );
  const stopRetention = transcoding
    ? startRetention({ store, redis, prefix: c.REDIS_PREFIX, days: c.RECORDING_RETENTION_DAYS, logger })
    : () => {};
  for (const w of [captureWorker, finalizeWorker, transcodeWorker, webhookWorker]) {
    // A worker's 'error' without a listener would crash the process.
    w.on('error', (err) => logger.error({ err, queue: w.name }, 'queue worker error'));
  }
  const endedByShutdown = new Set<string>();
  captureWorker.on('completed', (job, result: CaptureResult) => {
    if (result.reason === 'recorder_shutdown' && result.outcome === 'processing')
      endedByShutdown.add((job.data as { recordingId: string }).recordingId);
  });
  captureWorker.on('failed', (job, err) => {
    // Our handler cleans up after itself; a stalled job is handed on by liveness, not BullMQ.
    if (job && /stalled/i.test(err.message))
      logger.warn({ jobId: job.id }, 'capture job stalled (its recorder died); liveness hands it on');
  });
  // An idle connection named after this recorder: when the process dies, Redis drops it at once
  // and the other recorders take its captures over without waiting for the heartbeat TTL.
  const presenceConn = createRedis(c.REDIS_URL, presenceConnectionName(c.REDIS_PREFIX, recorderId), { purpose: 'workers', logger });
  const liveness = new RecorderLiveness({ deps, queues, logger, presence: new RecorderPresence(redis, c.REDIS_PREFIX) });
  await liveness.start();
  await liveMp4?.init((id) => runs.isAlive(id));
  if (capturing) await deps.costs.start();
  // What an earlier life of this recorder left unuploaded goes to storage first (in the
  // background: storage may still be down).
  void uploadSpool(deps, logger)
    .then((n) => n > 0 && logger.info({ segments: n }, 'spool uploaded'))
    .catch((err: unknown) => logger.warn({ err }, 'spool upload failed'));

  const app = new Koa();
  app.use(tracingMiddleware('recorder'));
  app.use(errorMiddleware(logger));
  app.use(metricsMiddleware(metrics));
  app.use(
    opsMiddleware({
      metrics,
      checks: { redis: () => pingRedis(redis), storage: () => storage.check(), ffmpeg: () => checkFfmpeg(c.FFMPEG_PATH) },
      metricsToken: c.METRICS_TOKEN,
      // The recorder serves no user routes, so only the operator's AUTH_TOKEN sees why it is not ready.
      showDetails: (ctx) => {
        const presented = credentialsFrom(ctx.headers);
        return Promise.resolve(c.AUTH_TOKEN !== undefined && presented !== undefined && safeEqual(presented, c.AUTH_TOKEN));
      },
    }),
  );
  const server = await listen(app, c.RECORDER_HTTP_ADDR);
  const port = boundPort(server);
  logger.info(
    {
      addr: `${c.RECORDER_HTTP_ADDR.host}:${port}`,
      host: c.RECORDER_HOST,
      concurrency: c.RECORDER_CONCURRENCY,
      storage: storage.kind,
      recorderId,
    },
    'recorder ready',
  );

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    // Ending captures: stop fetching, then abort the running ones (ffmpeg gets its one SIGINT,
    // segments are uploaded, recordings move to processing and get a finalize job).
    const captureClosed = captureWorker.close();
    shutdown.abort(new Error('recorder shutting down'));
    await captureClosed;
    // Give the finalize jobs of the captures just ended a chance to run here, so a
    // single-machine setup ends with playable files; whatever is left stays queued (and the
    // recording `processing`) for the next recorder to pick up.
    const drainUntil = Date.now() + (opts.shutdownDrainMs ?? 10_000);
    while (endedByShutdown.size > 0 && Date.now() < drainUntil) {
      for (const id of endedByShutdown) {
        const rec = await store.get(id).catch(() => null);
        if (!rec || rec.status !== 'processing') endedByShutdown.delete(id);
      }
      if (endedByShutdown.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (endedByShutdown.size > 0) logger.warn({ recordings: [...endedByShutdown] }, 'finalize still pending at shutdown; left queued');
    await liveMp4?.close();
    await liveness.stop();
    presenceConn.disconnect();
    await deps.costs.stop();
    await finalizeWorker.close();
    stopRetention();
    transcodeShutdown.abort(new Error('recorder shutting down'));
    await Promise.all([transcodeWorker.close(), webhookWorker.close()]);
    await closeServer(server);
    await queues.close();
    hub.close();
    redis.disconnect();
    logger.info('recorder stopped');
  };
  return {
    server,
    recorderId,
    port,
    logger,
    metrics,
    close() {
      closing ??= close();
      return closing;
    },
  };
}
