// Starting a recording while S3 is down (real Ceph radosgw, its gateway stopped): the SFU has
// started the recording, so the answer is the 201 with the recording, not a 500; the options
// chosen in the request (outputs) are saved once storage is back. The test plays the SFU that
// owns the room (room registry + its internal start route).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createLogger, createRedis, createStorage, loadRecordingOptions, redisKeys, RoomRegistry } from '@live-webrtc/shared';
import { loadApiConfig } from './config.js';
import { startApi } from './service.js';

interface Server {
  stop(): Promise<void>;
}
async function support<T>(file: string, fn: string): Promise<T> {
  const url = new URL(`../../../tests/dist/support/${file}`, import.meta.url).href;
  return ((await import(url)) as Record<string, () => Promise<T>>)[fn]!();
}

const TOKEN = 'start-s3-outage-int-token-0123456789abcdef0';

test(
  'POST /rooms/{room}/recordings with S3 down answers 201 with the started recording; its options are saved when S3 is back',
  { timeout: 240_000 },
  async (t) => {
    const redis = await support<Server & { url: string }>('redis.js', 'startRedis');
    t.after(() => redis.stop());
    const s3 = await support<
      Server & {
        endpoint: string;
        region: string;
        accessKey: string;
        secretKey: string;
        stopGateway(): Promise<void>;
        startGateway(): Promise<void>;
      }
    >('ceph-s3.js', 'startCephS3');
    t.after(() => s3.stop());

    // The SFU owning room "outage": its internal start route answers as the real one does.
    let starts = 0;
    const sfu = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/internal/v1/rooms/outage/recordings') {
          starts++;
          res
            .writeHead(201, { 'content-type': 'application/json' })
            .end(JSON.stringify({ id: 'rec-outage-1', room: 'outage', status: 'starting' }));
        } else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"?"}}');
      });
    });
    sfu.listen(0, '127.0.0.1');
    await once(sfu, 'listening');
    t.after(() => new Promise((r) => sfu.close(r)));
    const sfuUrl = `http://127.0.0.1:${(sfu.address() as AddressInfo).port}`;

    const prefix = `so${process.pid}`;
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      HTTP_ADDR: '127.0.0.1:0',
      AUTH_TOKEN: TOKEN,
      SFU_URL: sfuUrl,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: `lw-start-outage-${process.pid}`,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_USE_SSL: '0',
      S3_PATH_STYLE: '1',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    };
    const config = loadApiConfig(env);
    const api = await startApi(config, { logger: createLogger('api', config.LOG_LEVEL) });
    t.after(() => api.close());
    const conn = createRedis(redis.url, 'test');
    t.after(() => conn.disconnect());
    const registry = new RoomRegistry(conn, redisKeys(prefix));
    const me = { id: 'sfu-outage', publicUrl: sfuUrl, internalUrl: sfuUrl, startedAt: new Date().toISOString() };
    await registry.heartbeat(me, []);
    await registry.claim('outage', me.id);

    await s3.stopGateway();
    const res = await fetch(`http://127.0.0.1:${api.port}/api/v1/rooms/outage/recordings`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outputs: ['mp4'] }),
    });
    const body = (await res.json()) as { id?: string; error?: unknown };
    assert.equal(res.status, 201, `the recording started: ${JSON.stringify(body)}`);
    assert.equal(body.id, 'rec-outage-1');
    assert.equal(res.headers.get('location'), '/api/v1/recordings/rec-outage-1');
    assert.equal(starts, 1);

    await s3.startGateway();
    const storage = createStorage(config);
    const until = Date.now() + 90_000;
    let saved = await loadRecordingOptions(storage, 'rec-outage-1').catch(() => null);
    while (!saved && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      saved = await loadRecordingOptions(storage, 'rec-outage-1').catch(() => null);
    }
    assert.deepEqual(saved?.outputs, ['mp4'], 'the options chosen at start are saved once S3 is back');
  },
);
