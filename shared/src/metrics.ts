// Prometheus metrics: one registry per process, default Node metrics, and the collectors
// every service shares (HTTP requests, recording lifecycle).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  readonly recordingTransitions: Counter<'status'>;
}

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'lw_' });
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
