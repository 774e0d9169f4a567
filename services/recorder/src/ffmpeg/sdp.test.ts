import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Codec } from '@live-webrtc/shared';
import { buildCaptureSdp, encodingName, fmtpLine } from './sdp.js';

const vp8: Codec = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {} };
const opus: Codec = {
  mimeType: 'audio/opus',
  payloadType: 111,
  clockRate: 48000,
  channels: 2,
  parameters: { minptime: 10, useinbandfec: 1 },
};

test('an A/V SDP has one m-line per track on its even port, with rtpmap, fmtp and rtcp = port + 1', () => {
  const sdp = buildCaptureSdp({
    host: '127.0.0.1',
    sessionName: 'rec 01J',
    tracks: [
      { kind: 'video', codec: vp8, rtpPort: 50000 },
      { kind: 'audio', codec: opus, rtpPort: 50002 },
    ],
  });
  assert.equal(
    sdp,
    [
      'v=0',
      'o=- 0 0 IN IP4 127.0.0.1',
      's=rec 01J',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=video 50000 RTP/AVP 96',
      'a=rtpmap:96 VP8/90000',
      'a=rtcp:50001',
      'a=recvonly',
      'm=audio 50002 RTP/AVP 111',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtcp:50003',
      'a=recvonly',
      '',
    ].join('\r\n'),
  );
});

test('an IPv6 host gives IN IP6 lines', () => {
  const sdp = buildCaptureSdp({ host: '::1', sessionName: 's', tracks: [{ kind: 'video', codec: vp8, rtpPort: 50000 }] });
  assert.match(sdp, /^c=IN IP6 ::1\r$/m);
  assert.match(sdp, /^o=- 0 0 IN IP6 ::1\r$/m);
});

test('H.264 keeps its fmtp parameters', () => {
  const h264: Codec = {
    mimeType: 'video/H264',
    payloadType: 102,
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  };
  const sdp = buildCaptureSdp({ host: '10.0.0.5', sessionName: 's', tracks: [{ kind: 'video', codec: h264, rtpPort: 50010 }] });
  assert.match(sdp, /a=rtpmap:102 H264\/90000\r\n/);
  assert.match(sdp, /a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1\r\n/);
});

test('odd, duplicate or out-of-range RTP ports are refused (ffmpeg needs port + 1 for RTCP)', () => {
  const one = (rtpPort: number) =>
    buildCaptureSdp({ host: '127.0.0.1', sessionName: 's', tracks: [{ kind: 'video', codec: vp8, rtpPort }] });
  assert.throws(() => one(50001), RangeError);
  assert.throws(() => one(80), RangeError);
  assert.throws(() => one(65536), RangeError);
  assert.throws(
    () =>
      buildCaptureSdp({
        host: '127.0.0.1',
        sessionName: 's',
        tracks: [
          { kind: 'video', codec: vp8, rtpPort: 50000 },
          { kind: 'audio', codec: opus, rtpPort: 50000 },
        ],
      }),
    /used twice/,
  );
});

test('a track whose kind does not match its codec is refused', () => {
  assert.throws(
    () => buildCaptureSdp({ host: '127.0.0.1', sessionName: 's', tracks: [{ kind: 'audio', codec: vp8, rtpPort: 50000 }] }),
    RangeError,
  );
});

test('values that could inject SDP lines are refused', () => {
  assert.throws(() => fmtpLine({ 'a\r\nb': 1 }), RangeError);
  assert.throws(() => fmtpLine({ x: '1\r\nm=video 9 RTP/AVP 1' }), RangeError);
  assert.throws(() => encodingName({ mimeType: 'video/VP8\r\n' }), RangeError);
  assert.equal(fmtpLine({}), null);
  const sdp = buildCaptureSdp({ host: '127.0.0.1', sessionName: 'evil\r\nm=x', tracks: [{ kind: 'video', codec: vp8, rtpPort: 50000 }] });
  assert.match(sdp, /^s=evil__m=x\r$/m);
});

test('an SDP needs a track', () => {
  assert.throws(() => buildCaptureSdp({ host: '127.0.0.1', sessionName: 's', tracks: [] }), RangeError);
});

test('sources become one session-level source filter before the m-lines; other-family addresses are left out', () => {
  const sdp = buildCaptureSdp({
    host: '10.0.0.5',
    sessionName: 's',
    tracks: [{ kind: 'video', codec: vp8, rtpPort: 50000 }],
    sources: ['10.0.0.7', '10.0.0.5', '10.0.0.7', '::1'],
  });
  const lines = sdp.split('\r\n');
  const filter = lines.indexOf('a=source-filter: incl IN IP4 * 10.0.0.7 10.0.0.5');
  assert.ok(filter > 0, sdp);
  assert.ok(filter < lines.findIndex((l) => l.startsWith('m=')), 'session level: before the first m-line');
  assert.doesNotMatch(
    buildCaptureSdp({ host: '10.0.0.5', sessionName: 's', tracks: [{ kind: 'video', codec: vp8, rtpPort: 50000 }] }),
    /source-filter/,
  );
  assert.doesNotMatch(
    buildCaptureSdp({ host: '10.0.0.5', sessionName: 's', tracks: [{ kind: 'video', codec: vp8, rtpPort: 50000 }], sources: ['::1'] }),
    /source-filter/,
    'no address of the family left: no filter (not one that accepts nothing)',
  );
});
