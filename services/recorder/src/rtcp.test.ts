import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { rtcpBye, sendRtcpBye } from './rtcp.js';

test('an RTCP BYE is a version-2 packet of type 203 with one SSRC, padded to 32 bits, and at least 12 bytes', () => {
  const b = rtcpBye(0x01020304, 'stop');
  assert.equal(b[0], 0x81);
  assert.equal(b[1], 203);
  assert.equal(b.length % 4, 0);
  assert.ok(b.length >= 12, 'ffmpeg ignores datagrams under 12 bytes');
  assert.equal(b.readUInt16BE(2), b.length / 4 - 1, 'length in 32-bit words minus one');
  assert.equal(b.readUInt32BE(4), 0x01020304);
  assert.equal(b[8], 4);
  assert.equal(b.subarray(9, 13).toString('latin1'), 'stop');
  assert.equal(rtcpBye(1, '').length, 12);
});

test('sendRtcpBye delivers one BYE per port', async () => {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const port = sock.address().port;
  const got = once(sock, 'message');
  await sendRtcpBye('127.0.0.1', [port]);
  const [msg] = (await got) as [Buffer];
  assert.equal(msg[1], 203);
  sock.close();
});
