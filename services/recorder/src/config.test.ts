import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '@live-webrtc/shared';
import { loadRecorderConfig } from './config.js';

test('defaults: health on 127.0.0.1:8083, RTP on 127.0.0.1, 50 captures, 10 s segments, 15 s first-frame timeout', () => {
  const c = loadRecorderConfig({});
  assert.deepEqual(c.RECORDER_HTTP_ADDR, { host: '127.0.0.1', port: 8083 });
  assert.equal(c.RECORDER_HOST, '127.0.0.1');
  assert.equal(c.RECORDER_CONCURRENCY, 50);
  assert.equal(c.SEGMENT_SECONDS, 10);
  assert.equal(c.FIRST_FRAME_TIMEOUT_MS, 15000);
  assert.equal(c.RECORDER_MEDIA_TIMEOUT_SECONDS, 60);
  assert.equal(c.RECORDER_WORK_DIR, join(process.cwd(), 'records', '.work'), 'absolute, under RECORD_DIR');
});

test('the work directory follows RECORD_DIR unless set', () => {
  assert.equal(loadRecorderConfig({ RECORD_DIR: '/data/rec' }).RECORDER_WORK_DIR, '/data/rec/.work');
  assert.equal(loadRecorderConfig({ RECORD_DIR: '/data/rec', RECORDER_WORK_DIR: '/scratch' }).RECORDER_WORK_DIR, '/scratch');
});

test('bad values are reported by variable name, all at once', () => {
  try {
    loadRecorderConfig({ RECORDER_HOST: 'recorder.local', RECORDER_CONCURRENCY: '0', SEGMENT_SECONDS: 'ten', RECORDER_HTTP_ADDR: 'nope' });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const v of ['RECORDER_HOST', 'RECORDER_CONCURRENCY', 'SEGMENT_SECONDS', 'RECORDER_HTTP_ADDR']) assert.match(text, new RegExp(v));
  }
});

test('a wildcard RECORDER_HOST is refused: the SFU needs an address it can send to', () => {
  assert.throws(() => loadRecorderConfig({ RECORDER_HOST: '0.0.0.0' }), /RECORDER_HOST/);
  assert.equal(loadRecorderConfig({ RECORDER_HOST: '::1' }).RECORDER_HOST, '::1');
});

test('an RTP port range too small for two pairs, or half an S3 setup, is refused', () => {
  assert.throws(() => loadRecorderConfig({ RECORDER_RTP_MIN_PORT: '50000', RECORDER_RTP_MAX_PORT: '50001' }), /RECORDER_RTP_MIN_PORT/);
  assert.throws(() => loadRecorderConfig({ S3_BUCKET: 'b' }), /S3_BUCKET/);
});

test('transcoding and webhooks: defaults, lists checked entry by entry', () => {
  const c = loadRecorderConfig({});
  assert.deepEqual(c.RECORDER_ROLES, ['capture', 'transcode']);
  assert.deepEqual(c.TRANSCODE_OUTPUTS, ['mp4', 'hls', 'poster', 'sprite', 'audio', 'composite']);
  assert.equal(c.TRANSCODE_NICE, 10);
  assert.deepEqual(c.WEBHOOK_URLS, []);
  assert.equal(c.WEBHOOK_ALLOW_PRIVATE, false);
  assert.equal(c.RECORDING_RETENTION_DAYS, 0);
  const d = loadRecorderConfig({
    RECORDER_ROLES: 'transcode',
    TRANSCODE_OUTPUTS: 'none',
    WEBHOOK_URLS: 'https://a.example/h, http://b.example/h',
  });
  assert.deepEqual(d.RECORDER_ROLES, ['transcode']);
  assert.deepEqual(d.TRANSCODE_OUTPUTS, []);
  assert.deepEqual(d.WEBHOOK_URLS, ['https://a.example/h', 'http://b.example/h']);
  try {
    loadRecorderConfig({ RECORDER_ROLES: 'capture,encode', TRANSCODE_OUTPUTS: 'mp4,gif', WEBHOOK_URLS: 'ftp://x/y' });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const v of ['RECORDER_ROLES', 'TRANSCODE_OUTPUTS', 'WEBHOOK_URLS']) assert.match(text, new RegExp(v));
  }
});

test('closed by default: a recorder serving beyond loopback needs AUTH_TOKEN and INTERNAL_TOKEN, or the explicit opt-out', () => {
  assert.throws(() => loadRecorderConfig({ RECORDER_HTTP_ADDR: '0.0.0.0:8083' }), /AUTH_TOKEN: .*beyond loopback.*ALLOW_UNAUTHENTICATED=1/);
  assert.throws(() => loadRecorderConfig({ RECORDER_HTTP_ADDR: ':8083', AUTH_TOKEN: 'a'.repeat(32) }), /INTERNAL_TOKEN: /);
  const secrets = { AUTH_TOKEN: 'a'.repeat(32), INTERNAL_TOKEN: 'i'.repeat(32) };
  assert.equal(loadRecorderConfig({ RECORDER_HTTP_ADDR: ':8083', ...secrets }).RECORDER_HTTP_ADDR.port, 8083);
  assert.equal(loadRecorderConfig({ RECORDER_HTTP_ADDR: ':8083', ALLOW_UNAUTHENTICATED: '1' }).AUTH_TOKEN, undefined);
  assert.equal(loadRecorderConfig({ RECORDER_HTTP_ADDR: '[::1]:8083' }).AUTH_TOKEN, undefined, 'loopback only warns');
});
