import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { types as ms } from 'mediasoup';
import { sameCodec } from './codecs.js';
import { SdpError } from './errors.js';
import { parseOffer, type MediaOffer } from './offer.js';
import { publishRtpParameters } from './publish.js';
import { SUPPORTED_CODECS } from '../codecs.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_SIMULCAST, CHROMIUM_156_VIEW } from './fixtures/chromium.js';
import { FIREFOX_128_PUBLISH } from './fixtures/firefox.js';
import { SAFARI_17_PUBLISH } from './fixtures/safari.js';
import { OBS_30_PUBLISH } from './fixtures/obs.js';
import { LIBWEBRTC_NATIVE_PUBLISH } from './fixtures/libwebrtc.js';
import { produce, routerCapabilities } from './fixtures/mediasoup.js';

const ROUTER = routerCapabilities(SUPPORTED_CODECS);

function media(sdp: string, mid: string): MediaOffer {
  const m = parseOffer(sdp).media.find((x) => x.mid === mid);
  assert.ok(m);
  return m;
}

/** publishRtpParameters, then proof that mediasoup's produce() accepts the result. */
function publish(sdp: string, mid: string, caps: ms.RtpCapabilities = ROUTER): ms.RtpParameters {
  const m = media(sdp, mid);
  const params = publishRtpParameters(m, caps);
  assert.ok(params, `no parameters for ${mid}`);
  const consumable = produce(m.kind, params, caps);
  // mediasoup mapped the offer's payload type onto the router codec we matched it with.
  const offered = params.codecs[0];
  assert.ok(offered);
  const routerCodec = (caps.codecs ?? []).find((c) => sameCodec(offered, c));
  assert.equal(consumable.codecs[0]?.payloadType, routerCodec?.preferredPayloadType);
  return params;
}

const codecSummary = (p: ms.RtpParameters) => p.codecs.map((c) => [c.mimeType, c.payloadType]);
const extIds = (p: ms.RtpParameters) => (p.headerExtensions ?? []).map((e) => [e.id, e.uri]);

describe('publishRtpParameters per publisher', () => {
  test('Chromium 156: VP8 96 + RTX 97 with the FID pair; opus 111; offer ids kept', () => {
    const video = publish(CHROMIUM_156_PUBLISH, '1');
    assert.equal(video.mid, '1');
    assert.deepEqual(codecSummary(video), [
      ['video/VP8', 96],
      ['video/rtx', 97],
    ]);
    assert.deepEqual(video.codecs[1]?.parameters, { apt: 96 });
    assert.deepEqual(video.codecs[0]?.rtcpFeedback, [
      { type: 'goog-remb' },
      { type: 'transport-cc' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack' },
      { type: 'nack', parameter: 'pli' },
    ]);
    assert.deepEqual(video.encodings, [{ ssrc: 1552771952, rtx: { ssrc: 1070163195 } }]);
    assert.deepEqual(video.rtcp, { cname: 'VpojAShwyQsb5jiV', reducedSize: true, mux: true });
    // Only URIs mediasoup knows for video; ids as Chromium numbered them.
    assert.deepEqual(extIds(video), [
      [14, 'urn:ietf:params:rtp-hdrext:toffset'],
      [2, 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'],
      [13, 'urn:3gpp:video-orientation'],
      [3, 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'],
      [4, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
      [10, 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'],
      [11, 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id'],
    ]);

    const audio = publish(CHROMIUM_156_PUBLISH, '0');
    assert.deepEqual(codecSummary(audio), [['audio/opus', 111]]);
    assert.equal(audio.codecs[0]?.channels, 2);
    assert.deepEqual(audio.codecs[0]?.parameters, { minptime: 10, useinbandfec: 1 });
    assert.deepEqual(audio.encodings, [{ ssrc: 2222923372 }]);
    assert.deepEqual(
      extIds(audio).map(([id]) => id),
      [1, 2, 3, 4],
    );
  });

  test('Chromium 156 simulcast: one encoding per RID, low to high, L1T3, no SSRCs', () => {
    const video = publish(CHROMIUM_156_SIMULCAST, '1');
    assert.deepEqual(video.encodings, [
      { rid: 'q', scalabilityMode: 'L1T3' },
      { rid: 'h', scalabilityMode: 'L1T3' },
      { rid: 'f', scalabilityMode: 'L1T3' },
    ]);
    assert.deepEqual(codecSummary(video), [
      ['video/VP8', 96],
      ['video/rtx', 97],
    ]);
  });

  test('RIDs with max-width are ordered lowest first for mediasoup', () => {
    const text = CHROMIUM_156_SIMULCAST.replace('a=rid:q send', 'a=rid:q send max-width=1280')
      .replace('a=rid:h send', 'a=rid:h send max-width=320')
      .replace('a=rid:f send', 'a=rid:f send max-width=640');
    assert.deepEqual(
      publish(text, '1').encodings?.map((e) => e.rid),
      ['h', 'f', 'q'],
    );
  });

  test('legacy SSRC simulcast (a=ssrc-group:SIM) gives one encoding per SSRC with its RTX', () => {
    const text = OBS_30_PUBLISH.replace(
      'a=ssrc:1823746502 cname:xT7qL2vB9mKc4RwE',
      'a=ssrc-group:SIM 11 22\r\na=ssrc-group:FID 11 12\r\na=ssrc-group:FID 22 23\r\na=ssrc:11 cname:c\r\na=ssrc:12 cname:c\r\na=ssrc:22 cname:c\r\na=ssrc:23 cname:c',
    )
      .replace('m=video 9 UDP/TLS/RTP/SAVPF 96', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97')
      .concat('a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n');
    assert.deepEqual(publish(text, '1').encodings, [
      { ssrc: 11, rtx: { ssrc: 12 }, scalabilityMode: 'L1T3' },
      { ssrc: 22, rtx: { ssrc: 23 }, scalabilityMode: 'L1T3' },
    ]);
  });

  test('Firefox 128: VP8 120 + RTX 124, opus 109, csrc-audio-level dropped', () => {
    const video = publish(FIREFOX_128_PUBLISH, '1');
    assert.deepEqual(codecSummary(video), [
      ['video/VP8', 120],
      ['video/rtx', 124],
    ]);
    assert.deepEqual(video.codecs[0]?.parameters, { 'max-fs': 12288, 'max-fr': 60 });
    assert.deepEqual(video.encodings, [{ ssrc: 1350236544, rtx: { ssrc: 3071547232 } }]);
    // playout-delay is not a mediasoup URI; the others keep Firefox's ids.
    assert.deepEqual(
      extIds(video).map(([id]) => id),
      [3, 4, 5, 7],
    );
    const audio = publish(FIREFOX_128_PUBLISH, '0');
    assert.deepEqual(codecSummary(audio), [['audio/opus', 109]]);
    assert.deepEqual(extIds(audio), [
      [1, 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'],
      [3, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
    ]);
    assert.equal(audio.rtcp?.cname, '{6e0d2b94-7c3a-4f18-a5e2-0b9d3c7f1e68}');
  });

  test('Safari 17: Constrained High 96 is skipped, Constrained Baseline 98 + RTX 99 chosen', () => {
    const video = publish(SAFARI_17_PUBLISH, '1');
    assert.deepEqual(codecSummary(video), [
      ['video/H264', 98],
      ['video/rtx', 99],
    ]);
    assert.equal(video.codecs[0]?.parameters['profile-level-id'], '42e01f');
    assert.deepEqual(video.encodings, [{ ssrc: 2750381946, rtx: { ssrc: 418265073 } }]);
  });

  test('OBS 30: H.264 96 packetization-mode 1 without RTX, routed by SSRC', () => {
    const video = publish(OBS_30_PUBLISH, '1');
    assert.deepEqual(video.codecs, [
      {
        mimeType: 'video/H264',
        payloadType: 96,
        clockRate: 90000,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
        // goog-remb is kept: the router supports it and OBS listed it.
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }],
      },
    ]);
    assert.deepEqual(video.headerExtensions, []);
    assert.deepEqual(video.encodings, [{ ssrc: 1823746502 }]);
    assert.deepEqual(video.rtcp, { cname: 'xT7qL2vB9mKc4RwE', reducedSize: false, mux: true });
    const audio = publish(OBS_30_PUBLISH, '0');
    assert.deepEqual(audio.codecs[0]?.parameters, {
      minptime: 10,
      maxaveragebitrate: 96000,
      stereo: 1,
      'sprop-stereo': 1,
      useinbandfec: 1,
    });
  });

  test('libwebrtc native client: mid "video", H.264 Constrained Baseline 98 after Constrained High', () => {
    const video = publish(LIBWEBRTC_NATIVE_PUBLISH, 'video');
    assert.equal(video.mid, 'video');
    assert.deepEqual(codecSummary(video), [
      ['video/H264', 98],
      ['video/rtx', 99],
    ]);
  });

  test('a router with H.264 High takes a High publisher as High', () => {
    const text = OBS_30_PUBLISH.replace('profile-level-id=42e01f', 'profile-level-id=640028');
    const params = publish(text, '1');
    assert.equal(params.codecs[0]?.parameters['profile-level-id'], '640028');
  });
});

describe('publishRtpParameters: nothing usable', () => {
  test('null for a recvonly (viewer) section and for a rejected section', () => {
    assert.equal(publishRtpParameters(media(CHROMIUM_156_VIEW, '1'), ROUTER), null);
    const rejected = parseOffer(OBS_30_PUBLISH.replace('m=video 9', 'm=video 0')).media[1];
    assert.ok(rejected);
    assert.equal(publishRtpParameters(rejected, ROUTER), null);
  });

  test('null when the router lacks the codec, profile or packetization mode', () => {
    const vp8Only = routerCapabilities([{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }]);
    assert.equal(publishRtpParameters(media(OBS_30_PUBLISH, '1'), vp8Only), null);
    assert.equal(publishRtpParameters(media(OBS_30_PUBLISH, '0'), vp8Only), null);
    const pm0 = OBS_30_PUBLISH.replace('packetization-mode=1', 'packetization-mode=0');
    assert.equal(publishRtpParameters(media(pm0, '1'), ROUTER), null);
    const vp9p2 = FIREFOX_128_PUBLISH.replace(
      /m=video 50482 UDP\/TLS\/RTP\/SAVPF [0-9 ]+/,
      'm=video 50482 UDP/TLS/RTP/SAVPF 121 125',
    ).replace('a=fmtp:121 max-fs=12288;max-fr=60', 'a=fmtp:121 profile-id=2');
    assert.equal(publishRtpParameters(media(vp9p2, '1'), ROUTER), null);
  });

  test('RTX is left out when the router has none for that codec (audio)', () => {
    const text = OBS_30_PUBLISH.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 112').replace(
      'a=rtpmap:111 opus/48000/2',
      'a=rtpmap:111 opus/48000/2\r\na=rtpmap:112 rtx/48000\r\na=fmtp:112 apt=111',
    );
    assert.deepEqual(codecSummary(publish(text, '0')), [['audio/opus', 111]]);
  });

  test('a section with no SSRC, no RIDs and no MID extension cannot be routed: bad_sdp', () => {
    const text = OBS_30_PUBLISH.replace('a=ssrc:1823746502 cname:xT7qL2vB9mKc4RwE\r\n', '');
    assert.throws(
      () => publishRtpParameters(media(text, '1'), ROUTER),
      (e: unknown) => e instanceof SdpError && e.code === 'bad_sdp' && /could not be routed/.test(e.message),
    );
  });

  test('without SSRCs the MID extension is enough (mediasoup routes by MID)', () => {
    const text = CHROMIUM_156_PUBLISH.replace(/a=ssrc[^\r]*\r\n/g, '');
    const params = publish(text, '1');
    assert.deepEqual(params.encodings, [{}]);
    assert.equal(params.mid, '1');
  });
});
