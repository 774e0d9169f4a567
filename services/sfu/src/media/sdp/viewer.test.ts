import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { types as ms } from 'mediasoup';
import * as sdpTransform from 'sdp-transform';
import { buildAnswer, type AnswerSection } from './answer.js';
import { isPlaceholder, isRtx, paramsOf, sameCodec } from './codecs.js';
import { parseOffer, type MediaOffer, type SessionOffer } from './offer.js';
import { publishRtpParameters } from './publish.js';
import { viewerProfile, viewerRtpCapabilities } from './viewer.js';
import { SUPPORTED_CODECS } from '../codecs.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_VIEW } from './fixtures/chromium.js';
import { CHROME_120_VIEW } from './fixtures/chrome.js';
import { FIREFOX_128_PUBLISH, FIREFOX_128_VIEW } from './fixtures/firefox.js';
import { SAFARI_17_PUBLISH, SAFARI_17_VIEW } from './fixtures/safari.js';
import { OBS_30_PUBLISH } from './fixtures/obs.js';
import { LIBWEBRTC_NATIVE_PUBLISH } from './fixtures/libwebrtc.js';
import { WRTC_010_VIEW } from './fixtures/wrtc.js';
import { LOCAL } from './fixtures/local.js';
import { consume, pipeTo, produce, routerCapabilities } from './fixtures/mediasoup.js';

const PUBLISHER_ROUTER = routerCapabilities(SUPPORTED_CODECS);

const PUBLISHERS: Record<string, string> = {
  'Chromium 156 (VP8)': CHROMIUM_156_PUBLISH,
  'Firefox 128 (VP8)': FIREFOX_128_PUBLISH,
  'Safari 17 (H.264 CB)': SAFARI_17_PUBLISH,
  'OBS 30 (H.264 CB)': OBS_30_PUBLISH,
  'libwebrtc native (H.264 CB)': LIBWEBRTC_NATIVE_PUBLISH,
};

interface ViewerCase {
  sdp: string;
  /** Whether every video codec of the profile gets the offer's RTX PT. */
  rtx: boolean;
  /**
   * "id uri" of the extensions the consumers carry, per kind. mediasoup's
   * getConsumerRtpParameters ignores the kind when it filters, so with one set of
   * capabilities for both kinds Firefox's audio consumer also gets abs-send-time 4.
   */
  extensions: { audio: string[]; video: string[] };
  /** The viewer decodes no H.264: an H.264 publisher's video cannot reach it (no transcoding). */
  noH264?: boolean;
}

const ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
const VIEWERS: Record<string, ViewerCase> = {
  'Chromium 156': { sdp: CHROMIUM_156_VIEW, rtx: true, extensions: { audio: [], video: [] } },
  'Chrome 120': { sdp: CHROME_120_VIEW, rtx: true, extensions: { audio: [], video: [] } },
  'Safari 17': { sdp: SAFARI_17_VIEW, rtx: true, extensions: { audio: [], video: [] } },
  'libwebrtc (wrtc 0.10, recorded)': { sdp: WRTC_010_VIEW, rtx: true, extensions: { audio: [], video: [] }, noH264: true },
  'Firefox 128': { sdp: FIREFOX_128_VIEW, rtx: false, extensions: { audio: [`4 ${ABS_SEND_TIME}`], video: [`4 ${ABS_SEND_TIME}`] } },
};

function sectionOf(offer: SessionOffer, kind: 'audio' | 'video'): MediaOffer {
  const m = offer.media.find((x) => x.kind === kind);
  assert.ok(m);
  return m;
}

/**
 * The whole WHEP path with mediasoup's own ORTC code: publish on the room router, pipe the
 * producer to the viewer's profile router, consume with viewerRtpCapabilities, answer.
 */
function watch(publisherSdp: string, viewerSdp: string, opts: { perProducer?: boolean } = {}) {
  const publisher = parseOffer(publisherSdp);
  const viewer = parseOffer(viewerSdp);
  const profile = viewerProfile(viewer, SUPPORTED_CODECS);
  const viewerRouter = routerCapabilities(profile.mediaCodecs); // throws if createRouter would
  const sections: AnswerSection[] = [];
  const consumers = new Map<string, ms.RtpParameters>();
  for (const vm of viewer.media) {
    const pm = sectionOf(publisher, vm.kind);
    const params = publishRtpParameters(pm, PUBLISHER_ROUTER);
    assert.ok(params);
    const piped = pipeTo(pm.kind, produce(pm.kind, params, PUBLISHER_ROUTER), viewerRouter);
    const caps = viewerRtpCapabilities(viewer, viewerRouter, opts.perProducer ? { kind: pm.kind, rtpParameters: params } : undefined);
    const consumer = consume(piped, caps);
    assert.ok(consumer, `${vm.kind} can be consumed`);
    consumers.set(vm.kind, consumer);
    sections.push({ type: 'send', mid: vm.mid, rtpParameters: consumer, streamId: 'room1' });
  }
  const text = buildAnswer(viewer, LOCAL, sections);
  return { viewer, profile, viewerRouter, consumers, text, answer: sdpTransform.parse(text) };
}

describe("WHEP end to end: every publisher × every viewer plays with the viewer's own numbering", () => {
  for (const [pubName, pubSdp] of Object.entries(PUBLISHERS)) {
    for (const [viewName, v] of Object.entries(VIEWERS)) {
      if (v.noH264 && pubName.includes('H.264')) {
        test(`${pubName} → ${viewName}: no video codec in common, so only audio is consumed`, () => {
          const publisher = parseOffer(pubSdp);
          const viewer = parseOffer(v.sdp);
          const viewerRouter = routerCapabilities(viewerProfile(viewer, SUPPORTED_CODECS).mediaCodecs);
          const caps = viewerRtpCapabilities(viewer, viewerRouter);
          for (const kind of ['audio', 'video'] as const) {
            const pm = sectionOf(publisher, kind);
            const params = publishRtpParameters(pm, PUBLISHER_ROUTER);
            assert.ok(params);
            const consumable = produce(kind, params, PUBLISHER_ROUTER);
            const viewerHasCodec = (viewerRouter.codecs ?? []).some((c) => !isRtx(c) && sameCodec(c, params.codecs[0]!));
            assert.equal(viewerHasCodec, kind === 'audio');
            if (kind === 'audio') assert.ok(consume(pipeTo(kind, consumable, viewerRouter), caps));
          }
        });
        continue;
      }
      test(`${pubName} → ${viewName}`, () => {
        const { viewer, consumers, answer } = watch(pubSdp, v.sdp);
        for (const kind of ['audio', 'video'] as const) {
          const consumer = consumers.get(kind);
          const offered = sectionOf(viewer, kind);
          assert.ok(consumer);
          const media = consumer.codecs.filter((c) => !isRtx(c));
          assert.equal(media.length, 1);
          const codec = media[0] as ms.RtpCodecParameters;
          // The consumer sends with the payload type the viewer's offer gave this codec…
          const target = offered.codecs.find((c) => c.payloadType === codec.payloadType);
          assert.ok(target && sameCodec(target, codec), `${kind}: ${codec.mimeType} PT ${codec.payloadType} is the offer's`);
          // …with RTX at the offer's RTX PT, or no RTX at all.
          const rtx = consumer.codecs.find(isRtx);
          if (kind === 'video' && v.rtx) {
            assert.equal(rtx?.payloadType, target.rtxPayloadType);
            assert.equal(paramsOf(rtx ?? { parameters: {} })['apt'], codec.payloadType);
            assert.ok(consumer.encodings?.[0]?.rtx);
          } else {
            assert.equal(rtx, undefined);
            assert.equal(consumer.encodings?.[0]?.rtx, undefined);
          }
          // Only extensions whose id the browser gave the same URI.
          assert.deepEqual(
            (consumer.headerExtensions ?? []).map((e) => `${e.id} ${e.uri}`),
            v.extensions[kind],
          );
          // Feedback only as offered; BWE feedback only with its extension.
          for (const fb of codec.rtcpFeedback ?? []) {
            assert.ok(
              target.rtcpFeedback.some((f) => f.type === fb.type && (f.parameter ?? '') === (fb.parameter ?? '')),
              `${fb.type} offered`,
            );
          }
          assert.ok(!(codec.rtcpFeedback ?? []).some((f) => f.type === 'transport-cc'));
          assert.equal(
            (codec.rtcpFeedback ?? []).some((f) => f.type === 'goog-remb'),
            kind === 'video' && v.extensions.video.length > 0,
          );
        }
        // …and the answer's audio section names no extension its offer did not have.
        for (const m of answer.media) {
          const o = viewer.media.find((x) => x.mid === String(m.mid));
          for (const ext of m.ext ?? []) assert.ok(o?.headerExtensions.some((e) => e.id === ext.value && e.uri === ext.uri));
        }
        // The answer: sendonly sections whose numbers are the offer's.
        assert.equal(answer.icelite, 'ice-lite');
        answer.media.forEach((m, i) => {
          const o = viewer.media[i];
          const consumer = o && consumers.get(o.kind);
          assert.ok(o && consumer);
          assert.equal(String(m.mid), o.mid);
          assert.equal(m.direction, 'sendonly');
          assert.deepEqual(
            String(m.payloads).split(' ').map(Number),
            consumer.codecs.map((c) => c.payloadType),
          );
          for (const ext of m.ext ?? []) assert.ok(o.headerExtensions.some((e) => e.id === ext.value && e.uri === ext.uri));
          const ssrc = consumer.encodings?.[0]?.ssrc;
          assert.ok(ssrc);
          assert.ok(m.ssrcs?.some((s) => Number(s.id) === ssrc && s.attribute === 'cname'));
          assert.ok(m.ssrcs?.some((s) => Number(s.id) === ssrc && s.attribute === 'msid' && s.value === `room1 ${o.kind}-${o.mid}`));
          assert.deepEqual(m.msid, [{ id: 'room1', appdata: `${o.kind}-${o.mid}` }]);
          const rtxSsrc = consumer.encodings?.[0]?.rtx?.ssrc;
          assert.deepEqual(m.ssrcGroups, rtxSsrc === undefined ? undefined : [{ semantics: 'FID', ssrcs: `${ssrc} ${rtxSsrc}` }]);
        });
      });
    }
  }

  test('Firefox gets RTX for a producer whose codec it could align (H.264), when asked per producer', () => {
    const h264 = watch(OBS_30_PUBLISH, FIREFOX_128_VIEW, { perProducer: true }).consumers.get('video');
    assert.deepEqual(
      h264?.codecs.map((c) => [c.mimeType, c.payloadType]),
      [
        ['video/H264', 126],
        ['video/rtx', 127],
      ],
    );
    // VP8 120 sits next to VP9 121, so its RTX cannot be 124: still no RTX, never a wrong one.
    const vp8 = watch(CHROMIUM_156_PUBLISH, FIREFOX_128_VIEW, { perProducer: true });
    assert.deepEqual(
      vp8.consumers.get('video')?.codecs.map((c) => [c.mimeType, c.payloadType]),
      [['video/VP8', 120]],
    );
    // Per producer, extensions are the producer's kind only: no abs-send-time on audio.
    assert.deepEqual(vp8.consumers.get('audio')?.headerExtensions, []);
    assert.deepEqual(
      vp8.consumers.get('video')?.headerExtensions?.map((e) => e.id),
      [4],
    );
  });

  test('an H.264 High publisher cannot be piped to a viewer router without High (Chromium 156 has none)', () => {
    const high = OBS_30_PUBLISH.replace('profile-level-id=42e01f', 'profile-level-id=640028');
    const pm = sectionOf(parseOffer(high), 'video');
    const params = publishRtpParameters(pm, PUBLISHER_ROUTER);
    assert.ok(params);
    const consumable = produce('video', params, PUBLISHER_ROUTER);
    const chromium = routerCapabilities(viewerProfile(parseOffer(CHROMIUM_156_VIEW), SUPPORTED_CODECS).mediaCodecs);
    assert.throws(() => pipeTo('video', consumable, chromium), /unsupported codec/);
    // Chrome 120 offers High 64001f at 112: that works, with RTX 113.
    const chrome120 = watch(high, CHROME_120_VIEW).consumers.get('video');
    assert.deepEqual(
      chrome120?.codecs.map((c) => c.payloadType),
      [112, 113],
    );
  });
});

describe('viewerProfile', () => {
  test('Chromium 156: offer PTs for every supported codec, every RTX aligned, router buildable', () => {
    const offer = parseOffer(CHROMIUM_156_VIEW);
    const profile = viewerProfile(offer, SUPPORTED_CODECS);
    assert.equal(
      profile.key,
      'audio/opus/48000/2=111,video/VP8/90000=96/97,video/VP9;profile-id=0=98/99,video/H264;pm=1;profile=42001f=102/103,' +
        'video/H264;pm=1;profile=42e01f=108/109,video/H264;pm=1;profile=4d001f=116/117',
    );
    assert.deepEqual([...profile.rtxAligned].sort(), [102, 108, 116, 96, 98].sort());
    const caps = routerCapabilities(profile.mediaCodecs);
    const real = (caps.codecs ?? []).filter((c) => !isPlaceholder(c));
    const pt = (mime: string, plid?: string) =>
      real.find((c) => c.mimeType === mime && !isRtx(c) && (plid === undefined || paramsOf(c)['profile-level-id'] === plid))
        ?.preferredPayloadType;
    assert.deepEqual(
      [
        pt('audio/opus'),
        pt('video/VP8'),
        pt('video/VP9'),
        pt('video/H264', '42001f'),
        pt('video/H264', '42e01f'),
        pt('video/H264', '4d001f'),
      ],
      [111, 96, 98, 102, 108, 116],
    );
    assert.equal(pt('video/H264', '640032'), undefined, 'this Chromium build offers no High profile');
  });

  test('the key depends only on the numbering', () => {
    const again = CHROMIUM_156_VIEW.replaceAll('LAfY', 'ZZzz').replace(/o=- \d+/, 'o=- 42');
    const k = (sdp: string) => viewerProfile(parseOffer(sdp), SUPPORTED_CODECS).key;
    assert.equal(k(again), k(CHROMIUM_156_VIEW));
    assert.notEqual(k(CHROME_120_VIEW), k(CHROMIUM_156_VIEW));
    assert.notEqual(k(FIREFOX_128_VIEW), k(SAFARI_17_VIEW));
    assert.deepEqual(
      viewerProfile(parseOffer(CHROMIUM_156_VIEW), SUPPORTED_CODECS).mediaCodecs,
      viewerProfile(parseOffer(again), SUPPORTED_CODECS).mediaCodecs,
    );
  });

  test('Firefox 128: RTX aligned for H.264 only; Safari 17: all', () => {
    assert.deepEqual([...viewerProfile(parseOffer(FIREFOX_128_VIEW), SUPPORTED_CODECS).rtxAligned].sort(), [105, 126]);
    assert.deepEqual([...viewerProfile(parseOffer(SAFARI_17_VIEW), SUPPORTED_CODECS).rtxAligned].sort(), [102, 104, 98].sort());
  });

  test('a publisher offer (sendonly) accepts nothing to view', () => {
    const profile = viewerProfile(parseOffer(CHROMIUM_156_PUBLISH), SUPPORTED_CODECS);
    assert.deepEqual([profile.key, profile.mediaCodecs], ['', []]);
  });

  test('a numbering mediasoup cannot build drops the least preferred video codec', () => {
    // VP8 at 100 and VP9 at 101: whichever mediasoup numbers first, its RTX takes the other's PT.
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 0.0.0.0',
      's=-',
      't=0 0',
      'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':'),
      'a=ice-ufrag:abcd',
      'a=ice-pwd:abcdefghijklmnopqrstuv',
      'm=video 9 UDP/TLS/RTP/SAVPF 100 101 102 103',
      'a=mid:v',
      'a=recvonly',
      'a=rtpmap:100 VP8/90000',
      'a=rtpmap:101 VP9/90000',
      'a=rtpmap:102 rtx/90000',
      'a=fmtp:102 apt=100',
      'a=rtpmap:103 rtx/90000',
      'a=fmtp:103 apt=101',
    ].join('\r\n');
    const offer = parseOffer(sdp);
    assert.deepEqual(
      offer.media[0]?.codecs.map((c) => [c.mimeType, c.payloadType, c.rtxPayloadType]),
      [
        ['video/VP8', 100, 102],
        ['video/VP9', 101, 103],
      ],
    );
    const profile = viewerProfile(offer, SUPPORTED_CODECS);
    assert.equal(profile.key, 'video/VP8/90000=100/102');
    const caps = routerCapabilities(profile.mediaCodecs);
    assert.equal((caps.codecs ?? []).find((c) => c.mimeType === 'video/VP8')?.preferredPayloadType, 100);
    // Its RTX cannot be 102 either: 101 comes first in mediasoup's list and only a placeholder
    // placed before VP8 could take it — but the list's head is then VP8's own 100.
    assert.deepEqual(profile.rtxAligned, []);
  });
});

describe('viewerRtpCapabilities', () => {
  test('on the publisher router a Chromium viewer keeps only the codecs numbered alike, without RTX', () => {
    const caps = viewerRtpCapabilities(parseOffer(CHROMIUM_156_VIEW), PUBLISHER_ROUTER);
    assert.deepEqual(
      caps.codecs?.map((c) => [c.mimeType, c.preferredPayloadType]),
      [
        ['audio/opus', 111],
        ['video/VP8', 96],
        ['video/VP9', 98],
        ['video/H264', 102],
      ],
    );
    assert.deepEqual(caps.headerExtensions, []);
    // A Chromium VP8 producer consumed from the publisher router with these caps: PT 96, no RTX.
    const params = publishRtpParameters(sectionOf(parseOffer(CHROMIUM_156_PUBLISH), 'video'), PUBLISHER_ROUTER);
    assert.ok(params);
    const consumer = consume(produce('video', params, PUBLISHER_ROUTER), caps);
    assert.deepEqual(
      consumer?.codecs.map((c) => c.payloadType),
      [96],
    );
  });

  test('RTCP feedback is limited to what the offer lists', () => {
    const sdp = CHROMIUM_156_VIEW.replaceAll('a=rtcp-fb:96 goog-remb\r\n', '').replaceAll('a=rtcp-fb:96 ccm fir\r\n', '');
    const offer = parseOffer(sdp);
    const caps = viewerRtpCapabilities(offer, routerCapabilities(viewerProfile(offer, SUPPORTED_CODECS).mediaCodecs));
    const vp8 = caps.codecs?.find((c) => c.mimeType === 'video/VP8');
    assert.deepEqual(vp8?.rtcpFeedback, [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'transport-cc' }]);
  });

  test('an offer that numbers transport-cc as mediasoup does (5) gets it, and goog-remb gives way', () => {
    const sdp = CHROMIUM_156_VIEW.replace(
      'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
      'a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    );
    const offer = parseOffer(sdp);
    const router = routerCapabilities(viewerProfile(offer, SUPPORTED_CODECS).mediaCodecs);
    const caps = viewerRtpCapabilities(offer, router);
    assert.deepEqual(
      caps.headerExtensions?.map((e) => [e.kind, e.preferredId]),
      [['video', 5]],
    );
    const params = publishRtpParameters(sectionOf(parseOffer(CHROMIUM_156_PUBLISH), 'video'), PUBLISHER_ROUTER);
    assert.ok(params);
    const consumer = consume(pipeTo('video', produce('video', params, PUBLISHER_ROUTER), router), caps);
    assert.deepEqual(
      consumer?.headerExtensions?.map((e) => e.id),
      [5],
    );
    const fb = consumer?.codecs[0]?.rtcpFeedback?.map((f) => f.type);
    assert.ok(fb?.includes('transport-cc') && !fb.includes('goog-remb'));
  });

  test("the MID extension is never offered, even at mediasoup's id (consumer mids are a counter)", () => {
    const sdp = FIREFOX_128_VIEW.replaceAll(
      'a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid',
    ).replace('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=extmap:10 urn:ietf:params:rtp-hdrext:ssrc-audio-level');
    const offer = parseOffer(sdp);
    const caps = viewerRtpCapabilities(offer, routerCapabilities(viewerProfile(offer, SUPPORTED_CODECS).mediaCodecs));
    assert.deepEqual(
      caps.headerExtensions?.map((e) => [e.kind, e.preferredId, e.uri]),
      [
        ['audio', 10, 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'],
        ['video', 4, ABS_SEND_TIME],
      ],
    );
  });

  test('placeholder codecs of the profile router never reach the capabilities', () => {
    const offer = parseOffer(CHROMIUM_156_VIEW);
    const router = routerCapabilities(viewerProfile(offer, SUPPORTED_CODECS).mediaCodecs);
    assert.ok((router.codecs ?? []).some(isPlaceholder));
    assert.ok(!(viewerRtpCapabilities(offer, router).codecs ?? []).some(isPlaceholder));
  });
});

describe('buildAnswer for a WHEP section with nothing to send yet', () => {
  test("send-idle answers the capabilities' codecs (offer PTs) and msid, without SSRCs", () => {
    const offer = parseOffer(CHROMIUM_156_VIEW);
    const caps = viewerRtpCapabilities(offer, routerCapabilities(viewerProfile(offer, SUPPORTED_CODECS).mediaCodecs));
    const text = buildAnswer(offer, LOCAL, [
      { type: 'send-idle', mid: '0', kind: 'audio', rtpCapabilities: caps },
      { type: 'send-idle', mid: '1', kind: 'video', rtpCapabilities: caps, streamId: 'room1' },
    ]);
    const answer = sdpTransform.parse(text);
    assert.deepEqual(
      answer.media.map((m) => [m.direction, String(m.payloads)]),
      [
        ['sendonly', '111'],
        ['sendonly', '102 103 108 109 116 117 96 97 98 99'],
      ],
    );
    assert.equal(answer.media[1]?.ssrcs, undefined);
    assert.deepEqual(answer.media[1]?.msid, [{ id: 'room1', appdata: 'video-1' }]);
    assert.deepEqual(answer.media[0]?.msid, [{ id: 'live', appdata: 'audio-0' }]);
  });

  test('send-idle with capabilities the offer cannot take is rejected', () => {
    const offer = parseOffer(CHROMIUM_156_VIEW);
    const text = buildAnswer(offer, LOCAL, [{ type: 'send-idle', mid: '1', kind: 'video', rtpCapabilities: PUBLISHER_ROUTER }]);
    // The publisher router numbers VP8/VP9/H.264 42001f like Chromium, so those stay; of its
    // RTX PTs (100, 101, 103) only 103 is Chromium's RTX for 102.
    assert.match(text, /m=video 40112 UDP\/TLS\/RTP\/SAVPF 96 98 102 103\r\n/);
    const none = buildAnswer(offer, LOCAL, [{ type: 'send-idle', mid: '1', kind: 'video', rtpCapabilities: { codecs: [] } }]);
    assert.match(none, /m=video 0 /);
  });

  test('a consumer on the wrong router (publisher PTs) is refused instead of answered wrongly', () => {
    const offer = parseOffer(FIREFOX_128_VIEW);
    const params = publishRtpParameters(sectionOf(parseOffer(CHROMIUM_156_PUBLISH), 'video'), PUBLISHER_ROUTER);
    assert.ok(params);
    const consumable = produce('video', params, PUBLISHER_ROUTER); // VP8 at the router's 96
    const consumer = consume(consumable, { codecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }] });
    assert.ok(consumer);
    assert.throws(
      () => buildAnswer(offer, LOCAL, [{ type: 'send', mid: '1', rtpParameters: consumer, streamId: 'room1' }]),
      /payload type 96, which m-section "1" does not offer/,
    );
  });
});
