// One trace from the REST request that starts a recording to the recording being ready: the
// API's span, the SFU's span (traceparent on the internal call), the capture job that the SFU
// enqueued (trace context in the BullMQ job data) run by the recorder, its ffmpeg run and
// segment uploads, and the finalize job the capture enqueued, with its own ffmpeg and uploads;
// the Redis commands and S3 calls made on that path as client spans (storage is Ceph radosgw,
// a real S3). Spans are exported over OTLP/HTTP (JSON) to a receiver this test runs on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { startCephS3, type S3Server } from '../support/ceph-s3.js';
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
  let s3: S3Server | undefined;

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
    await s3?.stop();
    await new Promise((r) => receiver.close(r));
  });

  test('API → SFU → capture job → ffmpeg + uploads → finalize job, with Redis and S3 client spans, in one trace', async () => {
    const port = (receiver.address() as AddressInfo).port;
    s3 = await startCephS3();
    stack = await startStack({
      S3_ENDPOINT: new URL(s3.endpoint).host,
      S3_USE_SSL: '0',
      S3_PATH_STYLE: '1',
      S3_REGION: s3.region,
      S3_BUCKET: 'traced-recordings',
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
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
      const found = spans.find((x) => x.service === `lw-trace-${service}` && (name === '' || x.name === name) && where(x));
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
    const segmentPut = one('recorder', 'storage.put', (x) => isUnder(x, capture));
    // A one-run recording is made ready by its capture (its continuous file is the raw output);
    // a finalize job, when there is one (segments joined), continues the capture's trace.
    const finalize = spans.find(
      (x) => x.service === 'lw-trace-recorder' && x.name === 'job FinalizeRecording' && x.traceId === api.traceId,
    );
    // Client spans: Redis commands inside the API request and the jobs, S3 calls inside uploads.
    const redisIn = (parent: Span, service: string) => one(service, '', (x) => x.name.startsWith('redis ') && isUnder(x, parent));
    redisIn(api, 'api');
    redisIn(sfu, 'sfu');
    redisIn(capture, 'recorder');
    const s3In = (parent: Span) =>
      one('recorder', '', (x) => /^S3 (PutObject|CreateMultipartUpload|UploadPart)$/.test(x.name) && isUnder(x, parent));
    s3In(segmentPut);
    if (finalize) {
      assert.ok(isUnder(finalize, capture), 'the finalize job continues the capture that enqueued it');
      redisIn(finalize, 'recorder');
      s3In(one('recorder', 'storage.put', (x) => isUnder(x, finalize)));
    }
    const inTrace = spans.filter((x) => x.traceId === api.traceId);
    const count = (prefix: string) => inTrace.filter((x) => x.name.startsWith(prefix)).length;
    console.log(`# traces: ${count('redis ')} Redis and ${count('S3 ')} S3 client spans`);
    console.log(`# traces: ${inTrace.length} spans in the recording's trace: ${[...new Set(inTrace.map((x) => x.name))].join(', ')}`);
  });
});
