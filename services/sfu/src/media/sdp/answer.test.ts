import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sdpTransform from 'sdp-transform';
import * as ortc from 'mediasoup/lib/ortc.js';
import { buildAnswer, remoteDtlsParameters, type AnswerSection, type LocalTransport } from './answer.js';
import { parseOffer, type OfferedCodec, type SessionOffer } from './offer.js';
import { publishRtpParameters } from './publish.js';
import { SUPPORTED_CODECS } from '../codecs.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_SIMULCAST } from './fixtures/chromium.js';
import { FIREFOX_128_PUBLISH } from './fixtures/firefox.js';
import { SAFARI_17_PUBLISH } from './fixtures/safari.js';
import { OBS_30_PUBLISH } from './fixtures/obs.js';
import { LIBWEBRTC_NATIVE_PUBLISH } from './fixtures/libwebrtc.js';
import { LOCAL } from './fixtures/local.js';
import { routerCapabilities } from './fixtures/mediasoup.js';

const ROUTER = routerCapabilities(SUPPORTED_CODECS);
const SHA256 = LOCAL.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');

/** What the WHIP glue does: publish every sending section, reject the rest. */
function whipSections(offer: SessionOffer): AnswerSection[] {
  return offer.media.map((m): AnswerSection => {
    const rtpParameters = publishRtpParameters(m, ROUTER);
    return rtpParameters ? { type: 'recv', mid: m.mid, rtpParameters } : { type: 'rejected', mid: m.mid };
  });
}

function roundTrip(sdp: string, local: LocalTransport = LOCAL) {
  const offer = parseOffer(sdp);
  const sections = whipSections(offer);
  const text = buildAnswer(offer, local, sections);
  return { offer, sections, text, answer: sdpTransform.parse(text) };
}

/** Checks every publisher answer must satisfy: transport, mids, PTs and ids from the offer. */
function assertWhipAnswer(sdp: string): ReturnType<typeof roundTrip> {
  const r = roundTrip(sdp);
  const { offer, answer, sections, text } = r;
  assert.ok(text.endsWith('\r\n') && !/[^\r]\n/.test(text), 'CRLF line endings');
  assert.equal(answer.icelite, 'ice-lite');
  assert.deepEqual(answer.groups, [{ type: 'BUNDLE', mids: offer.media.map((m) => m.mid).join(' ') }]);
  assert.equal(answer.media.length, offer.sections.length);
  answer.media.forEach((m, i) => {
    const o = offer.media[i];
    const s = sections[i];
    assert.ok(o && s && s.type === 'recv');
    assert.equal(String(m.mid), o.mid, 'same mid, same order');
    assert.equal(m.type, o.kind);
    assert.equal(m.port, 40112, 'default candidate port');
    assert.equal(m.connection?.ip, '203.0.113.10');
    assert.equal(m.setup, 'passive');
    assert.equal(String(m.iceUfrag), LOCAL.iceParameters.usernameFragment);
    assert.equal(m.icePwd, LOCAL.iceParameters.password);
    assert.deepEqual(m.fingerprint, { type: 'sha-256', hash: SHA256?.value });
    assert.equal(m.candidates?.length, 2);
    assert.equal(m.endOfCandidates, 'end-of-candidates');
    assert.equal(m.rtcpMux, 'rtcp-mux');
    assert.equal(m.rtcpRsize === 'rtcp-rsize', o.rtcpReducedSize, 'rtcp-rsize only when offered');
    assert.equal(m.direction, 'recvonly');
    // Payload types and extension ids are the offer's.
    const pts = String(m.payloads).split(' ').map(Number);
    assert.deepEqual(
      pts,
      s.rtpParameters.codecs.map((c) => c.payloadType),
    );
    for (const rtp of m.rtp) {
      const offered: OfferedCodec | undefined =
        o.codecs.find((c) => c.payloadType === rtp.payload) ?? o.codecs.find((c) => c.rtxPayloadType === rtp.payload);
      assert.ok(offered, `PT ${rtp.payload} is offered`);
      if (offered.payloadType === rtp.payload) assert.equal(`${o.kind}/${rtp.codec}`.toLowerCase(), offered.mimeType.toLowerCase());
      else assert.equal(rtp.codec, 'rtx');
    }
    for (const ext of m.ext ?? [])
      assert.ok(
        o.headerExtensions.some((e) => e.id === ext.value && e.uri === ext.uri),
        `extmap ${ext.value}`,
      );
    assert.deepEqual(
      (m.ext ?? []).map((e) => e.value),
      (s.rtpParameters.headerExtensions ?? []).map((e) => e.id),
    );
  });
  return r;
}

describe('buildAnswer for WHIP publishers (round trip through sdp-transform)', () => {
  test('Chromium 156: VP8 96/rtx 97, opus 111, Chromium extension ids, no extmap-allow-mixed', () => {
    const { answer, text } = assertWhipAnswer(CHROMIUM_156_PUBLISH);
    const video = answer.media[1];
    assert.deepEqual(video?.rtp, [
      { payload: 96, codec: 'VP8', rate: 90000 },
      { payload: 97, codec: 'rtx', rate: 90000 },
    ]);
    assert.deepEqual(video?.fmtp, [{ payload: 97, config: 'apt=96' }]);
    assert.deepEqual(
      video?.rtcpFb?.map((f) => `${f.payload} ${f.type}${f.subtype ? ` ${f.subtype}` : ''}`),
      ['96 goog-remb', '96 transport-cc', '96 ccm fir', '96 nack', '96 nack pli'],
    );
    assert.deepEqual(answer.media[0]?.rtp, [{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }]);
    assert.deepEqual(answer.media[0]?.fmtp, [{ payload: 111, config: 'minptime=10;useinbandfec=1' }]);
    assert.ok(!text.includes('extmap-allow-mixed'));
    assert.deepEqual(
      answer.media[1]?.candidates?.map((c) => [c.transport, c.port, c.type, c.tcptype]),
      [
        ['udp', 40112, 'host', undefined],
        ['tcp', 40113, 'host', 'passive'],
      ],
    );
  });

  test("Chromium 156 simulcast: a=rid recv and a=simulcast:recv in the offer's order", () => {
    const { answer } = assertWhipAnswer(CHROMIUM_156_SIMULCAST);
    const video = answer.media[1];
    assert.deepEqual(video?.rids, [
      { id: 'q', direction: 'recv' },
      { id: 'h', direction: 'recv' },
      { id: 'f', direction: 'recv' },
    ]);
    assert.deepEqual(video?.simulcast, { dir1: 'recv', list1: 'q;h;f' });
  });

  test('Firefox 128: VP8 120/rtx 124, opus 109, Firefox ids (3, 4, 5, 7)', () => {
    const { answer } = assertWhipAnswer(FIREFOX_128_PUBLISH);
    assert.deepEqual(String(answer.media[1]?.payloads), '120 124');
    assert.deepEqual(
      answer.media[1]?.ext?.map((e) => e.value),
      [3, 4, 5, 7],
    );
    assert.deepEqual(String(answer.media[0]?.payloads), '109');
  });

  test('Safari 17: H.264 98/rtx 99 with its fmtp', () => {
    const { answer } = assertWhipAnswer(SAFARI_17_PUBLISH);
    assert.equal(String(answer.media[1]?.payloads), '98 99');
    assert.deepEqual(answer.media[1]?.fmtp, [
      { payload: 98, config: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
      { payload: 99, config: 'apt=98' },
    ]);
  });

  test('OBS 30: H.264 96 and opus 111, no rtcp-rsize, no extensions', () => {
    const { answer, text } = assertWhipAnswer(OBS_30_PUBLISH);
    assert.equal(String(answer.media[1]?.payloads), '96');
    assert.equal(answer.media[1]?.ext, undefined);
    assert.ok(!text.includes('a=rtcp-rsize'));
    assert.ok(!text.includes('group:LS'));
  });

  test('libwebrtc native client: BUNDLE of non-numeric mids', () => {
    const { answer } = assertWhipAnswer(LIBWEBRTC_NATIVE_PUBLISH);
    assert.deepEqual(answer.groups, [{ type: 'BUNDLE', mids: 'audio video' }]);
    assert.deepEqual(
      answer.media.map((m) => m.mid),
      ['audio', 'video'],
    );
  });
});

describe('buildAnswer: rejected sections, transport details, misuse', () => {
  test('the answer is the same after produce() has mutated the parameters in place', () => {
    // Transport.produce() validates (fills defaults into) and maps the very object the glue
    // later hands to buildAnswer.
    for (const sdp of [CHROMIUM_156_PUBLISH, OBS_30_PUBLISH, SAFARI_17_PUBLISH]) {
      const offer = parseOffer(sdp);
      const pristine = buildAnswer(offer, LOCAL, whipSections(offer));
      const sections = whipSections(offer);
      for (const s of sections) {
        if (s.type !== 'recv') continue;
        ortc.validateRtpParameters(s.rtpParameters);
        ortc.getProducerRtpParametersMapping(s.rtpParameters, structuredClone(ROUTER));
      }
      assert.equal(buildAnswer(offer, LOCAL, sections), pristine);
    }
  });

  test('rejected and unanswered m-sections get port 0, a=inactive, and leave the BUNDLE group', () => {
    const sdp =
      CHROMIUM_156_PUBLISH + 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n';
    const offer = parseOffer(sdp.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2'));
    const video = offer.media[1];
    assert.ok(video);
    const params = publishRtpParameters(video, ROUTER);
    assert.ok(params);
    const text = buildAnswer(offer, LOCAL, [
      { type: 'rejected', mid: '0' },
      { type: 'recv', mid: '1', rtpParameters: params },
    ]);
    const answer = sdpTransform.parse(text);
    // sdp-transform turns the lone mid "1" into a number.
    assert.deepEqual(
      answer.groups?.map((g) => [g.type, String(g.mids)]),
      [['BUNDLE', '1']],
    );
    assert.deepEqual(
      answer.media.map((m) => [m.type, m.port, String(m.mid), m.direction ?? '']),
      [
        ['audio', 0, '0', 'inactive'],
        ['video', 40112, '1', 'recvonly'],
        ['application', 0, '2', 'inactive'],
      ],
    );
    assert.ok(text.includes('m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n'));
    assert.ok(text.includes('m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n'));
  });

  test("the BUNDLE group keeps the offer's order, so the tagged m-section stays the offerer's", () => {
    const offer = parseOffer(OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 1 0'));
    const answer = sdpTransform.parse(buildAnswer(offer, LOCAL, whipSections(offer)));
    assert.deepEqual(answer.groups, [{ type: 'BUNDLE', mids: '1 0' }]);
    assert.deepEqual(
      answer.media.map((m) => String(m.mid)),
      ['0', '1'],
    );
  });

  test('the answer uses the hash the offer used (SHA-1 here)', () => {
    const fp20 = Array.from({ length: 20 }, (_, i) => (i + 16).toString(16).toUpperCase()).join(':');
    const offer = parseOffer(OBS_30_PUBLISH.replace(/a=fingerprint:.*\r\n/, `a=fingerprint:sha-1 ${fp20}\r\n`));
    const answer = sdpTransform.parse(buildAnswer(offer, LOCAL, whipSections(offer)));
    assert.equal(answer.media[0]?.fingerprint?.type, 'sha-1');
    assert.equal(answer.media[0]?.fingerprint?.hash, LOCAL.dtlsParameters.fingerprints[0]?.value);
  });

  test('IPv6-only and candidate-less transports still give valid m/c lines', () => {
    const v6: LocalTransport = {
      ...LOCAL,
      iceCandidates: [
        { foundation: 'v6', priority: 1, ip: '2001:db8::10', protocol: 'udp', port: 41000, type: 'host', tcpType: undefined },
      ],
    };
    const a6 = sdpTransform.parse(buildAnswer(parseOffer(OBS_30_PUBLISH), v6, whipSections(parseOffer(OBS_30_PUBLISH))));
    assert.deepEqual([a6.media[0]?.port, a6.media[0]?.connection], [41000, { version: 6, ip: '2001:db8::10' }]);
    const none: LocalTransport = { ...LOCAL, iceCandidates: [] };
    const a0 = sdpTransform.parse(buildAnswer(parseOffer(OBS_30_PUBLISH), none, whipSections(parseOffer(OBS_30_PUBLISH))));
    assert.deepEqual([a0.media[0]?.port, a0.media[0]?.connection?.ip], [9, '0.0.0.0']);
  });

  test('a single unbundled m-section is answered without a BUNDLE group', () => {
    const sdp = OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1\r\n', '').split('m=video')[0] as string;
    const offer = parseOffer(sdp);
    const text = buildAnswer(offer, LOCAL, whipSections(offer));
    assert.ok(!text.includes('a=group:BUNDLE'));
    assert.equal(sdpTransform.parse(text).media[0]?.direction, 'recvonly');
  });

  test('the o= session id is stable per transport', () => {
    const offer = parseOffer(OBS_30_PUBLISH);
    const a = buildAnswer(offer, LOCAL, whipSections(offer));
    const b = buildAnswer(offer, LOCAL, whipSections(offer));
    assert.equal(a, b);
    assert.match(a, /^v=0\r\no=- \d+ 2 IN IP4 127\.0\.0\.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n/);
  });

  test("remoteDtlsParameters(): role client (the answer is a=setup:passive) and the offer's fingerprints", () => {
    const offer = parseOffer(FIREFOX_128_PUBLISH);
    assert.deepEqual(remoteDtlsParameters(offer), {
      role: 'client',
      fingerprints: [
        { algorithm: 'sha-256', value: 'D1:7C:0E:58:22:9A:B3:41:6F:E8:05:7D:C4:93:2A:B6:18:E0:5F:77:3C:A9:D2:64:0B:8E:F1:25:9C:43:7A:E6' },
      ],
    });
  });

  test('sections that do not fit the offer are caller bugs: TypeError', () => {
    const offer = parseOffer(OBS_30_PUBLISH);
    const [audio, video] = whipSections(offer);
    assert.ok(audio && video && video.type === 'recv');
    assert.throws(() => buildAnswer(offer, LOCAL, [{ type: 'rejected', mid: '7' }]), /mid "7", which the offer does not have/);
    assert.throws(() => buildAnswer(offer, LOCAL, [audio, audio]), /two answer sections/);
    const wrongPt = {
      ...video,
      rtpParameters: { ...video.rtpParameters, codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] },
    };
    assert.throws(() => buildAnswer(offer, LOCAL, [audio, wrongPt]), /payload type 102 is not offered/);
    assert.throws(
      () => buildAnswer(offer, LOCAL, [{ type: 'send', mid: '1', rtpParameters: video.rtpParameters, streamId: 's' }]),
      /cannot be answered sendonly/,
    );
  });
});
