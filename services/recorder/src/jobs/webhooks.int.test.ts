// Webhook delivery against a real Redis and a real HTTP receiver on loopback: signatures,
// order per recording, a retry after a 500, per-recording URLs from the start options, and a
// private target refused without WEBHOOK_ALLOW_PRIVATE.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  createLogger,
  createRedis,
  JobQueues,
  LocalStorage,
  RecordingStore,
  redisKeys,
  saveRecordingOptions,
  transition,
  verifyWebhookSignature,
  WebhookEmitter,
} from '@live-webrtc/shared';
import { loadRecorderConfig } from '../config.js';
import { startRecorder } from '../service.js';
import { deliver, type TargetPolicy } from './webhooks.js';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../../tests/dist/support/redis.js', import.meta.url).href;
  const mod = (await import(url)) as { startRedis(): Promise<RedisServer> };
  return mod.startRedis();
}

async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** An HTTP receiver on loopback; `answer` picks each response's status. */
async function receiver(
  answer: (r: Omit<Received, 'status'>, n: number) => number,
  host = '127.0.0.1',
  port = 0,
): Promise<{ url: string; port: number; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const status = answer(r, got.length);
      got.push({ ...r, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  const bound = (server.address() as AddressInfo).port;
  return { url: `http://${host}:${bound}`, port: bound, got, close: () => new Promise((r) => server.close(() => r())) };
}

const SECRET = 'whsec-test-0123456789';

describe('webhooks with real Redis and a loopback receiver', () => {
  let redis: RedisServer;
  let tmp: string;
  let n = 0;

  before(async () => {
    redis = await startRedis();
    tmp = await mkdtemp(join(tmpdir(), 'lw-webhooks-int-'));
  });
  after(async () => {
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function setup(t: TestContext, env: Record<string, string>) {
    const prefix = `wh${process.pid}x${++n}`;
    const recordDir = join(tmp, prefix);
    const config = loadRecorderConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: recordDir,
      RECORDER_HTTP_ADDR: '127.0.0.1:0',
      WEBHOOK_SECRET: SECRET,
      TRANSCODE_OUTPUTS: 'none',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
      ...env,
    });
    const conn = createRedis(redis.url, 'test');
    const storage = new LocalStorage(recordDir);
    await storage.init();
    // The test's store plays the SFU and the API: its transitions are events too.
    const store = new RecordingStore(conn, redisKeys(prefix), storage);
    const queues = new JobQueues(conn, prefix);
    new WebhookEmitter({ queues, redis: conn, prefix, logger: createLogger('test', 'warn') }).attach(store);
    const recorder = await startRecorder(config, { logger: createLogger('recorder', config.LOG_LEVEL) });
    t.after(async () => {
      await recorder.close();
      await queues.close();
      conn.disconnect();
    });
    /** A recording taken through its whole lifecycle, quickly. */
    const lifecycle = async (options?: Parameters<typeof saveRecordingOptions>[2]): Promise<string> => {
      const rec = await store.create('room-1', 'api');
      if (options) await saveRecordingOptions(storage, rec.id, options);
      await store.transition(rec.id, 'active');
      await store.update(rec.id, (r) => transition(r, 'stopping', new Date(), { stoppedAt: new Date().toISOString() }));
      await store.transition(rec.id, 'processing');
      await store.transition(rec.id, 'ready');
      return rec.id;
    };
    return { lifecycle, store, recorder };
  }

  test('events arrive signed, in order, once each, with a retry after a 500', { timeout: 60_000 }, async (t) => {
    // The first delivery of recording.active fails with a 500: it is retried, and nothing
    // after it arrives before it does.
    let failedOnce = false;
    const rx = await receiver((r) => {
      const type = (JSON.parse(r.body) as { type: string }).type;
      if (type === 'recording.active' && !failedOnce) {
        failedOnce = true;
        return 500;
      }
      return 204;
    });
    t.after(() => rx.close());
    const perRecording = await receiver(() => 200);
    t.after(() => perRecording.close());
    const s = await setup(t, { WEBHOOK_URLS: `${rx.url}/hooks`, WEBHOOK_ALLOW_PRIVATE: '1' });
    const id = await s.lifecycle({ webhookUrls: [`${perRecording.url}/mine`] });

    const expected = ['recording.started', 'recording.active', 'recording.stopped', 'recording.ready'];
    const ok = await waitFor(
      '4 delivered events',
      () => {
        const delivered = rx.got.filter((r) => r.status < 300);
        return delivered.length >= 4 ? delivered : null;
      },
      30_000,
    );
    assert.deepEqual(
      ok.map((r) => (JSON.parse(r.body) as { type: string }).type),
      expected,
      'in order',
    );
    assert.equal(rx.got.filter((r) => r.status === 500).length, 1, 'one failed attempt');
    assert.equal(rx.got[1]!.status, 500, 'the 500 came before anything after recording.active');
    // Body and signature.
    const ids = new Set<string>();
    for (const r of ok) {
      const body = JSON.parse(r.body) as { id: string; type: string; createdAt: string; recording: { id: string; status: string } };
      assert.deepEqual(Object.keys(body).sort(), ['createdAt', 'id', 'recording', 'type']);
      assert.equal(body.recording.id, id);
      assert.equal(r.headers['x-webhook-id'], body.id);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.ok(
        verifyWebhookSignature(SECRET, {
          timestamp: r.headers['x-webhook-timestamp'] as string,
          signature: r.headers['x-webhook-signature'] as string,
          body: r.body,
        }),
        'valid signature',
      );
      assert.ok(
        !verifyWebhookSignature('another-secret', {
          timestamp: r.headers['x-webhook-timestamp'] as string,
          signature: r.headers['x-webhook-signature'] as string,
          body: r.body,
        }),
      );
      assert.ok(
        !verifyWebhookSignature(SECRET, {
          timestamp: r.headers['x-webhook-timestamp'] as string,
          signature: r.headers['x-webhook-signature'] as string,
          body: r.body.replace('ready', 'fail'),
        }) || body.type !== 'recording.ready',
      );
      ids.add(body.id);
    }
    assert.equal(ids.size, 4, 'distinct event ids');
    assert.equal((JSON.parse(ok[3]!.body) as { recording: { status: string } }).recording.status, 'ready');
    // The recording's own URL got the same events, in order.
    const mine = await waitFor('per-recording deliveries', () => (perRecording.got.length >= 4 ? perRecording.got : null), 20_000);
    assert.deepEqual(
      mine.map((r) => (JSON.parse(r.body) as { type: string }).type),
      expected,
    );
    assert.ok(mine.every((r) => r.path === '/mine'));
  });

  test('a loopback target is refused unless WEBHOOK_ALLOW_PRIVATE=1', { timeout: 30_000 }, async (t) => {
    const rx = await receiver(() => 204);
    t.after(() => rx.close());
    const s = await setup(t, { WEBHOOK_URLS: `${rx.url}/hooks`, WEBHOOK_ATTEMPTS: '1' });
    await s.lifecycle();
    // Give the deliveries time to be attempted (and refused).
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${s.recorder.port}/metrics`)).text();
    const text = await (async () => {
      const until = Date.now() + 15_000;
      for (;;) {
        const m = await metrics();
        if (/lw_recorder_webhook_deliveries_total\{outcome="failed"[^}]*\} 4/.test(m) || Date.now() > until) return m;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    assert.match(text, /lw_recorder_webhook_deliveries_total\{outcome="failed"[^}]*\} 4/, 'every delivery refused');
    assert.equal(rx.got.length, 0, 'nothing reached the private address');
  });

  test('a delivery connects to the address its name was checked at, never to a second answer (DNS rebinding)', async (t) => {
    // The name first resolves to 127.0.0.2 (counted as public here), then to 127.0.0.1 (private):
    // a client that resolved again at connect time would reach the second receiver.
    const checked = await receiver(() => 204, '127.0.0.2');
    t.after(() => checked.close());
    const rebound = await receiver(() => 204, '127.0.0.1', checked.port);
    t.after(() => rebound.close());
    let lookups = 0;
    const resolve = (async () =>
      ++lookups === 1 ? [{ address: '127.0.0.2', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]) as NonNullable<
      TargetPolicy['resolve']
    >;
    const isBlocked = (ip: string): boolean => ip !== '127.0.0.2';
    const ev = {
      v: 1 as const,
      id: 'evt-rebind',
      type: 'recording.ready' as const,
      createdAt: new Date().toISOString(),
      recordingId: 'rec-rebind',
      seq: 1,
      recording: { id: 'rec-rebind' },
      url: `http://rebind.invalid:${checked.port}/hook`,
    };
    const settings = { urls: [], secret: SECRET, allowPrivate: false, attempts: 1, timeoutMs: 5000 };
    await deliver(settings, ev, { resolve, isBlocked });
    await deliver(settings, ev, { resolve, isBlocked }).then(
      () => assert.fail('the second answer is private: refused'),
      (err: Error) => assert.match(err.message, /webhook_target_private/),
    );
    assert.equal(checked.got.length, 1, 'delivered to the checked address');
    assert.equal(rebound.got.length, 0, 'nothing reached the address of a later answer');
    assert.equal(lookups, 2, 'one lookup per delivery: the connection did not resolve the name again');
    assert.equal(checked.got[0]!.headers['host'], `rebind.invalid:${checked.port}`, 'the Host header keeps the name');
  });
});
