import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { commonConfigSchema, ConfigError, loadConfig, parseListenAddress } from './config.js';

test('defaults give a usable embedded configuration', () => {
  const c = loadConfig(commonConfigSchema, {});
  assert.deepEqual(c.HTTP_ADDR, { host: '0.0.0.0', port: 8080 });
  assert.equal(c.RECORD_ENABLED, false);
  assert.equal(c.RECORD_DIR, join(process.cwd(), 'records'), 'made absolute at start');
  assert.equal(c.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.deepEqual(c.TURN_URLS, []);
  assert.equal(c.S3_USE_SSL, true);
  assert.equal(c.S3_PATH_STYLE, false);
  assert.equal(c.OTEL_EXPORTER_OTLP_PROTOCOL, 'grpc');
});

test('every variable of the reference document is parsed', () => {
  const c = loadConfig(commonConfigSchema, {
    HTTP_ADDR: '127.0.0.1:9000',
    AUTH_TOKEN: 's3cret-0123456789abcdef0123456789abcdef',
    RECORD_ENABLED: '1',
    RECORD_DIR: '/records',
    TURN_URLS: 'turn:turn.example.com:3478, turns:turn.example.com:5349',
    TURN_USERNAME: 'u',
    TURN_PASSWORD: 'p',
    S3_ENDPOINT: 'minio.example.com:9000',
    S3_REGION: 'eu-west-1',
    S3_BUCKET: 'recordings',
    S3_ACCESS_KEY: 'minioadmin',
    S3_SECRET_KEY: 'minioadmin',
    S3_USE_SSL: '0',
    S3_PATH_STYLE: '1',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_SERVICE_NAME: 'live-webrtc-go',
    REDIS_URL: 'redis://redis:6379/0',
  });
  assert.deepEqual(c.HTTP_ADDR, { host: '127.0.0.1', port: 9000 });
  assert.equal(c.RECORD_ENABLED, true);
  assert.deepEqual(c.TURN_URLS, ['turn:turn.example.com:3478', 'turns:turn.example.com:5349']);
  assert.equal(c.S3_USE_SSL, false);
  assert.equal(c.S3_PATH_STYLE, true);
  assert.equal(c.OTEL_SERVICE_NAME, 'live-webrtc-go');
});

test('bad values are reported by variable name, all at once', () => {
  assert.throws(
    () => loadConfig(commonConfigSchema, { HTTP_ADDR: 'nonsense', RECORD_ENABLED: 'maybe', TURN_URLS: 'http://x', REDIS_URL: 'localhost' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const v of ['HTTP_ADDR', 'RECORD_ENABLED', 'TURN_URLS', 'REDIS_URL']) assert.match(text, new RegExp(`^${v}: `, 'm'));
      return true;
    },
  );
});

test('S3 settings must come together', () => {
  assert.throws(() => loadConfig(commonConfigSchema, { S3_BUCKET: 'b' }), /S3_BUCKET: S3 storage needs/);
});

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(parseListenAddress('8080'), null);
  assert.equal(parseListenAddress(':70000'), null);
});
