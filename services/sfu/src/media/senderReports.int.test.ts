// The worker patch "sender reports in the publisher's clock" (worker/patches/0004-*) on the real
// worker: a synthetic publisher sends VP8 RTP and Sender Reports over a PlainTransport, and a
// consumer's Sender Reports are read off the wire. The publisher's reports say its capture clock
// runs LEAD_MS ahead of its packets (as a real encoder's does: the frame is captured before it is
// encoded and paced out). The consumer's reports must carry that mapping, directly and through
// pipeToRouter (how viewers are served), and fall back to the forwarding time before the
// publisher's first report.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';

const CLOCK = 90_000;
const LEAD_MS = 120;
const SSRC = 0x1234_5678;
const FRAME_MS = 33;

/** A VP8 keyframe packet (every one is: consumers start on a keyframe). */
function rtpPacket(seq: number, ts: number): Buffer {
  const b = Buffer.alloc(12 + 3 + 10);
  b[0] = 0x80;
  b[1] = 0x80 | 96; // marker, PT 96
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(SSRC, 8);
  b[12] = 0x90; // VP8 descriptor: X, S, partition 0
  b[13] = 0x80; // I: picture id follows
  b[14] = seq & 0x7f;
  b[15] = 0x00; // VP8 header: P = 0 (keyframe)
  return b;
}

/** RTCP Sender Report (no report blocks). */
function senderReport(ntpMs: number, rtpTs: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(SSRC, 4);
  const sec = Math.floor(ntpMs / 1000);
  b.writeUInt32BE(sec >>> 0, 8);
  b.writeUInt32BE(Math.floor(((ntpMs - sec * 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  return b;
}

interface Received {
  /** [arrival ms, RTP timestamp] of the newest RTP packet. */
  lastRtp?: [number, number];
  /** For each Sender Report: its RTP timestamp minus the newest packet's (extrapolated to arrival), ms. */
  srLeadMs: number[];
}

/** A UDP socket standing in for a receiver (ffmpeg, a viewer): records what arrives. */
async function receiver(): Promise<{ socket: dgram.Socket; port: number; got: Received }> {
  const socket = dgram.createSocket('udp4');
  const got: Received = { srLeadMs: [] };
  socket.on('message', (msg) => {
    const now = performance.now();
    const pt = msg[1]!;
    if (pt >= 200 && pt <= 204) {
      // Compound RTCP: walk to the SR.
      for (let off = 0; off + 4 <= msg.length; off += (msg.readUInt16BE(off + 2) + 1) * 4) {
        if (msg[off + 1] !== 200 || !got.lastRtp) continue;
        const [at, ts] = got.lastRtp;
        const expected = ts + ((now - at) * CLOCK) / 1000;
        const diff = ((msg.readUInt32BE(off + 16) - Math.round(expected)) | 0) / (CLOCK / 1000);
        got.srLeadMs.push(diff);
      }
    } else if ((pt & 0x7f) >= 96) {
      got.lastRtp = [now, msg.readUInt32BE(4)];
    }
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, port: socket.address().port, got };
}

const codecs: ms.RtpCodecCapability[] = [{ kind: 'video', mimeType: 'video/VP8', clockRate: CLOCK, preferredPayloadType: 96 }];

describe('consumer Sender Reports follow the publisher clock (worker patch 0004)', { timeout: 60_000 }, () => {
  let worker: ms.Worker;
  let router: ms.Router;
  let producer: ms.Producer;
  let publisher: dgram.Socket;
  let timer: NodeJS.Timeout | undefined;
  let sendReports = false;
  const sockets: dgram.Socket[] = [];

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'error' });
    router = await worker.createRouter({ mediaCodecs: codecs });
    const inbound = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    producer = await inbound.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: CLOCK }],
        encodings: [{ ssrc: SSRC }],
        rtcp: { cname: 'synthetic-publisher', reducedSize: true },
      },
    });
    publisher = dgram.createSocket('udp4');
    await new Promise<void>((r) => publisher.bind(0, '127.0.0.1', r));
    // The publisher's NTP clock is its own: far from the SFU's (here ~1000 s ahead of ours).
    const ntpBaseMs = Date.now() + 1_000_000;
    const t0 = performance.now();
    const ts0 = 1_000_000;
    let seq = 0;
    let lastSr = 0;
    timer = setInterval(() => {
      const elapsed = performance.now() - t0;
      const ts = ts0 + Math.round((elapsed * CLOCK) / 1000);
      publisher.send(rtpPacket(seq++, ts), inbound.tuple.localPort, '127.0.0.1');
      if (sendReports && elapsed - lastSr >= 500) {
        lastSr = elapsed;
        // "Now" on the capture clock is LEAD_MS past the packet just sent.
        publisher.send(senderReport(ntpBaseMs + elapsed, ts + (LEAD_MS * CLOCK) / 1000), inbound.tuple.localPort, '127.0.0.1');
      }
    }, FRAME_MS);
  });

  after(async () => {
    clearInterval(timer);
    publisher?.close();
    for (const s of sockets) s.close();
    worker?.close();
  });

  async function consumeTo(r: ms.Router, producerId: string): Promise<Received> {
    const rx = await receiver();
    sockets.push(rx.socket);
    const out = await r.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    await out.connect({ ip: '127.0.0.1', port: rx.port });
    await out.consume({ producerId, rtpCapabilities: r.rtpCapabilities });
    return rx.got;
  }

  const waitReports = async (got: Received, n: number): Promise<number[]> => {
    const until = Date.now() + 15_000;
    while (got.srLeadMs.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.ok(got.srLeadMs.length >= n, `only ${got.srLeadMs.length} sender reports in 15 s`);
    return got.srLeadMs.slice(-n);
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

  test('before the publisher reports: the forwarding time (upstream behaviour)', async () => {
    const got = await consumeTo(router, producer.id);
    const leads = await waitReports(got, 2);
    assert.ok(Math.abs(median(leads)) < 25, `reports lead the packets by ${JSON.stringify(leads)} ms, expected ~0`);
  });

  test(`after it reports: its clock, ${LEAD_MS} ms ahead of the packets, directly and through pipeToRouter`, async () => {
    sendReports = true;
    await new Promise((r) => setTimeout(r, 1200));
    const direct = await consumeTo(router, producer.id);
    const viewerRouter = await worker.createRouter({ mediaCodecs: codecs });
    await router.pipeToRouter({ producerId: producer.id, router: viewerRouter });
    const piped = await consumeTo(viewerRouter, producer.id);
    const [d, p] = await Promise.all([waitReports(direct, 3), waitReports(piped, 3)]);
    console.log(`# sender report lead (ms): direct ${JSON.stringify(d)}, piped ${JSON.stringify(p)}`);
    assert.ok(Math.abs(median(d) - LEAD_MS) < 25, `direct consumer reports lead by ${JSON.stringify(d)} ms, expected ~${LEAD_MS}`);
    assert.ok(Math.abs(median(p) - LEAD_MS) < 25, `piped consumer reports lead by ${JSON.stringify(p)} ms, expected ~${LEAD_MS}`);
  });
});

// Worker patch 0005: audio consumers report every second, as video ones do (upstream: 5 s). The
// first report of a stream can predate the publisher's own (patch 0004's fallback); receivers
// align on the latest report, so the interval is how long a first, wrong mapping stays in force.
describe('audio consumers send a Sender Report every second (worker patch 0005)', { timeout: 30_000 }, () => {
  const AUDIO_SSRC = 0x0a0d_1001;
  let worker: ms.Worker;
  let timer: NodeJS.Timeout | undefined;
  const sockets: dgram.Socket[] = [];

  after(() => {
    clearInterval(timer);
    for (const s of sockets) s.close();
    worker?.close();
  });

  test('the gaps between reports stay under 3.5 s (upstream: over 4.3 s)', async () => {
    worker = await mediasoup.createWorker({ logLevel: 'error' });
    const router = await worker.createRouter({
      mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2, preferredPayloadType: 100 }],
    });
    const inbound = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const producer = await inbound.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48_000, channels: 2 }],
        encodings: [{ ssrc: AUDIO_SSRC }],
        rtcp: { cname: 'synthetic-publisher', reducedSize: true },
      },
    });
    const rx = dgram.createSocket('udp4');
    sockets.push(rx);
    const reportsAt: number[] = [];
    let firstPacketAt: number | undefined;
    rx.on('message', (msg) => {
      if (msg[1] === 200) reportsAt.push(performance.now());
      else if ((msg[1]! & 0x7f) === 100) firstPacketAt ??= performance.now();
    });
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const out = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    await out.connect({ ip: '127.0.0.1', port: rx.address().port });
    await out.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });

    const publisher = dgram.createSocket('udp4');
    sockets.push(publisher);
    await new Promise<void>((r) => publisher.bind(0, '127.0.0.1', r));
    let seq = 0;
    timer = setInterval(() => {
      const b = Buffer.alloc(12 + 40, 0x55); // 20 ms of "Opus": the SFU does not decode it
      b[0] = 0x80;
      b[1] = 100;
      b.writeUInt16BE(seq & 0xffff, 2);
      b.writeUInt32BE((seq * 960) >>> 0, 4);
      b.writeUInt32BE(AUDIO_SSRC, 8);
      seq++;
      publisher.send(b, inbound.tuple.localPort, '127.0.0.1');
    }, 20);

    // Four reports: three gaps. The worker's RTCP timer fires every 0.5-1.5 s and a consumer skips
    // a tick until 87 % of its interval has passed: patched gaps are 0.9-2.3 s, upstream's
    // (5 s interval) at least 4.35 s.
    const until = performance.now() + 15_000;
    while (reportsAt.length < 4 && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.ok(firstPacketAt !== undefined, 'the consumer forwarded audio');
    const gaps = reportsAt.slice(1).map((t, i) => Math.round(t - reportsAt[i]!));
    console.log(`# audio sender report gaps ${JSON.stringify(gaps)} ms`);
    assert.ok(reportsAt.length >= 4, `${reportsAt.length} audio sender reports in 15 s (gaps ${JSON.stringify(gaps)} ms)`);
    assert.ok(Math.max(...gaps) < 3_500, `audio sender report gaps ${JSON.stringify(gaps)} ms`);
  });
});
