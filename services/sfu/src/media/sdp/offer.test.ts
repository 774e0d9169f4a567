import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SdpError } from './errors.js';
import { parseFmtp, parseOffer, type MediaOffer, type SessionOffer } from './offer.js';
import { CHROMIUM_156_PUBLISH, CHROMIUM_156_SIMULCAST, CHROMIUM_156_VIEW } from './fixtures/chromium.js';
import { CHROME_120_VIEW } from './fixtures/chrome.js';
import { FIREFOX_128_PUBLISH, FIREFOX_128_VIEW } from './fixtures/firefox.js';
import { SAFARI_17_PUBLISH, SAFARI_17_VIEW } from './fixtures/safari.js';
import { OBS_30_PUBLISH } from './fixtures/obs.js';
import { LIBWEBRTC_NATIVE_PUBLISH } from './fixtures/libwebrtc.js';

const section = (offer: SessionOffer, mid: string): MediaOffer => {
  const m = offer.media.find((x) => x.mid === mid);
  assert.ok(m, `no m-section ${mid}`);
  return m;
};
const codec = (m: MediaOffer, pt: number) => {
  const c = m.codecs.find((x) => x.payloadType === pt);
  assert.ok(c, `no codec ${pt} in ${m.mid}`);
  return c;
};

describe('parseOffer: recorded and browser-format offers', () => {
  test('Chromium 156 publisher: transport, mids as strings, codecs with RTX and typed fmtp', () => {
    const o = parseOffer(CHROMIUM_156_PUBLISH);
    assert.equal(o.iceUfrag, 'LcDP');
    assert.equal(o.icePwd, '27wmDLm01KGEkwwZma/pvz/K');
    assert.deepEqual(o.iceOptions, ['trickle']);
    assert.equal(o.setup, 'actpass');
    assert.deepEqual(o.fingerprints, [
      { algorithm: 'sha-256', value: '50:EC:CA:28:16:60:6E:AA:AC:0D:46:CA:F1:6D:2B:CA:6A:6E:15:E6:E5:7D:34:5A:E2:70:A4:DB:44:DC:79:7A' },
    ]);
    assert.deepEqual(o.bundle, ['0', '1']);
    assert.equal(o.extmapAllowMixed, true);
    assert.deepEqual(
      o.media.map((m) => [m.mid, m.kind, m.direction, m.port]),
      [
        ['0', 'audio', 'sendonly', 45134],
        ['1', 'video', 'sendonly', 52006],
      ],
    );
    const audio = section(o, '0');
    assert.deepEqual(codec(audio, 111), {
      payloadType: 111,
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc' }],
    });
    assert.deepEqual(codec(audio, 63).parameters, { '111/111': '' });
    assert.deepEqual(
      audio.headerExtensions.map((e) => [e.id, e.uri]),
      [
        [1, 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'],
        [2, 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'],
        [3, 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'],
        [4, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
      ],
    );
    assert.deepEqual(audio.ssrcs, [
      { ssrc: 2222923372, cname: 'VpojAShwyQsb5jiV', msid: '66c3f925-5627-4299-8455-86d054fabd54 83ff667d-d5d7-473e-8e5d-0580fedb7693' },
    ]);
    assert.deepEqual(audio.msid, { streamId: '66c3f925-5627-4299-8455-86d054fabd54', trackId: '83ff667d-d5d7-473e-8e5d-0580fedb7693' });

    const video = section(o, '1');
    assert.equal(video.rtcpMux, true);
    assert.equal(video.rtcpReducedSize, true);
    // RTX folded into its codec; order is the m-line's (offerer preference).
    assert.deepEqual(
      video.codecs.map((c) => [c.mimeType, c.payloadType, c.rtxPayloadType]),
      [
        ['video/VP8', 96, 97],
        ['video/H264', 102, 103],
        ['video/H264', 104, 107],
        ['video/H264', 108, 109],
        ['video/H264', 114, 115],
        ['video/H264', 116, 117],
        ['video/H264', 39, 40],
        ['video/AV1', 45, 46],
        ['video/VP9', 98, 99],
        ['video/VP9', 100, 101],
        ['video/red', 118, 119],
        ['video/ulpfec', 120, undefined],
      ],
    );
    assert.deepEqual(codec(video, 108).parameters, { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' });
    assert.deepEqual(codec(video, 98).parameters, { 'profile-id': 0 });
    assert.deepEqual(codec(video, 96).rtcpFeedback, [
      { type: 'goog-remb' },
      { type: 'transport-cc' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack' },
      { type: 'nack', parameter: 'pli' },
    ]);
    assert.deepEqual(video.ssrcGroups, [{ semantics: 'FID', ssrcs: [1552771952, 1070163195] }]);
    assert.deepEqual(
      video.ssrcs.map((s) => [s.ssrc, s.rtxSsrc, s.cname]),
      [[1552771952, 1070163195, 'VpojAShwyQsb5jiV']],
    );
    assert.deepEqual(video.rids, []);
  });

  test('Chromium 156 simulcast: send RIDs in a=simulcast order, no video SSRCs', () => {
    const video = section(parseOffer(CHROMIUM_156_SIMULCAST), '1');
    assert.deepEqual(video.rids, [
      { id: 'q', paused: false, params: {} },
      { id: 'h', paused: false, params: {} },
      { id: 'f', paused: false, params: {} },
    ]);
    assert.deepEqual(video.ssrcs, []);
  });

  test('Chromium 156 and Chrome 120 viewers: recvonly, no SSRCs, their own numbering', () => {
    const v156 = section(parseOffer(CHROMIUM_156_VIEW), '1');
    assert.equal(v156.direction, 'recvonly');
    assert.deepEqual(v156.ssrcs, []);
    assert.equal(codec(v156, 41).parameters['profile-level-id'], 'f4001f');
    const v120 = section(parseOffer(CHROME_120_VIEW), '1');
    assert.deepEqual([codec(v120, 127).parameters['profile-level-id'], codec(v120, 127).rtxPayloadType], ['4d001f', 125]);
    assert.deepEqual([codec(v120, 112).parameters['profile-level-id'], codec(v120, 112).rtxPayloadType], ['64001f', 113]);
  });

  test('Firefox 128: session-level fingerprint, media-level ICE, {uuid} msids, extmap directions', () => {
    const o = parseOffer(FIREFOX_128_PUBLISH);
    assert.equal(o.iceUfrag, '7d3e91a0');
    assert.equal(o.fingerprints[0]?.algorithm, 'sha-256');
    assert.equal(o.extmapAllowMixed, false);
    const audio = section(o, '0');
    assert.equal(audio.direction, 'sendonly'); // media-level beats the session's a=sendrecv
    assert.deepEqual(audio.msid, { streamId: '{0f3b6f2e-91c4-4d57-8a0e-5b6c2d1e7f40}', trackId: '{a8e2c5d1-3b7f-4e96-b1d0-9c4f7e2a6b13}' });
    assert.deepEqual(codec(audio, 109), {
      payloadType: 109,
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      parameters: { maxplaybackrate: 48000, stereo: 1, useinbandfec: 1 },
      rtcpFeedback: [],
    });
    assert.equal(codec(audio, 9).channels, 1);
    assert.deepEqual(audio.headerExtensions[1], { id: 2, uri: 'urn:ietf:params:rtp-hdrext:csrc-audio-level', direction: 'recvonly' });
    const video = section(o, '1');
    assert.deepEqual(
      video.codecs.filter((c) => c.rtxPayloadType !== undefined).map((c) => [c.mimeType, c.payloadType, c.rtxPayloadType]),
      [
        ['video/VP8', 120, 124],
        ['video/VP9', 121, 125],
        ['video/H264', 126, 127],
        ['video/H264', 97, 98],
        ['video/H264', 105, 106],
        ['video/H264', 103, 104],
        ['video/AV1', 99, 100],
        ['video/red', 122, 119],
      ],
    );
    assert.deepEqual(codec(video, 97).parameters, { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 });
    assert.deepEqual(
      video.ssrcs.map((s) => [s.ssrc, s.rtxSsrc]),
      [[1350236544, 3071547232]],
    );
    assert.equal(section(parseOffer(FIREFOX_128_VIEW), '1').direction, 'recvonly');
  });

  test('Safari 17: H.264 Constrained High first, mDNS candidates do not matter', () => {
    const o = parseOffer(SAFARI_17_PUBLISH);
    const video = section(o, '1');
    assert.deepEqual(
      video.codecs.slice(0, 2).map((c) => [c.payloadType, c.parameters['profile-level-id'], c.rtxPayloadType]),
      [
        [96, '640c1f', 97],
        [98, '42e01f', 99],
      ],
    );
    assert.equal(parseOffer(SAFARI_17_VIEW).media[1]?.direction, 'recvonly');
  });

  test('OBS 30: session-level ICE/DTLS/setup, a=group:LS ignored, no msid', () => {
    const o = parseOffer(OBS_30_PUBLISH);
    assert.equal(o.iceUfrag, 'pW3x');
    assert.deepEqual(o.iceOptions, ['ice2', 'trickle']);
    assert.equal(o.setup, 'actpass');
    assert.deepEqual(o.bundle, ['0', '1']);
    const video = section(o, '1');
    assert.deepEqual(video.codecs, [
      {
        payloadType: 96,
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }],
      },
    ]);
    assert.equal(video.msid, undefined);
    assert.equal(video.rtcpReducedSize, false);
    assert.deepEqual(video.headerExtensions, []);
    assert.deepEqual(video.ssrcs, [{ ssrc: 1823746502, cname: 'xT7qL2vB9mKc4RwE' }]);
  });

  test('libwebrtc native client: non-numeric mids', () => {
    const o = parseOffer(LIBWEBRTC_NATIVE_PUBLISH);
    assert.deepEqual(o.bundle, ['audio', 'video']);
    assert.deepEqual(
      o.media.map((m) => m.mid),
      ['audio', 'video'],
    );
    assert.deepEqual(section(o, 'video').msid, { streamId: 'ARDAMS', trackId: 'ARDAMSv0' });
  });

  test('mid "0" survives as the string "0"', () => {
    const o = parseOffer(CHROMIUM_156_PUBLISH);
    assert.equal(o.media[0]?.mid, '0');
    assert.equal(typeof o.media[0]?.mid, 'string');
  });
});

describe('parseOffer: shapes the SFU must accept', () => {
  test('a bundle-only m-section (port 0) is active and reads port 9', () => {
    const text = FIREFOX_128_VIEW.replace('m=video 9 ', 'm=video 0 ').replace('a=mid:1\r\n', 'a=mid:1\r\na=bundle-only\r\n');
    const video = section(parseOffer(text), '1');
    assert.equal(video.bundleOnly, true);
    assert.equal(video.port, 9);
  });

  test('a rejected (port 0) m-section outside the BUNDLE group is allowed, and data channels are listed apart', () => {
    const text =
      CHROMIUM_156_VIEW + 'm=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n';
    const o = parseOffer(text);
    assert.deepEqual(
      o.media.map((m) => m.mid),
      ['0', '1'],
    );
    assert.deepEqual(
      o.sections.map((s) => [s.mid, s.media, s.port]),
      [
        ['0', 'audio', 33900],
        ['1', 'video', 59300],
        ['2', 'application', 0],
      ],
    );
  });

  test('a single unbundled m-section needs no BUNDLE group', () => {
    const text = OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1\r\n', '').split('m=video')[0] as string;
    const o = parseOffer(text);
    assert.deepEqual(o.bundle, []);
    assert.equal(o.media.length, 1);
  });

  test('a=setup:active is accepted; missing a=setup means actpass', () => {
    assert.equal(parseOffer(OBS_30_PUBLISH.replace('a=setup:actpass', 'a=setup:active')).setup, 'active');
    assert.equal(parseOffer(OBS_30_PUBLISH.replace('a=setup:actpass\r\n', '')).setup, 'actpass');
  });

  test('rtcp-fb wildcards apply to every codec; RTX keeps none', () => {
    const text =
      OBS_30_PUBLISH.replace('a=rtpmap:96 H264/90000', 'a=rtpmap:96 H264/90000\r\na=rtcp-fb:* ccm fir').replace(
        'm=video 9 UDP/TLS/RTP/SAVPF 96',
        'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
      ) + 'a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n';
    const video = section(parseOffer(text), '1');
    assert.deepEqual(
      video.codecs.map((c) => [c.payloadType, c.rtxPayloadType]),
      [[96, 97]],
    );
    assert.ok(codec(video, 96).rtcpFeedback.some((f) => f.type === 'ccm' && f.parameter === 'fir'));
  });

  test('paused simulcast layers and a=rid restrictions', () => {
    const text = CHROMIUM_156_SIMULCAST.replace('a=simulcast:send q;h;f', 'a=simulcast:send q;~h,x;f').replace(
      'a=rid:q send',
      'a=rid:q send max-width=320;max-height=180',
    );
    assert.deepEqual(section(parseOffer(text), '1').rids, [
      { id: 'q', paused: false, params: { 'max-width': '320', 'max-height': '180' } },
      { id: 'h', paused: true, params: {} },
      { id: 'f', paused: false, params: {} },
    ]);
  });

  test('fmtp: profile-level-id stays a string even when all digits', () => {
    assert.deepEqual(parseFmtp('profile-level-id=640032; packetization-mode=1;apt=96;x-google-start-bitrate=800;foo=bar'), {
      'profile-level-id': '640032',
      'packetization-mode': 1,
      apt: 96,
      'x-google-start-bitrate': 800,
      foo: 'bar',
    });
  });

  test('SHA-1 and upper-case hash names are accepted; unknown hashes are skipped', () => {
    const fp20 = Array.from({ length: 20 }, (_, i) => (i + 16).toString(16).toUpperCase()).join(':');
    const text = OBS_30_PUBLISH.replace(/a=fingerprint:.*\r\n/, `a=fingerprint:SHA-1 ${fp20}\r\na=fingerprint:md5 AA:BB\r\n`);
    assert.deepEqual(parseOffer(text).fingerprints, [{ algorithm: 'sha-1', value: fp20 }]);
  });
});

describe('parseOffer: malformed offers are SdpError bad_sdp', () => {
  const fp = 'a=fingerprint:sha-256 6A:0F:D3:92:4B:E7:18:C5:7E:21:9B:F4:3D:A0:56:C9:82:1E:7B:E6:05:D8:4F:31:A9:6C:F0:27:B5:13:8E:D4';
  const cases: [string, string, RegExp][] = [
    ['an empty body', '', /empty/],
    ['JSON', '{"type":"offer","sdp":"v=0"}', /first line must be "v=0"/],
    ['an SDP without v=0 first', OBS_30_PUBLISH.replace('v=0\r\n', ''), /v=0/],
    ['a line that is not <letter>=<value>', OBS_30_PUBLISH.replace('s=-', 's=-\r\nhello world'), /line 4/],
    ['no m-lines', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', /no m-sections/],
    [
      'a malformed m-line',
      OBS_30_PUBLISH.replace('m=video 9 UDP/TLS/RTP/SAVPF 96', 'm=video nine UDP/TLS/RTP/SAVPF 96'),
      /malformed m-line/,
    ],
    ['no ice-ufrag', OBS_30_PUBLISH.replace(/a=ice-ufrag:.*\r\n/, ''), /ICE credentials/],
    ['no ice-pwd', OBS_30_PUBLISH.replace(/a=ice-pwd:.*\r\n/, ''), /ICE credentials/],
    ['no fingerprint', OBS_30_PUBLISH.replace(/a=fingerprint:.*\r\n/, ''), /no DTLS fingerprint/],
    ['a truncated fingerprint', OBS_30_PUBLISH.replace(fp, 'a=fingerprint:sha-256 6A:0F:D3'), /wrong length/],
    ['a garbled fingerprint', OBS_30_PUBLISH.replace(fp, 'a=fingerprint:sha-256 not-hex'), /malformed a=fingerprint/],
    [
      'only an unsupported hash',
      OBS_30_PUBLISH.replace(fp, 'a=fingerprint:md5 6A:0F:D3:92:4B:E7:18:C5:7E:21:9B:F4:3D:A0:56:C9'),
      /hash this server supports/,
    ],
    ['no mid', OBS_30_PUBLISH.replace('a=mid:1\r\n', ''), /no a=mid/],
    ['a duplicate mid', OBS_30_PUBLISH.replace('a=mid:1', 'a=mid:0').replace('BUNDLE 0 1', 'BUNDLE 0'), /two m-sections use mid "0"/],
    ['two m-sections without BUNDLE', OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1\r\n', ''), /not in the BUNDLE group/],
    ['a section left out of BUNDLE', OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0'), /"1" are not in the BUNDLE group/],
    [
      'BUNDLE naming an unknown mid',
      OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2'),
      /mid "2", which no m-section has/,
    ],
    [
      'two BUNDLE groups',
      OBS_30_PUBLISH.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0\r\na=group:BUNDLE 1'),
      /more than one BUNDLE group/,
    ],
    ['a=setup:passive', OBS_30_PUBLISH.replace('a=setup:actpass', 'a=setup:passive'), /setup:passive/],
    ['a=setup:holdconn', OBS_30_PUBLISH.replace('a=setup:actpass', 'a=setup:holdconn'), /invalid a=setup/],
    ['an ICE-lite offer', OBS_30_PUBLISH.replace('s=-', 's=-\r\na=ice-lite'), /ICE-lite/],
    ['plain RTP/AVP', OBS_30_PUBLISH.replace('m=video 9 UDP/TLS/RTP/SAVPF', 'm=video 9 RTP/AVP'), /DTLS-SRTP/],
    ['a payload type above 127', OBS_30_PUBLISH.replace('UDP/TLS/RTP/SAVPF 96', 'UDP/TLS/RTP/SAVPF 196'), /invalid payload type "196"/],
    [
      'a payload type mapped twice',
      OBS_30_PUBLISH.replace('a=rtpmap:96 H264/90000', 'a=rtpmap:96 H264/90000\r\na=rtpmap:96 VP8/90000'),
      /payload type 96 twice/,
    ],
    ['a malformed rtpmap', OBS_30_PUBLISH.replace('a=rtpmap:96 H264/90000', 'a=rtpmap:96 H264'), /malformed a=rtpmap/],
    [
      'an extmap id used twice',
      CHROMIUM_156_PUBLISH.replace('a=extmap:14 urn:ietf:params:rtp-hdrext:toffset', 'a=extmap:2 urn:ietf:params:rtp-hdrext:toffset'),
      /extmap id 2 for two URIs/,
    ],
    ['an extmap id of 0', CHROMIUM_156_PUBLISH.replace('a=extmap:14 ', 'a=extmap:0 '), /outside/],
    [
      'bundled sections with other ICE credentials',
      CHROMIUM_156_PUBLISH.replace(/(m=video[\s\S]*?)a=ice-ufrag:LcDP/, '$1a=ice-ufrag:Other'),
      /other ICE credentials/,
    ],
    ['ICE credentials with forbidden characters', OBS_30_PUBLISH.replace('a=ice-ufrag:pW3x', 'a=ice-ufrag:pW3x;x'), /ice-char/],
    ['every m-section rejected', OBS_30_PUBLISH.replace('m=audio 9', 'm=audio 0').replace('m=video 9', 'm=video 0'), /every m-section/],
    [
      'a malformed a=ssrc-group',
      CHROMIUM_156_PUBLISH.replace('a=ssrc-group:FID 1552771952 1070163195', 'a=ssrc-group:FID x y'),
      /ssrc-group/,
    ],
    ['a malformed a=simulcast', CHROMIUM_156_SIMULCAST.replace('a=simulcast:send q;h;f', 'a=simulcast:sideways q'), /simulcast/],
  ];
  for (const [what, text, message] of cases) {
    test(`rejects ${what}`, () => {
      assert.throws(
        () => parseOffer(text),
        (err: unknown) => err instanceof SdpError && err.code === 'bad_sdp' && message.test(err.message),
      );
    });
  }

  test('rejects a non-string body at runtime', () => {
    assert.throws(() => parseOffer(undefined as unknown as string), SdpError);
  });
});
