// Client spans for Redis commands. ioredis (≥ 6) publishes every command it writes on the
// `ioredis:command` diagnostics tracing channel; subscribing there gives a span per command
// without patching the client or loading an auto-instrumentation (which for ES modules needs a
// loader hook). Only commands issued inside a traced operation (an HTTP request, a job) get a
// span: heartbeats, BullMQ's polling and other background chatter would otherwise each open a
// trace of their own.
import { tracingChannel } from 'node:diagnostics_channel';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

/** What ioredis puts on the channel (its `_buildCommandContext`). */
interface CommandMessage {
  command: string;
  args?: string[];
  database?: number;
  serverAddress?: string;
  serverPort?: number;
  error?: unknown;
}

/**
 * At most this many Redis spans under one parent: a capture job's span lives as long as the
 * recording and polls its recording's status every second, which would bury the rest of its
 * trace. The parent counts the ones left out (`redis.spans_dropped`).
 */
export const REDIS_SPANS_PER_PARENT = 100;

const spans = new WeakMap<CommandMessage, Span>();
const perParent = new WeakMap<Span, number>();
let subscribed = false;

/** Subscribes once per process (startTracing calls it when tracing is on). */
export function traceRedisCommands(): void {
  if (subscribed) return;
  subscribed = true;
  const tracer = trace.getTracer('live-webrtc-redis');
  tracingChannel<unknown, CommandMessage>('ioredis:command').subscribe({
    start(msg) {
      const parent = trace.getSpan(context.active());
      if (!parent) return;
      const n = (perParent.get(parent) ?? 0) + 1;
      perParent.set(parent, n);
      if (n > REDIS_SPANS_PER_PARENT) {
        parent.setAttribute('redis.spans_dropped', n - REDIS_SPANS_PER_PARENT);
        return;
      }
      const name = msg.command.toUpperCase();
      spans.set(
        msg,
        tracer.startSpan(`redis ${name}`, {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'redis',
            'db.operation.name': name,
            // Keys and structural arguments only: ioredis already replaces values with "?".
            'db.query.text': [name, ...(msg.args ?? [])].join(' ').slice(0, 200),
            ...(msg.database !== undefined ? { 'db.namespace': String(msg.database) } : {}),
            ...(msg.serverAddress !== undefined ? { 'server.address': msg.serverAddress } : {}),
            ...(msg.serverPort !== undefined ? { 'server.port': msg.serverPort } : {}),
          },
        }),
      );
    },
    error(msg) {
      const span = spans.get(msg);
      if (!span) return;
      const message = msg.error instanceof Error ? msg.error.message : String(msg.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    },
    asyncEnd(msg) {
      spans.get(msg)?.end();
      spans.delete(msg);
    },
    end() {},
    asyncStart() {},
  });
}
