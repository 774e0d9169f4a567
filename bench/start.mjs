#!/usr/bin/env node
// Start latency benchmark (issue 7, item 3): how long a start request takes and where the
// recording's file begins relative to its answer.
//
//   node bench/start.mjs [--n 20] [--hold 1000] [--modes wait,async]
//
// What runs: the whole product as `npm start` runs it (tests/support/stack.ts: private Redis,
// SFU, recorder, API on loopback) and one Chromium publishing its fake camera and microphone
// over WHIP. The room is recorded --n times per mode, one after another: start, hold --hold ms,
// stop, wait until `ready`. Modes: `wait` (the default answer: once the first frame arrived,
// within RECORDING_START_WAIT_MS) and `async` (`Prefer: respond-async`: the old immediate answer).
//
// Per start (all on this host's one clock):
//   (a) requestToAnswerMs: the start request sent → its 201 received;
//   (b) answerToFirstFrameMs: the 201 → the recording's firstFrameAt (ffmpeg reported the first
//       decodable frame; the file's first packet is a little earlier still). Negative: the file
//       began before the answer;
//   (c) requestToFirstFrameMs: the request → firstFrameAt, the pipeline's own latency.
// And its parts, from the recorder's log: createdToRunMs (the SFU created the recording → the
// capture run began: queue), tapMs (tap opened), ffmpegMs (ffmpeg started and bound its ports),
// connectedMs (tap connected, from the run's start), afterListeningMs (connected → first frame).
// Prints one JSON document: p50/p95/max of each per mode, and the load average.
// START_BENCH_LOG_SLOW=1 also prints the services' log lines of every start whose first frame
// came more than 500 ms after the tap connected (stderr).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { startStack } = await import('../tests/dist/support/stack.js');
const { launchBrowser, whipPublish } = await import('../tests/dist/support/browser.js');
const { startTogether } = await import('../tests/dist/support/together.js');

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    hold: { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'wait,async' },
  },
});
const N = Number(flags.n);
const HOLD_MS = Number(flags.hold);
const MODES = flags.modes.split(',').filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pct(xs, p) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const summary = (xs) => ({ p50: pct(xs, 50), p95: pct(xs, 95), max: pct(xs, 100), n: xs.filter(Number.isFinite).length });

async function api(stack, method, path, headers = {}) {
  const r = await fetch(`${stack.url}${path}`, { method, headers });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function waitFor(stack, id, statuses, timeoutMs) {
  const until = Date.now() + timeoutMs;
  let rec;
  while (Date.now() < until) {
    rec = (await api(stack, 'GET', `/api/v1/recordings/${id}`)).body;
    if (statuses.includes(rec.status)) return rec;
    await sleep(25);
  }
  throw new Error(`recording ${id} did not reach ${statuses.join('/')}: ${JSON.stringify(rec)}`);
}

/** The recorder's JSON log record with `msg` for recording `id`, or null. */
function logRecord(stack, id, msg) {
  for (const line of stack.logs) {
    if (!line.includes(id) || !line.includes(`"msg":"${msg}"`)) continue;
    try {
      return JSON.parse(line.slice(line.indexOf('{')));
    } catch {
      /* not JSON */
    }
  }
  return null;
}

const [browser, stack] = await startTogether(launchBrowser(), startStack({ LOG_LEVEL: 'info' }));
const results = {};
try {
  const room = 'bench-start';
  const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/${room}`);
  if (pub.status !== 201) throw new Error(`WHIP publish answered ${pub.status}`);
  await sleep(2000); // the publisher's bandwidth estimate settles
  for (const mode of MODES) {
    const rows = [];
    for (let i = 0; i < N; i++) {
      const headers = mode === 'async' ? { Prefer: 'respond-async' } : {};
      let requestAt;
      let started;
      let answerAt;
      // The SFU lets go of the room's last recording when it hears `capture-ended`, which can
      // come just after `ready`: a 409 then is retried.
      for (let tries = 0; ; tries++) {
        requestAt = Date.now();
        started = await api(stack, 'POST', `/api/v1/rooms/${room}/recordings`, headers);
        answerAt = Date.now();
        if (started.status !== 409 || tries >= 100) break;
        await sleep(50);
      }
      if (started.status !== 201) throw new Error(`start answered ${started.status}: ${JSON.stringify(started.body)}`);
      const id = started.body.id;
      const active = started.body.status === 'active' ? started.body : await waitFor(stack, id, ['active'], 20_000);
      const firstFrameAt = Date.parse(active.firstFrameAt);
      await sleep(HOLD_MS);
      await api(stack, 'POST', `/api/v1/recordings/${id}/stop`);
      await waitFor(stack, id, ['ready', 'failed'], 60_000);
      const listening = logRecord(stack, id, 'capture listening');
      const frame = logRecord(stack, id, 'first decodable frame');
      const runStartAt = listening ? Date.parse(listening.time) - listening.connectedMs : NaN;
      rows.push({
        answeredStatus: started.body.status,
        requestToAnswerMs: answerAt - requestAt,
        answerToFirstFrameMs: firstFrameAt - answerAt,
        requestToFirstFrameMs: firstFrameAt - requestAt,
        createdToRunMs: runStartAt - Date.parse(active.startedAt),
        tapMs: listening?.tapMs ?? NaN,
        ffmpegMs: listening?.ffmpegMs ?? NaN,
        connectedMs: listening?.connectedMs ?? NaN,
        afterListeningMs: frame?.afterListeningMs ?? NaN,
      });
      process.stderr.write(`# ${mode} ${i + 1}/${N}: ${JSON.stringify(rows.at(-1))}\n`);
      // A slow first frame: its services' log lines, to see where the time went.
      if (process.env['START_BENCH_LOG_SLOW'] && rows.at(-1).afterListeningMs > 500)
        for (const line of stack.logs) if (line.includes(id) || line.includes('keyframe')) process.stderr.write(`#   ${line}\n`);
    }
    const keys = Object.keys(rows[0]).filter((k) => k !== 'answeredStatus');
    results[mode] = {
      starts: rows.length,
      answeredActive: rows.filter((r) => r.answeredStatus === 'active').length,
      ...Object.fromEntries(keys.map((k) => [k, summary(rows.map((r) => r[k]))])),
    };
  }
  await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
} finally {
  await Promise.all([browser.close(), stack.stop()]);
}
console.log(JSON.stringify({ n: N, holdMs: HOLD_MS, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), results }, null, 2));
