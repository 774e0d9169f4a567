#!/usr/bin/env node
// Scale figures (#12), each printed as one JSON line, and the README's "Scale figures" table
// regenerated from them with --write-readme:
//   list      GET /api/v1/recordings p50/p99 (first page, a status filter, a room filter and
//             a deep cursor page) with 10,000 and 100,000 recordings indexed in Redis
//   whip      WHIP publishes per second one instance accepts (offers answered 201, each in its own room)
//   rooms     rooms one SFU instance serves (one publisher each) before something refuses
//   memory    SFU memory (Node + mediasoup worker RSS) per idle room, per publisher, per viewer
//
//   npm run bench:scale -- [--only list,whip,rooms,memory] [--sizes 10000,100000] [--max-rooms 3000]
//                          [--include earlier-run.log]... [--write-readme]
//
// The sessions here are negotiated (SDP offer → answer, transports and producers/consumers made)
// but send no media: the figures are the control plane's and the idle memory's, not the media
// plane's (bench/fanout.mjs measures that).
import { readFileSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';

const ROOT = join(fileURLToPath(import.meta.url), '../..');
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'list,whip,rooms,memory' },
    sizes: { type: 'string', default: '10000,100000' },
    'max-rooms': { type: 'string', default: '3000' },
    'write-readme': { type: 'boolean', default: false },
    // Earlier runs' output (JSON lines) to put in the table too, e.g. a --only run's log.
    include: { type: 'string', multiple: true, default: [] },
  },
});
const only = new Set(args.only.split(','));

const { startStack } = await import('../tests/dist/support/stack.js');
const { startRedis } = await import('../tests/dist/support/redis.js');
const { CHROMIUM_156_PUBLISH, CHROMIUM_156_VIEW } = await import('../services/sfu/dist/media/sdp/fixtures/chromium.js');
const { newRecording, transition } = await import('../shared/dist/recordings/model.js');
const { redisKeys } = await import('../shared/dist/redis.js');
const { newId } = await import('../shared/dist/ids.js');

const load = () =>
  execSync('uptime')
    .toString()
    .trim()
    .replace(/.*load average: /, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const results = [];
const emit = (r) => {
  const line = { ...r, load: load() };
  results.push(line);
  console.log(JSON.stringify(line));
};

/** Fills Redis with `n` recordings as the store writes them (JSON + the three lex indexes). */
async function populate(redisUrl, n) {
  const redis = new Redis(redisUrl);
  const keys = redisKeys('lw');
  const statuses = ['ready', 'ready', 'ready', 'ready', 'ready', 'ready', 'ready', 'ready', 'failed', 'processing'];
  const t0 = Date.now() - n * 60_000;
  for (let i = 0; i < n; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const at = new Date(t0 + j * 60_000);
      let rec = newRecording({ id: newId(), room: `room-${j % 200}`, trigger: 'api', now: at });
      rec = transition(rec, 'active', at);
      const status = statuses[j % statuses.length];
      if (status !== 'active') rec = transition(rec, 'stopping', at, { stoppedAt: at.toISOString() });
      if (status === 'ready' || status === 'processing') rec = transition(rec, 'processing', at);
      if (status === 'ready') rec = transition(rec, 'ready', at, { durationMs: 61_000 });
      if (status === 'failed') rec = transition(rec, 'failed', at, { error: { code: 'no_media', message: 'no media' } });
      p.set(keys.recording(rec.id), JSON.stringify(rec));
      p.zadd(keys.recordingsAll, 0, rec.id);
      p.zadd(keys.recordingsByRoom(rec.room), 0, rec.id);
      p.zadd(keys.recordingsByStatus(rec.status), 0, rec.id);
    }
    await p.exec();
  }
  redis.disconnect();
}

async function timeGets(url, n) {
  const ms = [];
  let body;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await fetch(url);
    body = await r.json();
    ms.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${JSON.stringify(body)}`);
  }
  return { p50: +pct(ms, 50).toFixed(2), p99: +pct(ms, 99).toFixed(2), body };
}

async function benchList(size) {
  const redis = await startRedis();
  try {
    const t = Date.now();
    await populate(redis.url, size);
    console.log(`# ${size} recordings indexed in ${Date.now() - t} ms`);
    const stack = await startStack({ REDIS_URL: redis.url, RATE_LIMIT_IP_PER_MINUTE: '0', RATE_LIMIT_TOKEN_PER_MINUTE: '0' });
    try {
      const base = `${stack.url}/api/v1/recordings`;
      await timeGets(`${base}?limit=50`, 20); // warm-up (JIT, connections)
      const first = await timeGets(`${base}?limit=50`, 300);
      // Deep in the list: a cursor 90 % of the way down.
      const deepId = await (async () => {
        const c = new Redis(redis.url);
        const ids = await c.zrange('lw:recs', Math.floor(size * 0.1), Math.floor(size * 0.1));
        c.disconnect();
        return ids[0];
      })();
      const deep = await timeGets(`${base}?limit=50&cursor=${deepId}`, 300);
      const status = await timeGets(`${base}?limit=50&status=failed`, 300);
      const room = await timeGets(`${base}?limit=50&room=room-7`, 300);
      // The floor at this moment: the API's cheapest route, to read the list figures against.
      const floor = await timeGets(`${stack.url}/healthz`, 300);
      emit({
        bench: 'recordings list',
        recordings: size,
        pageSize: 50,
        firstPage: { p50Ms: first.p50, p99Ms: first.p99 },
        deepCursor: { p50Ms: deep.p50, p99Ms: deep.p99 },
        statusFilter: { p50Ms: status.p50, p99Ms: status.p99 },
        roomFilter: { p50Ms: room.p50, p99Ms: room.p99 },
        healthzFloor: { p50Ms: floor.p50, p99Ms: floor.p99 },
      });
    } finally {
      await stack.stop();
    }
  } finally {
    await redis.stop();
  }
}

const sdpPost = (url, sdp) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp }).then(async (r) => ({
    status: r.status,
    location: r.headers.get('location'),
    body: r.status === 201 ? '' : await r.text(),
  }));

/** The SFU's memory: its Node process and its mediasoup worker(s), MB. */
async function sfuMemory(stack) {
  const m = await (await fetch(`${stack.sfuUrl}/metrics`)).text();
  const node = Number(/^lw_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m.exec(m)?.[1]) / 2 ** 20;
  const media = await (
    await fetch(`${stack.sfuUrl}/internal/v1/media`, { headers: { Authorization: `Bearer ${stack.env.INTERNAL_TOKEN}` } })
  ).json();
  let worker = 0;
  for (const w of media.workers) worker += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return { node, worker, total: node + worker, media };
}

const bigStack = (extra = {}) =>
  startStack({
    RATE_LIMIT_IP_PER_MINUTE: '0',
    RATE_LIMIT_TOKEN_PER_MINUTE: '0',
    MAX_ROOMS: '100000',
    MAX_SESSIONS_PER_IP: '1000000',
    MAX_SUBS_PER_ROOM: '100000',
    MAX_PUBS_PER_ROOM: '16',
    SESSION_TIMEOUT_SECONDS: '3600',
    RTC_MIN_PORT: '40000',
    RTC_MAX_PORT: '49999',
    ...extra,
  });

async function benchWhip() {
  const stack = await bigStack();
  try {
    const concurrency = 8;
    const windowMs = 15_000;
    let ok = 0;
    let refused = 0;
    const lat = [];
    const locations = [];
    let n = 0;
    const until = Date.now() + windowMs;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) {
          const t = performance.now();
          const r = await sdpPost(`${stack.url}/api/whip/publish/rate-${n++}`, CHROMIUM_156_PUBLISH);
          lat.push(performance.now() - t);
          if (r.status === 201) {
            ok++;
            locations.push(r.location);
          } else refused++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    emit({
      bench: 'whip publishes',
      concurrency,
      seconds: +seconds.toFixed(1),
      accepted: ok,
      refused,
      perSecond: +(ok / seconds).toFixed(1),
      latencyP50Ms: +pct(lat, 50).toFixed(1),
      latencyP99Ms: +pct(lat, 99).toFixed(1),
    });
    for (const l of locations) await fetch(`${stack.url}${l}`, { method: 'DELETE' });
  } finally {
    await stack.stop();
  }
}

async function benchRooms(maxRooms) {
  const stack = await bigStack();
  try {
    let rooms = 0;
    let limit = `none before the bench's cap of ${maxRooms}`;
    const t0 = Date.now();
    while (rooms < maxRooms) {
      const r = await sdpPost(`${stack.url}/api/whip/publish/cap-${rooms}`, CHROMIUM_156_PUBLISH);
      if (r.status !== 201) {
        limit = `${r.status} ${r.body.slice(0, 160)}`;
        break;
      }
      rooms++;
      if (rooms % 500 === 0) console.log(`# ${rooms} rooms (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    const mem = await sfuMemory(stack);
    emit({
      bench: 'rooms per SFU instance',
      rooms,
      limit,
      sfuNodeRssMb: +mem.node.toFixed(0),
      workerRssMb: +mem.worker.toFixed(0),
      ports: '40000-49999',
    });
  } finally {
    await stack.stop();
  }
}

/** The SFU's memory settled: the median of five readings a second apart (RSS moves with GC). */
async function settledMemory(stack) {
  const xs = [];
  for (let i = 0; i < 5; i++) {
    await sleep(1000);
    xs.push(await sfuMemory(stack));
  }
  const med = (k) => xs.map((x) => x[k]).sort((p, q) => p - q)[2];
  return { node: med('node'), worker: med('worker'), total: med('node') + med('worker') };
}

async function benchMemory() {
  const stack = await bigStack();
  try {
    const rooms = 300;
    const post = async (path, sdp) => {
      const r = await sdpPost(`${stack.url}${path}`, sdp);
      if (r.status !== 201) throw new Error(`${path}: ${r.status} ${r.body}`);
    };
    const m0 = await settledMemory(stack);
    for (let i = 0; i < rooms; i++) await post(`/api/whip/publish/mem-${i}`, CHROMIUM_156_PUBLISH);
    const m1 = await settledMemory(stack);
    // Publishers beyond the first, in rooms that exist already (MAX_PUBS_PER_ROOM=16): 15 more in 20 rooms.
    let extra = 0;
    for (let i = 0; i < 20; i++) for (let k = 0; k < 15; k++, extra++) await post(`/api/whip/publish/mem-${i}`, CHROMIUM_156_PUBLISH);
    const m2 = await settledMemory(stack);
    // Viewers, 300 of them spread over 30 one-publisher rooms (10 each).
    let viewers = 0;
    for (let i = 100; i < 130; i++) for (let k = 0; k < 10; k++, viewers++) await post(`/api/whep/play/mem-${i}`, CHROMIUM_156_VIEW);
    const m3 = await settledMemory(stack);
    const kb = (a, b, count) => ({
      total: +(((b.total - a.total) * 1024) / count).toFixed(0),
      node: +(((b.node - a.node) * 1024) / count).toFixed(0),
      worker: +(((b.worker - a.worker) * 1024) / count).toFixed(0),
    });
    emit({
      bench: 'memory',
      note: 'negotiated sessions sending no media; SFU Node RSS + mediasoup worker RSS, medians of 5 readings',
      perIdleRoomKb: kb(m0, m1, rooms),
      perPublisherKb: kb(m1, m2, extra),
      perViewerKb: kb(m2, m3, viewers),
      counts: { rooms, extraPublishers: extra, viewers },
    });
  } finally {
    await stack.stop();
  }
}

for (const file of args.include)
  for (const line of readFileSync(file, 'utf8').split('\n')) if (line.startsWith('{"bench"')) results.push(JSON.parse(line));
if (only.has('list')) for (const size of args.sizes.split(',').map(Number)) await benchList(size);
if (only.has('whip')) await benchWhip();
if (only.has('rooms')) await benchRooms(Number(args['max-rooms']));
if (only.has('memory')) await benchMemory();

/** The README table between its markers, from this run's lines. */
function readmeTable() {
  const rows = ['| Figure | Value | Load avg (1/5/15 min) |', '|---|---|---|'];
  for (const r of results) {
    if (r.bench === 'recordings list')
      rows.push(
        `| Recordings list, ${r.recordings.toLocaleString('en')} recordings (page of 50): first page / deep cursor / status filter / room filter, p50 · p99 | ` +
          `${r.firstPage.p50Ms} · ${r.firstPage.p99Ms} ms / ${r.deepCursor.p50Ms} · ${r.deepCursor.p99Ms} ms / ${r.statusFilter.p50Ms} · ${r.statusFilter.p99Ms} ms / ${r.roomFilter.p50Ms} · ${r.roomFilter.p99Ms} ms (GET /healthz at the same time: ${r.healthzFloor.p50Ms} · ${r.healthzFloor.p99Ms} ms) | ${r.load} |`,
      );
    if (r.bench === 'whip publishes')
      rows.push(
        `| WHIP publishes accepted per second, one instance (${r.concurrency} concurrent clients, ${r.seconds} s) | ${r.perSecond}/s (p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms) | ${r.load} |`,
      );
    if (r.bench === 'rooms per SFU instance')
      rows.push(
        `| Rooms per SFU instance (one publisher each), until refused | ${r.rooms} (limit: ${r.limit}; SFU ${r.sfuNodeRssMb} MB + worker ${r.workerRssMb} MB) | ${r.load} |`,
      );
    if (r.bench === 'memory')
      rows.push(
        `| SFU memory per idle room (with its publisher) / per extra publisher / per viewer | ${r.perIdleRoomKb.total} / ${r.perPublisherKb.total} / ${r.perViewerKb.total} KB ` +
          `(Node ${r.perIdleRoomKb.node} / ${r.perPublisherKb.node} / ${r.perViewerKb.node}, worker ${r.perIdleRoomKb.worker} / ${r.perPublisherKb.worker} / ${r.perViewerKb.worker}) | ${r.load} |`,
      );
  }
  return rows.join('\n');
}

if (args['write-readme']) {
  const path = join(ROOT, 'README.md');
  const readme = readFileSync(path, 'utf8');
  const begin = '<!-- scale-figures:begin (bench/scale.mjs --write-readme) -->';
  const end = '<!-- scale-figures:end -->';
  const i = readme.indexOf(begin);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error('README.md has no scale-figures markers');
  writeFileSync(path, readme.slice(0, i + begin.length) + '\n' + readmeTable() + '\n' + readme.slice(j));
  console.log('# README.md scale table regenerated');
}
console.log(readmeTable());
process.exit(0);
