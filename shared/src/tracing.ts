// OpenTelemetry bootstrap: traces go to OTEL_EXPORTER_OTLP_ENDPOINT over the configured
// protocol when it is set; otherwise tracing stays a no-op (the API's spans cost nothing).
import { trace, type Tracer } from '@opentelemetry/api';
import type { CommonConfig } from './config.js';

export { trace, type Tracer };

/** "otel-collector:4317" → "http://otel-collector:4317" (the reference doc gives host:port). */
export function otlpUrl(endpoint: string, protocol: CommonConfig['OTEL_EXPORTER_OTLP_PROTOCOL']): string {
  const base = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  return protocol === 'grpc' ? base : `${base.replace(/\/$/, '')}/v1/traces`;
}

/** Starts the SDK when an endpoint is configured; returns a shutdown function. */
export async function startTracing(c: CommonConfig, service: string): Promise<() => Promise<void>> {
  if (!c.OTEL_EXPORTER_OTLP_ENDPOINT) return async () => {};
  // Loaded lazily: the SDK is large and most single-machine setups never enable it.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const url = otlpUrl(c.OTEL_EXPORTER_OTLP_ENDPOINT, c.OTEL_EXPORTER_OTLP_PROTOCOL);
  const exporter =
    c.OTEL_EXPORTER_OTLP_PROTOCOL === 'grpc'
      ? new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter({ url })
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': `${c.OTEL_SERVICE_NAME}-${service}` }),
    traceExporter: exporter,
  });
  sdk.start();
  return () => sdk.shutdown();
}

export const tracer = (service: string): Tracer => trace.getTracer(`live-webrtc-${service}`);
