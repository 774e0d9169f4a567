import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventTypeFor } from './events.js';
import { signWebhook, verifyWebhookSignature, webhookDigest } from './signature.js';
import { checkWebhookTarget, isPrivateAddress } from './targets.js';

test('the signature is HMAC-SHA256 of "timestamp.body", checked in constant time with a tolerance', () => {
  const body = '{"id":"x","type":"recording.ready"}';
  // Known answer: printf '%s' '1700000000.{"id":"x","type":"recording.ready"}' | openssl dgst -sha256 -hmac secret
  assert.equal(webhookDigest('secret', 1700000000, body), '4fd1e5458de06ef98ae540aa0ef710b648457982a165fc96d6127052675a6c1e');
  const h = signWebhook('secret', 'evt1', 1700000000, body);
  assert.equal(h['X-Webhook-Id'], 'evt1');
  assert.equal(h['X-Webhook-Timestamp'], '1700000000');
  assert.match(h['X-Webhook-Signature']!, /^v1=[0-9a-f]{64}$/);
  const o = { timestamp: '1700000000', signature: h['X-Webhook-Signature'], body };
  assert.ok(verifyWebhookSignature('secret', o, 1700000010));
  assert.ok(verifyWebhookSignature('secret', { ...o, signature: `v1=${'0'.repeat(64)} ${o.signature!}` }, 1700000010), 'any of several');
  assert.ok(!verifyWebhookSignature('other', o, 1700000010), 'wrong secret');
  assert.ok(!verifyWebhookSignature('secret', { ...o, body: body.replace('ready', 'failed') }, 1700000010), 'changed body');
  assert.ok(!verifyWebhookSignature('secret', { ...o, timestamp: '1700000001' }, 1700000010), 'changed timestamp');
  assert.ok(!verifyWebhookSignature('secret', o, 1700000000 + 301), 'too old: replay');
  assert.ok(!verifyWebhookSignature('secret', { ...o, signature: undefined }, 1700000010));
});

test('private, loopback, link-local and reserved addresses are recognised', () => {
  for (const ip of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '224.0.0.1',
    'not-an-ip',
  ])
    assert.ok(isPrivateAddress(ip), ip);
  for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.ok(!isPrivateAddress(ip), ip);
});

test('targets: private refused unless allowed, names checked by every address they resolve to', async () => {
  await assert.rejects(checkWebhookTarget('http://127.0.0.1:9/x', false), { code: 'webhook_target_private' });
  await assert.rejects(checkWebhookTarget('http://[::1]:9/x', false), { code: 'webhook_target_private' });
  await checkWebhookTarget('http://127.0.0.1:9/x', true);
  await assert.rejects(checkWebhookTarget('ftp://example.com/', true), { code: 'webhook_target_invalid' });
  const resolver = (async () => [
    { address: '93.184.216.34', family: 4 },
    { address: '10.0.0.5', family: 4 },
  ]) as unknown as Parameters<typeof checkWebhookTarget>[2];
  await assert.rejects(checkWebhookTarget('https://mixed.example/hook', false, resolver), { code: 'webhook_target_private' });
  const publicOnly = (async () => [{ address: '93.184.216.34', family: 4 }]) as unknown as Parameters<typeof checkWebhookTarget>[2];
  await checkWebhookTarget('https://public.example/hook', false, publicOnly);
});

test('which status change is which event', () => {
  assert.equal(eventTypeFor('starting', null), 'recording.started');
  assert.equal(eventTypeFor('active', 'starting'), 'recording.active');
  assert.equal(eventTypeFor('stopping', 'active'), 'recording.stopped');
  assert.equal(eventTypeFor('processing', 'stopping'), null);
  assert.equal(eventTypeFor('ready', 'processing'), 'recording.ready');
  assert.equal(eventTypeFor('failed', 'active'), 'recording.failed');
  assert.equal(eventTypeFor('paused', 'active'), 'recording.paused');
  assert.equal(eventTypeFor('active', 'paused'), 'recording.resumed');
  assert.equal(eventTypeFor('processing', 'paused'), 'recording.stopped', 'a paused recording stopped');
});
