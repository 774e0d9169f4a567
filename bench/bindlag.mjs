#!/usr/bin/env node
// How late the recorder sees that ffmpeg has bound its RTP/RTCP ports (waitUntilBound polls
// /proc/net/udp), by poll interval: every ms of it delays the start of a recording.
//
//   node bench/bindlag.mjs [--n 30] [--intervals 20,5]
//
// Each round spawns the capture's ffmpeg on an SDP of two streams (VP8 + Opus, 4 ports) and
// runs waitUntilBound beside a busy poller that reads /proc/net/udp as fast as it can (the
// truth); the lag is waitUntilBound's answer − the poller's. Intervals alternate round by round
// so that load affects each alike. Also printed: spawn → bound (ffmpeg's own start-up). JSON out.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { parseArgs } from 'node:util';

const { waitUntilBound, parseProcNetUdp, tryPair } = await import('../services/recorder/dist/ports.js');

const { values: flags } = parseArgs({ options: { n: { type: 'string', default: '30' }, intervals: { type: 'string', default: '20,5' } } });
const N = Number(flags.n);
const INTERVALS = flags.intervals.split(',').map(Number);

/** Two free pairs (even RTP port, RTCP + 1) in 42000–59999. */
async function pairs() {
  const out = [];
  while (out.length < 2) {
    const p = 42000 + 2 * Math.floor(Math.random() * 9000);
    if (!out.includes(p) && (await tryPair('127.0.0.1', p)) === null) out.push(p);
  }
  return out;
}
const bound = (ports) => {
  const all = new Set(parseProcNetUdp(readFileSync('/proc/net/udp', 'utf8')));
  return ports.every((p) => all.has(p));
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10;
};

const dir = await mkdtemp(join(tmpdir(), 'lw-bindlag-'));
const lag = Object.fromEntries(INTERVALS.map((i) => [i, []]));
const startup = [];
try {
  for (let round = 0; round < N * INTERVALS.length; round++) {
    const interval = INTERVALS[round % INTERVALS.length];
    const [v, a] = await pairs();
    const sdp = join(dir, 'run.sdp');
    await writeFile(
      sdp,
      `v=0\no=- 0 0 IN IP4 127.0.0.1\ns=bindlag\nc=IN IP4 127.0.0.1\nt=0 0\n` +
        `m=video ${v} RTP/AVP 96\na=rtpmap:96 VP8/90000\nm=audio ${a} RTP/AVP 111\na=rtpmap:111 opus/48000/2\n`,
    );
    const ports = [v, v + 1, a, a + 1];
    const t0 = performance.now();
    // prettier-ignore
    const ff = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-protocol_whitelist', 'file,udp,rtp', '-fpsprobesize', '0',
      '-localaddr', '127.0.0.1', '-listen_timeout', '0', '-f', 'sdp', '-i', sdp, '-map', '0', '-c', 'copy', '-f', 'null', '-'], { stdio: 'ignore' });
    let truthAt = 0;
    const truth = (async () => {
      while (!bound(ports)) await new Promise((r) => setImmediate(r));
      truthAt = performance.now();
    })();
    await waitUntilBound(ports, { intervalMs: interval, timeoutMs: 15_000 });
    const seenAt = performance.now();
    await truth;
    lag[interval].push(seenAt - truthAt);
    startup.push(truthAt - t0);
    ff.kill('SIGKILL');
    await new Promise((r) => ff.once('exit', r));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const summary = (xs) => ({ p50: pct(xs, 50), p95: pct(xs, 95), n: xs.length });
console.log(
  JSON.stringify(
    {
      lagMsByIntervalMs: Object.fromEntries(INTERVALS.map((i) => [i, summary(lag[i])])),
      ffmpegSpawnToBoundMs: summary(startup),
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    null,
    2,
  ),
);
