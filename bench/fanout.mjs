#!/usr/bin/env node
// Fan-out benchmark: one Chromium publisher → N WHEP viewers (libwebrtc via @roamhq/wrtc) on one
// SFU worker, the product started as `npm start` starts it. Prints the mediasoup worker's CPU
// at each N (read from the SFU's own lw_sfu_worker_cpu_seconds metric) and the cost per viewer.
//
//   node bench/fanout.mjs [maxViewers=100] [step=25] [windowSeconds=10]
//
// The viewers run in this process and decode what they receive, so on a small machine they,
// not the SFU, are what limits N: the figure that matters is the SFU worker's CPU per viewer
// (the slope), from which viewers per core follows.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc');
const { startStack } = await import('../tests/dist/support/stack.js');
const { launchBrowser, whipPublish } = await import('../tests/dist/support/browser.js');

const [maxViewers = 100, step = 25, windowS = 10] = process.argv.slice(2).map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The SFU worker's CPU seconds so far. */
async function workerCpu(sfuUrl) {
  const text = await (await fetch(`${sfuUrl}/metrics`)).text();
  return [...text.matchAll(/^lw_sfu_worker_cpu_seconds\{[^}]*\} ([\d.e+-]+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/**
 * A WHEP viewer: recvonly audio + video, non-trickle (waits for ICE gathering), as a player would.
 * Its offer leaves out the sdes:mid extension: this libwebrtc (wrtc 0.10) demuxes by its OWN
 * offer's extension ids, and mediasoup 3.8.4 always sends abs-send-time at id 4, where this
 * client puts MID — it would drop every video packet (see README, "Known limits").
 */
async function viewer(url) {
  const pc = new wrtc.RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const offer = await pc.createOffer();
  const sdp = offer.sdp.replace(/^a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:mid\r\n/gm, '');
  await pc.setLocalDescription({ type: 'offer', sdp });
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 2000);
  });
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error(`WHEP answered ${res.status}: ${await res.text()}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  return { pc, location: new URL(res.headers.get('location'), url).href };
}

/** Inbound video bytes and frames decoded of one viewer. */
async function inbound(pc) {
  let bytes = 0;
  let frames = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) {
      bytes += s.bytesReceived ?? 0;
      frames += s.framesDecoded ?? 0;
    }
  });
  return { bytes, frames };
}

// The fake camera plays a noisy test pattern, so the encoder spends a realistic bitrate (a flat
// synthetic picture compresses to almost nothing and would flatter the per-viewer cost).
const y4m = join(tmpdir(), 'lw-bench-640x360-noise.y4m');
if (!existsSync(y4m)) {
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30,noise=alls=25:allf=t',
    '-t',
    '4',
    '-pix_fmt',
    'yuv420p',
    '-y',
    y4m,
  ]);
}
const stack = await startStack({ LOG_LEVEL: 'warn', MAX_SUBS_PER_ROOM: '10000', SESSION_TIMEOUT_SECONDS: '60' });
const browser = await launchBrowser({ fakeVideo: y4m });
const viewers = [];
const rows = [];
try {
  const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/bench`);
  if (pub.status !== 201) throw new Error(`publish failed: ${pub.status}`);
  await sleep(3000);
  for (let n = 0; n <= maxViewers; n += n === 0 ? Math.min(step, maxViewers) : step) {
    while (viewers.length < n) viewers.push(await viewer(`${stack.url}/api/whep/play/bench`));
    await sleep(4000); // connect, first keyframe, bandwidth settle
    const before = await Promise.all(viewers.map((v) => inbound(v.pc)));
    const cpu0 = await workerCpu(stack.sfuUrl);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const cpu1 = await workerCpu(stack.sfuUrl);
    const seconds = (performance.now() - t0) / 1000;
    const self1 = process.cpuUsage(self0);
    const after = await Promise.all(viewers.map((v) => inbound(v.pc)));
    const receiving = after.filter((a, i) => a.bytes > before[i].bytes).length;
    const fps = viewers.length ? after.reduce((s, a, i) => s + a.frames - before[i].frames, 0) / viewers.length / seconds : 0;
    const mbps = viewers.length ? (after.reduce((s, a, i) => s + a.bytes - before[i].bytes, 0) * 8) / seconds / 1e6 : 0;
    const row = {
      viewers: n,
      receiving,
      workerCpuPct: +(((cpu1 - cpu0) / seconds) * 100).toFixed(1),
      videoFpsPerViewer: +fps.toFixed(1),
      egressMbps: +mbps.toFixed(1),
      clientCpuPct: +(((self1.user + self1.system) / 1e6 / seconds) * 100).toFixed(0),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    // The viewers here decode what they get; once this machine is saturated by them the frame
    // rate drops, the SFU starts retransmitting, and the figures no longer describe the SFU.
    const fullRate = Math.max(...rows.map((r) => r.videoFpsPerViewer));
    if (n > 0 && (receiving < n || fps < 0.9 * fullRate)) {
      row.saturated = true;
      console.log(`# the client machine is saturated at ${n} viewers (${fps.toFixed(1)} fps of ${fullRate}); stopping here`);
      break;
    }
  }
  console.table(rows);
  // Least-squares slope of worker CPU over viewers, on the rows where every viewer got the full rate.
  const ok = rows.filter((r) => !r.saturated);
  const mx = ok.reduce((a, r) => a + r.viewers, 0) / ok.length;
  const my = ok.reduce((a, r) => a + r.workerCpuPct, 0) / ok.length;
  const slope = ok.reduce((a, r) => a + (r.viewers - mx) * (r.workerCpuPct - my), 0) / ok.reduce((a, r) => a + (r.viewers - mx) ** 2, 0);
  const top = ok[ok.length - 1];
  const perViewerMbps = top.viewers ? top.egressMbps / top.viewers : 0;
  console.log(
    `fan-out: publisher alone ${rows[0].workerCpuPct}% of a core; +${slope.toFixed(3)}% of a core per viewer ` +
      `(${top.viewers} viewers at ${perViewerMbps.toFixed(2)} Mbit/s each: ${top.workerCpuPct}%) ` +
      `→ about ${Math.floor((100 - rows[0].workerCpuPct) / slope)} viewers per core for the SFU worker`,
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
  await stack.stop();
  // Closing dozens of wrtc peer connections can crash libwebrtc at exit (seen: SIGSEGV); the
  // servers are already stopped, so leave the sockets to the OS.
  process.exit(process.exitCode ?? 0);
}
