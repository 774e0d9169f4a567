import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPlaceholder, isRtx } from './codecs.js';
import { parseOffer } from './offer.js';
import { publishRtpParameters } from './publish.js';
import { recordingRtpCapabilities } from './recording.js';
import { viewerProfile } from './viewer.js';
import { SUPPORTED_CODECS } from '../codecs.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_VIEW } from './fixtures/chromium.js';
import { OBS_30_PUBLISH } from './fixtures/obs.js';
import { consume, produce, routerCapabilities } from './fixtures/mediasoup.js';

const ROUTER = routerCapabilities(SUPPORTED_CODECS);

test('recording capabilities: no RTX, no transport-cc/goog-remb, no header extensions', () => {
  const caps = recordingRtpCapabilities(ROUTER);
  assert.deepEqual(caps.headerExtensions, []);
  assert.ok((caps.codecs ?? []).length > 0);
  assert.ok(!(caps.codecs ?? []).some(isRtx));
  for (const c of caps.codecs ?? []) {
    assert.ok(!(c.rtcpFeedback ?? []).some((f) => f.type === 'transport-cc' || f.type === 'goog-remb'), c.mimeType);
  }
  const vp8 = caps.codecs?.find((c) => c.mimeType === 'video/VP8');
  assert.deepEqual(
    vp8?.rtcpFeedback?.map((f) => `${f.type} ${f.parameter ?? ''}`.trim()),
    ['nack', 'nack pli', 'ccm fir'],
  );
  // The router's own capabilities are left alone.
  assert.ok((ROUTER.headerExtensions ?? []).length > 0);
  assert.ok((ROUTER.codecs ?? []).some(isRtx));
});

test('a recording consumer of a Chromium VP8 producer: one SSRC, no RTX, no extensions, no BWE feedback', () => {
  const params = publishRtpParameters(parseOffer(CHROMIUM_156_PUBLISH).media[1] ?? assert.fail(), ROUTER);
  assert.ok(params);
  const consumer = consume(produce('video', params, ROUTER), recordingRtpCapabilities(ROUTER));
  assert.ok(consumer);
  assert.deepEqual(
    consumer.codecs.map((c) => [c.mimeType, c.payloadType]),
    [['video/VP8', 96]],
  );
  assert.deepEqual(consumer.headerExtensions, []);
  assert.equal(consumer.encodings?.length, 1);
  assert.equal(consumer.encodings?.[0]?.rtx, undefined);
  assert.deepEqual(
    consumer.codecs[0]?.rtcpFeedback?.map((f) => f.type),
    ['nack', 'nack', 'ccm'],
  );
});

test("a recording consumer of an OBS H.264 producer keeps the publisher's fmtp", () => {
  const params = publishRtpParameters(parseOffer(OBS_30_PUBLISH).media[1] ?? assert.fail(), ROUTER);
  assert.ok(params);
  const consumer = consume(produce('video', params, ROUTER), recordingRtpCapabilities(ROUTER));
  assert.equal(consumer?.codecs[0]?.mimeType, 'video/H264');
  assert.equal(consumer?.codecs[0]?.parameters['profile-level-id'], '42e01f');
  assert.deepEqual(consumer?.headerExtensions, []);
});

test('placeholder codecs of a viewer-profile router are not recording codecs', () => {
  const router = routerCapabilities(viewerProfile(parseOffer(CHROMIUM_156_VIEW), SUPPORTED_CODECS).mediaCodecs);
  assert.ok((router.codecs ?? []).some(isPlaceholder));
  assert.ok(!(recordingRtpCapabilities(router).codecs ?? []).some(isPlaceholder));
});
