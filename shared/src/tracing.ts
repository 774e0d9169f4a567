// OpenTelemetry: traces go to OTEL_EXPORTER_OTLP_ENDPOINT over OTEL_EXPORTER_OTLP_PROTOCOL when
// the endpoint is set; otherwise every span below is a no-op that costs next to nothing.
// The SDK is process-global, so each service's main.ts starts it once (startTracing) before the
// service itself; services only create spans (HTTP requests, jobs) through @opentelemetry/api.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import type Koa from 'koa';
import type { CommonConfig } from './config.js';
import { routeLabel } from './metrics.js';
import { traceRedisCommands } from './redisSpans.js';

export { SpanStatusCode, trace, type Tracer };

/** "otel-collector:4317" → "http://otel-collector:4317" (the reference doc gives host:port). */
export function otlpUrl(endpoint: string, protocol: CommonConfig['OTEL_EXPORTER_OTLP_PROTOCOL']): string {
  const base = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  return protocol === 'grpc' ? base : `${base.replace(/\/$/, '')}/v1/traces`;
}

/**
 * Starts the SDK when an endpoint is configured; returns a shutdown function that flushes the
 * spans still buffered. service.name is `${OTEL_SERVICE_NAME}-${service}` (…-api, …-sfu,
 * …-recorder), so the three processes stay apart in a trace viewer.
 */
export async function startTracing(
  c: Pick<CommonConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_PROTOCOL' | 'OTEL_SERVICE_NAME'>,
  service: string,
): Promise<() => Promise<void>> {
  if (!c.OTEL_EXPORTER_OTLP_ENDPOINT) return async () => {};
  // Loaded lazily: the SDK is large and most single-machine setups never enable it.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const url = otlpUrl(c.OTEL_EXPORTER_OTLP_ENDPOINT, c.OTEL_EXPORTER_OTLP_PROTOCOL);
  const exporter =
    c.OTEL_EXPORTER_OTLP_PROTOCOL === 'grpc'
      ? new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter({ url })
      : c.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/protobuf'
        ? new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url })
        : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url });
  const sdk = new NodeSDK({
    // serviceName, not a resource attribute: the SDK's env detector would put the bare
    // OTEL_SERVICE_NAME over a resource's service.name.
    serviceName: `${c.OTEL_SERVICE_NAME}-${service}`,
    resource: resourceFromAttributes({ 'service.namespace': c.OTEL_SERVICE_NAME }),
    traceExporter: exporter,
    // Only our own spans: no auto-instrumentation of every library. Redis and S3 calls get
    // client spans from redisSpans.ts and storage/s3Spans.ts.
    instrumentations: [],
  });
  sdk.start();
  traceRedisCommands();
  return () => sdk.shutdown();
}

export const tracer = (service: string): Tracer => trace.getTracer(`live-webrtc-${service}`);

const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A server span per HTTP request, named by route template, continuing the caller's trace when
 * the request carries a `traceparent` (the API's relay to the SFU sends one). Goes first, so
 * the status it records is the one the client got.
 */
export function tracingMiddleware(service: string): Koa.Middleware {
  const t = tracer(service);
  return async (ctx, next) => {
    if (UNTRACED.has(ctx.path)) return next();
    const parent = propagation.extract(context.active(), ctx.headers);
    await t.startActiveSpan(
      ctx.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path } },
      parent,
      async (span) => {
        try {
          await next();
        } finally {
          const route = routeLabel((ctx as unknown as { _matchedRoute?: unknown })._matchedRoute, ctx.path);
          if (route !== 'unmatched') {
            span.updateName(`${ctx.method} ${route}`);
            span.setAttribute('http.route', route);
          }
          span.setAttribute('http.response.status_code', ctx.status);
          if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      },
    );
  };
}

/** Adds the active trace context to outgoing request headers (W3C traceparent). */
export function injectTraceContext(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** Runs `fn` in a span named `name`; the span records a thrown error and ends either way. */
export async function inSpan<T>(service: string, name: string, attributes: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  return tracer(service).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Job data key under which a producer's W3C trace context rides with a BullMQ job. */
export const JOB_TRACE_KEY = '_trace';

/**
 * `data` plus the active trace context (traceparent/tracestate) under JOB_TRACE_KEY; `data`
 * itself when no span is active. Every job kind gets it in JobQueues.enqueue; the payload
 * schemas ignore the extra key.
 */
export function withTraceContext<T extends object>(data: T): T {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? { ...data, [JOB_TRACE_KEY]: carrier } : data;
}

/** The producer's context carried in a job's data (ROOT_CONTEXT when there is none). */
export function jobTraceContext(data: unknown): Context {
  const carrier = (data as Record<string, unknown> | null)?.[JOB_TRACE_KEY];
  if (!carrier || typeof carrier !== 'object') return ROOT_CONTEXT;
  const headers = Object.fromEntries(Object.entries(carrier).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  return propagation.extract(ROOT_CONTEXT, headers);
}
