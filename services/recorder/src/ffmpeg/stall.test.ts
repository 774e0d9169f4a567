import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseRxQueues, processBusy, StallDetector, UdpQueueSampler } from './stall.js';

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';
const line = (port: number, rx: number) =>
  `  1: 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 07 00000000:${rx.toString(16).toUpperCase().padStart(8, '0')} 00:00000000 00000000     0        0 1 2 0000000000000000 0`;

test('rx_queue per local port from /proc/net/udp', () => {
  const q = parseRxQueues([HEAD, line(50000, 0), line(50001, 0x1200), ''].join('\n'));
  assert.equal(q.get(50000), 0);
  assert.equal(q.get(50001), 0x1200);
  assert.equal(q.size, 2);
});

/** A fake /proc whose rx queues the test sets. */
async function fakeProc(): Promise<{ root: string; set: (rx: number) => Promise<void>; done: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'lw-stall-'));
  await mkdir(join(root, 'net'));
  const set = (rx: number) => writeFile(join(root, 'net/udp'), [HEAD, line(50000, rx), line(50001, 0), line(60000, 9999)].join('\n'));
  await set(0);
  return { root, set, done: () => rm(root, { recursive: true, force: true }) };
}

test('a queue that drains is no stall; one left undrained for stuckMs is', async () => {
  const proc = await fakeProc();
  try {
    let stuck: number | null = null;
    const d = new StallDetector({
      ports: [50000, 50001],
      stuckMs: 200,
      intervalMs: 10,
      procRoot: proc.root,
      onStuck: (ms) => (stuck = ms),
    });
    d.start();
    // Another socket's full queue (port 60000) is not ffmpeg's business; short bursts drain.
    for (let i = 0; i < 5; i++) {
      await proc.set(3000);
      await new Promise((r) => setTimeout(r, 60));
      await proc.set(0);
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(stuck, null, 'bursts that drain are not a stall');
    assert.ok(d.longestUndrainedMs > 0 && d.longestUndrainedMs < 200);
    await proc.set(3000);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(stuck !== null && stuck >= 200, `stuck after ${stuck} ms undrained`);
    d.stop();
  } finally {
    await proc.done();
  }
});

test('without a readable socket table the detector says it is not available', async () => {
  const d = new StallDetector({
    ports: [50000],
    stuckMs: 200,
    intervalMs: 10,
    procRoot: '/nonexistent',
    onStuck: () => assert.fail('no stall'),
  });
  d.start();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(d.available, false);
  d.stop();
});

test('process state: waiting for the CPU or the disk is busy, stopped or asleep is not', () => {
  const stat = (s: string) => `1234 (ffmpeg (x)) ${s} 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 25 5 1 0 100 1000 200`;
  assert.equal(processBusy(stat('R')), true);
  assert.equal(processBusy(stat('D')), true);
  assert.equal(processBusy(stat('T')), false);
  assert.equal(processBusy(stat('S')), false);
  assert.equal(processBusy(''), false, 'gone');
});

test('a busy process is not declared stuck; a stopped one is', async () => {
  const proc = await fakeProc();
  try {
    await mkdir(join(proc.root, '4321'));
    const setState = (s: string) => writeFile(join(proc.root, '4321/stat'), `4321 (ffmpeg) ${s} 1 4321`);
    await setState('R');
    let stuck: number | null = null;
    const d = new StallDetector({
      ports: [50000],
      stuckMs: 100,
      intervalMs: 10,
      pid: 4321,
      procRoot: proc.root,
      onStuck: (ms) => (stuck = ms),
    });
    d.start();
    await proc.set(3000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stuck, null, 'runnable (waiting for the CPU): it will catch up');
    await setState('T');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(stuck !== null, 'stopped: stuck');
    d.stop();
  } finally {
    await proc.done();
  }
});

test('detectors share one reading of the socket table, and each judges only its own ports', async () => {
  const proc = await fakeProc();
  try {
    const stuck: string[] = [];
    const mk = (name: string, ports: number[]) =>
      new StallDetector({ ports, stuckMs: 100, intervalMs: 10, procRoot: proc.root, onStuck: () => stuck.push(name) });
    const a = mk('a', [50000]);
    const b = mk('b', [50001]);
    a.start();
    b.start();
    const sampler = UdpQueueSampler.for(proc.root, 10);
    assert.equal(sampler.listeners, 2, 'one sampler for both');
    await proc.set(3000); // only 50000 (a's) fills
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(stuck, ['a']);
    assert.equal(sampler.listeners, 1, 'a fired and left the sampler');
    b.stop();
    assert.equal(sampler.listeners, 0, 'no listener, no timer');
  } finally {
    await proc.done();
  }
});
