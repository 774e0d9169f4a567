import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { parseProcNetUdp, PortAllocator, tryPair, waitUntilBound } from './ports.js';

function bind(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, host, () => resolve(s));
  });
}
const close = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));

test('allocated pairs are even RTP ports with RTCP = RTP + 1, inside the range, all distinct', async () => {
  const ports = new PortAllocator({ host: '127.0.0.1', minPort: 51001, maxPort: 51200 });
  const pairs = await ports.allocate(6);
  assert.equal(pairs.length, 6);
  const seen = new Set<number>();
  for (const p of pairs) {
    assert.equal(p.rtpPort % 2, 0);
    assert.equal(p.rtcpPort, p.rtpPort + 1);
    assert.ok(p.rtpPort >= 51002 && p.rtcpPort <= 51200, `${p.rtpPort} in range`);
    assert.ok(!seen.has(p.rtpPort));
    seen.add(p.rtpPort);
  }
  assert.equal(ports.reservedPairs, 6);
  ports.release(pairs);
  ports.release(pairs); // twice is fine
  assert.equal(ports.reservedPairs, 0);
});

test('a pair whose RTP or RTCP port is taken is skipped', async () => {
  // Range of two pairs: 51300/51301 and 51302/51303; block the RTCP port of the first.
  const blocker = await bind(51301);
  try {
    let calls = 0;
    const ports = new PortAllocator({ host: '127.0.0.1', minPort: 51300, maxPort: 51303, random: () => (calls++ === 0 ? 0 : 0.99) });
    const [pair] = await ports.allocate(1);
    assert.deepEqual(pair, { rtpPort: 51302, rtcpPort: 51303 });
    assert.notEqual(await tryPair('127.0.0.1', 51300), null, 'the blocked pair reports its error');
  } finally {
    await close(blocker);
  }
});

test('concurrent allocations never hand out the same pair, and an exhausted range is an error', async () => {
  const ports = new PortAllocator({ host: '127.0.0.1', minPort: 51400, maxPort: 51407, attempts: 200 });
  const all = await Promise.all([ports.allocate(2), ports.allocate(2)]);
  const rtp = all.flat().map((p) => p.rtpPort);
  assert.equal(new Set(rtp).size, 4);
  await assert.rejects(ports.allocate(1), /no free RTP\/RTCP port pair/);
});

test('an address that is not local is reported at once, not as an exhausted range', async () => {
  const ports = new PortAllocator({ host: '192.0.2.1', minPort: 51500, maxPort: 51599 });
  await assert.rejects(ports.allocate(1), /cannot bind UDP on 192\.0\.2\.1/);
});

test('/proc/net/udp lines give the local ports', () => {
  const text = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    ' 6219: 0100007F:C738 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 28926 2 00000000c3a57ad6 0',
    ' 6220: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 28927 2 00000000dffc0bab 0',
    '',
  ].join('\n');
  assert.deepEqual([...parseProcNetUdp(text)], [51000, 68]);
  const v6 =
    '  sl  local_address                         remote_address ...\n   0: 00000000000000000000000001000000:C73A 00000000000000000000000000000000:0000 07 ...\n';
  assert.deepEqual([...parseProcNetUdp(v6)], [51002]);
});

test('waitUntilBound resolves once the ports are bound and times out otherwise', async () => {
  const later = new Promise<Socket[]>((resolve) => setTimeout(() => void Promise.all([bind(51600), bind(51601)]).then(resolve), 100));
  await waitUntilBound([51600, 51601], { timeoutMs: 3000 });
  for (const s of await later) await close(s);
  await assert.rejects(waitUntilBound([51602], { timeoutMs: 100 }), /51602 not bound after 100 ms/);
  const ac = new AbortController();
  ac.abort(new Error('ffmpeg exited'));
  await assert.rejects(waitUntilBound([51602], { signal: ac.signal }), /ffmpeg exited/);
});
