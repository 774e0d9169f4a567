// One trace from the REST request that starts a recording to the recording being ready: the
// API's span, the SFU's span (traceparent on the internal call), the capture job that the SFU
// enqueued (trace context in the BullMQ job data) run by the recorder, its ffmpeg run and
// segment uploads, and the finalize job the capture enqueued, with its own ffmpeg and uploads.
// Spans are exported over OTLP/HTTP (JSON) to a receiver this test runs on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { startStack, type Stack } from '../support/stack.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: Omit<Span, 'service'>[] }[];
  }[];
}

describe('traces across the queue', { timeout: 180_000 }, () => {
  let receiver: Server;
  const spans: Span[] = [];
  let stack: Stack | undefined;
  let browser: Browser | undefined;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
          for (const rs of e.resourceSpans) {
            const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
            for (const s of rs.scopeSpans.flatMap((x) => x.spans)) spans.push({ ...s, service });
          }
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    await new Promise((r) => receiver.close(r));
  });

  test('API → SFU → capture job → ffmpeg + uploads → finalize job, in one trace', async () => {
    const port = (receiver.address() as AddressInfo).port;
    stack = await startStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: `127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'lw-trace',
    });
    const s = stack;
    const pub = await whipPublish(browser!.page, `${s.url}/api/whip/publish/traced`);
    assert.equal(pub.status, 201);
    const started = await fetch(`${s.url}/api/v1/rooms/traced/recordings`, { method: 'POST' });
    assert.equal(started.status, 201);
    const { id } = (await started.json()) as { id: string };
    const status = async (): Promise<string> =>
      ((await (await fetch(`${s.url}/api/v1/recordings/${id}`)).json()) as { status: string }).status;
    for (const wanted of ['active', 'ready']) {
      const until = Date.now() + 60_000;
      while ((await status()) !== wanted && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await status(), wanted);
      if (wanted === 'active') {
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal((await fetch(`${s.url}/api/v1/recordings/${id}/stop`, { method: 'POST' })).status, 202);
      }
    }
    await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
    await s.stop(); // flushes every process's buffered spans
    stack = undefined;

    const byId = new Map(spans.map((x) => [x.spanId, x]));
    const isUnder = (child: Span, ancestor: Span): boolean => {
      for (
        let p = child.parentSpanId ? byId.get(child.parentSpanId) : undefined;
        p;
        p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined
      ) {
        if (p.spanId === ancestor.spanId) return true;
      }
      return false;
    };
    const names = (): string => [...new Set(spans.map((x) => `${x.service}:${x.name}`))].join(', ');
    const one = (service: string, name: string, where: (x: Span) => boolean = () => true): Span => {
      const found = spans.find((x) => x.service === `lw-trace-${service}` && x.name === name && where(x));
      assert.ok(found, `a ${service} span "${name}"; spans: ${names()}`);
      return found;
    };

    const api = one('api', 'POST /api/v1/rooms/:room/recordings');
    const sfu = one('sfu', 'POST /internal/v1/rooms/:room/recordings', (x) => x.traceId === api.traceId);
    assert.equal(sfu.parentSpanId, api.spanId, "the SFU's span is a child of the API's");
    const capture = one('recorder', 'job CaptureRecording', (x) => x.traceId === api.traceId);
    assert.ok(isUnder(capture, sfu), 'the capture job continues the trace of the request that enqueued it');
    const captureFfmpeg = one('recorder', 'ffmpeg', (x) => isUnder(x, capture));
    assert.ok(captureFfmpeg);
    one('recorder', 'storage.put', (x) => isUnder(x, capture));
    // A one-run recording is made ready by its capture (its continuous file is the raw output);
    // a finalize job, when there is one (segments joined), continues the capture's trace.
    const finalize = spans.find(
      (x) => x.service === 'lw-trace-recorder' && x.name === 'job FinalizeRecording' && x.traceId === api.traceId,
    );
    if (finalize) {
      assert.ok(isUnder(finalize, capture), 'the finalize job continues the capture that enqueued it');
      one('recorder', 'storage.put', (x) => isUnder(x, finalize));
    }
    const inTrace = spans.filter((x) => x.traceId === api.traceId);
    console.log(`# traces: ${inTrace.length} spans in the recording's trace: ${[...new Set(inTrace.map((x) => x.name))].join(', ')}`);
  });
});
