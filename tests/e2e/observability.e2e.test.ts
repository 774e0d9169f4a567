// What an operator watches: every service's /metrics, and OpenTelemetry traces exported over
// OTLP to the configured endpoint — here a small OTLP/HTTP (JSON) receiver the test runs on
// loopback — with a WHIP request's API span and SFU span in one trace.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

/** Spans received, by service.name. */
function spansByService(exports: OtlpExport[]): Map<string, OtlpSpan[]> {
  const out = new Map<string, OtlpSpan[]>();
  for (const e of exports) {
    for (const rs of e.resourceSpans) {
      const name = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
      out.set(name, [...(out.get(name) ?? []), ...rs.scopeSpans.flatMap((s) => s.spans)]);
    }
  }
  return out;
}

describe('observability', { timeout: 120_000 }, () => {
  let receiver: Server;
  const received: OtlpExport[] = [];
  let stack: Stack | undefined;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
          received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await stack?.stop();
    await new Promise((r) => receiver.close(r));
  });

  test('every service serves Prometheus metrics, and a WHIP request is one trace across API and SFU', async () => {
    const port = (receiver.address() as AddressInfo).port;
    stack = await startStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: `127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'lw-test',
    });
    for (const [url, wanted] of [
      [stack.url, ['lw_http_request_duration_seconds', 'lw_recording_transitions_total', 'lw_process_cpu_seconds_total']],
      [stack.sfuUrl, ['lw_sfu_rooms', 'lw_sfu_sessions', 'lw_sfu_worker_cpu_seconds{', 'lw_sfu_sessions_reaped_total']],
      [stack.recorderUrl, ['lw_recorder_capture_capacity', 'lw_recorder_active_captures', 'lw_recorder_stop_to_ready_seconds']],
    ] as const) {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      for (const m of wanted) assert.ok(text.includes(m), `${url}/metrics has ${m}`);
      assert.equal((await fetch(`${url}/readyz`)).status, 200, `${url}/readyz`);
    }

    assert.equal((await fetch(`${stack.url}/api/v1/rooms`)).status, 200);
    const whip = await fetch(`${stack.url}/api/whip/publish/traced`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\nnot an offer\r\n',
    });
    assert.equal(whip.status, 400);

    // A clean stop flushes the spans each process still buffers.
    await stack.stop();
    stack = undefined;
    const spans = spansByService(received);
    const api = spans.get('lw-test-api') ?? [];
    const sfu = spans.get('lw-test-sfu') ?? [];
    assert.ok(
      api.some((s) => s.name === 'GET /api/v1/rooms'),
      `API spans: ${api.map((s) => s.name).join(', ')}; services: ${[...spans.keys()].join(', ')}; exports: ${received.length}`,
    );
    const sfuWhip = sfu.find((s) => s.name === 'POST /api/whip/publish/:room');
    assert.ok(sfuWhip, `SFU spans: ${sfu.map((s) => s.name).join(', ')}`);
    // The SFU's request span is a child of the API's request span for the same WHIP POST (the
    // API's trace also holds its Redis client spans, so the first span of the trace is not it).
    const apiWhip = api.find((s) => s.spanId === sfuWhip.parentSpanId);
    assert.ok(apiWhip, "the SFU's span continues the API's trace (traceparent on the relay)");
    assert.equal(apiWhip.traceId, sfuWhip.traceId);
    assert.match(apiWhip.name, /^POST \/api\/whip\//, `the parent is the API's WHIP request span (${apiWhip.name})`);
    assert.ok(!api.concat(sfu).some((s) => /healthz|readyz|metrics/.test(s.name)), 'health checks and scrapes are not traced');
  });
});
