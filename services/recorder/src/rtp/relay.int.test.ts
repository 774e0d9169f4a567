// The VP9 relay's source filter with real UDP sockets on loopback: only the SFU's transport
// (address and RTP port) gets RTP through, only the SFU's address gets RTCP through.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { PortAllocator } from '../ports.js';
import { rtcpBye } from '../rtcp.js';
import { RtpRelay } from './relay.js';

const bind = (address: string, port = 0): Promise<Socket> =>
  new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind({ address, port }, () => resolve(s));
  });
const send = (s: Socket, m: Buffer, port: number): Promise<void> =>
  new Promise((resolve, reject) => s.send(m, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a relay forwards the SFU's packets and drops a stranger's", async () => {
  const ports = new PortAllocator({ host: '127.0.0.1', minPort: 42000, maxPort: 42999 });
  const [listen, target] = await ports.allocate(2);
  const ffRtp = await bind('127.0.0.1', target!.rtpPort);
  const ffRtcp = await bind('127.0.0.1', target!.rtcpPort);
  const got = { rtp: 0, rtcp: 0 };
  ffRtp.on('message', () => got.rtp++);
  ffRtcp.on('message', () => got.rtcp++);
  const sfu = await bind('127.0.0.1');
  const sfuRtcp = await bind('127.0.0.1');
  const strangerSamePort = await bind('127.0.0.1'); // same address, another port
  const strangerElsewhere = await bind('127.0.0.2');
  const relay = await RtpRelay.start({
    host: '127.0.0.1',
    listen: listen!,
    target: target!,
    rewrite: (m) => m,
    accept: { ip: '127.0.0.1', rtpPort: sfu.address().port },
  });
  try {
    const rtp = Buffer.alloc(20, 0x80);
    await send(sfu, rtp, listen!.rtpPort);
    await send(sfuRtcp, rtcpBye(1), listen!.rtcpPort); // the SFU's RTCP comes from its other port
    await send(strangerSamePort, rtp, listen!.rtpPort);
    await send(strangerElsewhere, rtp, listen!.rtpPort);
    await send(strangerElsewhere, rtcpBye(1), listen!.rtcpPort);
    await sleep(200);
    assert.deepEqual(got, { rtp: 1, rtcp: 1 });
    assert.deepEqual(relay.counts, { forwarded: 1, dropped: 0, rejected: 3 });
  } finally {
    relay.close();
    for (const s of [ffRtp, ffRtcp, sfu, sfuRtcp, strangerSamePort, strangerElsewhere]) s.close();
    ports.release([listen!, target!]);
  }
});
