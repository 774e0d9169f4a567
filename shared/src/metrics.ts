// Prometheus metrics: one registry per process, default Node metrics (event-loop lag, heap,
// RSS, CPU: `lw_nodejs_*`, `lw_process_*`), and the collectors services share. Every name and
// label here is listed in the README (Observability) and plotted in compose/grafana/dashboards.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { stat } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis.js';
import { RECORDING_STATUSES } from './recordings/model.js';
import type { Storage } from './storage/storage.js';
import { inSpan } from './tracing.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  readonly recordingTransitions: Counter<'status'>;
}

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // 10 ms resolution: the default (10 ms too) made explicit, since the lag panels rely on it.
  collectDefaultMetrics({ register: registry, prefix: 'lw_', eventLoopMonitoringPrecision: 10 });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'lw_http_request_duration_seconds',
      help: 'HTTP requests by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    recordingTransitions: new Counter({
      name: 'lw_recording_transitions_total',
      help: 'Recording lifecycle transitions, by the status entered',
      labelNames: ['status'],
      registers: [registry],
    }),
  };
}

const RELAYED_ROUTES: [RegExp, string][] = [
  [/^\/api\/whip\/publish\/[^/]+$/, '/api/whip/publish/:room'],
  [/^\/api\/whip\/publish\/[^/]+\/[^/]+$/, '/api/whip/publish/:room/:session'],
  [/^\/api\/whep\/play\/[^/]+$/, '/api/whep/play/:room'],
  [/^\/api\/whep\/play\/[^/]+\/[^/]+$/, '/api/whep/play/:room/:session'],
];

/**
 * The route label of a request: the router's template when one matched, else the WHIP/WHEP
 * template for paths the API relays without a router, else `unmatched` (never the raw path:
 * room names and ids would explode the series count).
 */
export function routeLabel(matched: unknown, path: string): string {
  if (typeof matched === 'string' && matched) return matched;
  for (const [re, name] of RELAYED_ROUTES) if (re.test(path)) return name;
  return 'unmatched';
}

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

/**
 * `lw_queue_jobs{queue,state}` and `lw_queue_oldest_waiting_seconds{queue}`, read from Redis at
 * scrape time. Several processes may export the same queue (every recorder does): dashboards
 * and alerts aggregate with max by (queue, state).
 */
export function registerQueueMetrics(registry: Registry, queues: () => Queue[]): void {
  new Gauge({
    name: 'lw_queue_jobs',
    help: 'Jobs in each BullMQ queue, by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const q of queues()) {
        const counts = await q.getJobCounts(...QUEUE_STATES).catch(() => null);
        if (!counts) continue;
        for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'lw_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting to be picked up in each queue (0 when none waits)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const q of queues()) {
        const [oldest] = await q.getJobs(['waiting', 'prioritized'], 0, 0, true).catch(() => []);
        this.set({ queue: q.name }, oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
      }
    },
  });
}

/** `lw_recordings{status}`: recordings in the Redis index by status, read at scrape time. */
export function registerRecordingStatusMetrics(registry: Registry, redis: Redis, keys: RedisKeys): void {
  new Gauge({
    name: 'lw_recordings',
    help: 'Recordings in the index, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const pipe = redis.pipeline();
      for (const s of RECORDING_STATUSES) pipe.zcard(keys.recordingsByStatus(s));
      const res = await pipe.exec().catch(() => null);
      if (!res) return;
      RECORDING_STATUSES.forEach((s, i) => {
        const [err, n] = res[i] ?? [];
        if (!err) this.set({ status: s }, Number(n));
      });
    },
  });
}

/** Storage traffic of uploads (segments, outputs, manifests), by storage kind and outcome. */
export interface StorageMetrics {
  readonly uploadBytes: Counter<'storage'>;
  readonly uploadSeconds: Histogram<'storage' | 'outcome'>;
  readonly uploadFailures: Counter<'storage'>;
}

export function createStorageMetrics(registry: Registry): StorageMetrics {
  return {
    uploadBytes: new Counter({
      name: 'lw_storage_upload_bytes_total',
      help: 'Bytes uploaded to recording storage',
      labelNames: ['storage'],
      registers: [registry],
    }),
    uploadSeconds: new Histogram({
      name: 'lw_storage_upload_seconds',
      help: 'Duration of one upload to recording storage (retries included), by outcome',
      labelNames: ['storage', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    uploadFailures: new Counter({
      name: 'lw_storage_upload_failures_total',
      help: 'Uploads to recording storage that failed after every retry',
      labelNames: ['storage'],
      registers: [registry],
    }),
  };
}

/**
 * Turns snapshots of cumulative per-object figures (mediasoup's stats count since the object
 * was created, and objects come and go) into a monotonic counter: each call adds the growth
 * of every object seen before and the whole value of new ones; vanished objects are forgotten.
 */
export class CumulativeTracker {
  readonly #last = new Map<string, number>();

  constructor(private readonly counter: Counter<string>) {}

  /** `samples`: object id → [labels, cumulative value]. */
  update(samples: Map<string, [Record<string, string>, number]>): void {
    for (const [id, [labels, value]] of samples) {
      const before = this.#last.get(id) ?? 0;
      if (value > before) this.counter.inc(labels, value - before);
      this.#last.set(id, Math.max(value, before));
    }
    for (const id of [...this.#last.keys()]) if (!samples.has(id)) this.#last.delete(id);
  }
}

/**
 * The same storage, with every upload (putFile, putBytes) counted in `m`, timed, and traced as
 * a client span `storage.put` (S3 requests show up under the job that made them).
 */
export function instrumentUploads(storage: Storage, m: StorageMetrics): Storage {
  const timed = async (key: string, bytes: () => Promise<number>, put: () => Promise<void>): Promise<void> => {
    const end = m.uploadSeconds.startTimer({ storage: storage.kind });
    try {
      await inSpan('storage', 'storage.put', { 'storage.kind': storage.kind, 'storage.key': key }, put);
      end({ outcome: 'ok' });
      m.uploadBytes.inc({ storage: storage.kind }, await bytes().catch(() => 0));
    } catch (err) {
      end({ outcome: 'failed' });
      m.uploadFailures.inc({ storage: storage.kind });
      throw err;
    }
  };
  const putFile: Storage['putFile'] = (key, path, contentType) =>
    timed(
      key,
      async () => (await stat(path)).size,
      () => storage.putFile(key, path, contentType),
    );
  const putBytes: Storage['putBytes'] = (key, body, contentType) =>
    timed(
      key,
      async () => Buffer.byteLength(body),
      () => storage.putBytes(key, body, contentType),
    );
  // A proxy, not a subclass: the implementations keep private fields, so every other method
  // must run on the original object.
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === 'putFile') return putFile;
      if (prop === 'putBytes') return putBytes;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
