#!/usr/bin/env node
// Recording benchmark: how many concurrent A/V recordings one recorder holds, what each costs,
// and stop → ready by recording length.
//
//   node bench/record.mjs [--n 20] [--kbps 1500] [--window 20] [--lengths 10,600,3600]
//                         [--repeat 3] [--speed 20] [--storage s3|local] [--segment 10] [--rejoin]
//
// What runs: the recorder as `npm start` runs it (its own process, real ffmpeg per capture),
// real Redis, real S3 (Ceph radosgw; --storage local for a directory). The SFU's side of the
// tap protocol is played by this script, and the publishers are pre-encoded media: a VP8 +
// Opus clip at --kbps (encoded once, cached in $TMPDIR/lw-bench-clips), looped and sent as RTP
// by one `ffmpeg -c copy` per recording, so publishers cost almost nothing and the recorder is
// what is measured. The SFU's own cost per recording is one consumer per track on a
// PlainTransport (no SRTP, no congestion control): see bench/fanout.mjs for that figure; it is
// not measured here.
//
// Phase 1 (capacity): --n recordings at --kbps in real time; after all have their first frame,
// CPU (recorder process, its ffmpeg children) and RSS are sampled over --window seconds; then
// all are stopped at once and stop → ready is measured.
// Phase 2 (length): for each of --lengths (seconds of media), --repeat recordings at 2 Mbit/s,
// fed --speed × faster than real time (the recorder copies packets; nothing in its one-run stop
// path depends on wall time, so it cannot tell), stopped once fed, stop → ready p50/p95. With
// --rejoin each of them has two runs: halfway through its media the "SFU" tells the capture the
// publisher rejoined (`restart-run`), the capture hands on to a new run and the feed moves to
// the new run's ports; each run keeps a continuous file and the raw is joined from them by byte
// range at stop (mkv/join.ts). Runs are placed on the wall clock (live media), so a rejoin
// bench is fed in real time whatever --speed says: faster feeds would overlap and be cut.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';

const shared = await import('../shared/dist/index.js');
const { startRedis } = await import('../tests/dist/support/redis.js');
const { startCephS3 } = await import('../tests/dist/support/ceph-s3.js');
const { freePort } = await import('../tests/dist/support/ports.js');

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    kbps: { type: 'string', default: '1500' },
    window: { type: 'string', default: '20' },
    lengths: { type: 'string', default: '10,600,3600' },
    repeat: { type: 'string', default: '3' },
    speed: { type: 'string', default: '20' },
    storage: { type: 'string', default: 's3' },
    segment: { type: 'string', default: '10' },
    rejoin: { type: 'boolean', default: false },
  },
});
const N = Number(flags.n);
const KBPS = Number(flags.kbps);
const WINDOW_S = Number(flags.window);
const LENGTHS = flags.lengths.split(',').filter(Boolean).map(Number);
const REPEAT = Number(flags.repeat);
const SPEED = Number(flags.speed);
const exec = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const root = new URL('..', import.meta.url).pathname;
const CLK_TCK = 100;
const PAGE = 4096;

const TRACKS = [
  {
    trackId: 'video',
    kind: 'video',
    participant: 'bench',
    codec: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {} },
    ssrc: 11111111,
  },
  {
    trackId: 'audio',
    kind: 'audio',
    participant: 'bench',
    codec: { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
    ssrc: 22222222,
  },
];

/** A 6 s VP8 (a keyframe a second) + Opus clip at `kbps`, encoded once and cached. */
async function clip(kbps) {
  const dir = join(tmpdir(), 'lw-bench-clips');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `clip-${kbps}k.webm`);
  if (existsSync(path)) return path;
  console.log(`encoding a ${kbps} kbit/s clip (once) …`);
  const k = `${kbps - 64}k`;
  // prettier-ignore
  await exec('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '6', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', k, '-minrate', k, '-maxrate', k, '-g', '30',
    '-c:a', 'libopus', '-ac', '2', '-b:a', '64k', '-y', `${path}.tmp.webm`,
  ]);
  await exec('mv', [`${path}.tmp.webm`, path]);
  return path;
}

/** One publisher: the clip looped, as RTP to the recorder's ports, for `seconds` of media at `speed`. */
function feed(clipPath, ports, seconds, speed) {
  const [v, a] = TRACKS;
  // prettier-ignore
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    ...(speed === 1 ? ['-re'] : ['-readrate', String(speed)]), '-stream_loop', '-1', '-i', clipPath,
    '-map', '0:v', '-c', 'copy', '-t', String(seconds), '-payload_type', '96', '-ssrc', String(v.ssrc),
    '-f', 'rtp', `rtp://127.0.0.1:${ports.video}?rtcpport=${ports.video + 1}&pkt_size=1200`,
    '-map', '0:a', '-c', 'copy', '-t', String(seconds), '-payload_type', '111', '-ssrc', String(a.ssrc),
    '-f', 'rtp', `rtp://127.0.0.1:${ports.audio}?rtcpport=${ports.audio + 1}`,
  ];
  return spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'ignore'] });
}

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK,
      rss: Number(f[21]) * PAGE,
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    };
  } catch {
    return null;
  }
}

/** The recorder's own CPU/RSS and its ffmpeg children's (by pid). */
function sample(recorderPid) {
  const me = procStat(recorderPid);
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(Number(d));
    if (s && s.ppid === recorderPid && s.comm === 'ffmpeg') children.set(Number(d), s);
  }
  return { recorder: me, ffmpeg: children };
}

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'lw-bench-record-'));
  const cleanups = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await rm(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const prefix = `bench${process.pid}`;
    const env = {
      ...process.env,
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: join(work, 'records'),
      RECORDER_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
      RECORDER_ROLES: 'capture',
      RECORDER_CONCURRENCY: String(Math.max(N, REPEAT) + 5),
      SEGMENT_SECONDS: flags.segment,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      INTERNAL_TOKEN: 'bench-internal-token-0123456789abcdef',
    };
    let storage;
    if (flags.storage === 's3') {
      const s3 = await startCephS3();
      cleanups.push(() => s3.stop());
      Object.assign(env, {
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_BUCKET: 'lw-bench',
        S3_ACCESS_KEY: s3.accessKey,
        S3_SECRET_KEY: s3.secretKey,
        S3_USE_SSL: '0',
        S3_PATH_STYLE: '1',
      });
      storage = new shared.S3Storage({
        endpoint: s3.endpoint,
        region: s3.region,
        bucket: 'lw-bench',
        accessKey: s3.accessKey,
        secretKey: s3.secretKey,
        useSsl: false,
        pathStyle: true,
      });
    } else {
      storage = new shared.LocalStorage(env.RECORD_DIR);
    }
    await storage.init();
    const conn = shared.createRedis(redis.url, 'bench');
    cleanups.push(async () => conn.disconnect());
    const keys = shared.redisKeys(prefix);
    const store = new shared.RecordingStore(conn, keys, storage);
    const queues = new shared.JobQueues(conn, prefix);
    cleanups.push(() => queues.close());

    // The SFU's side: tap open → tracks; connect → a publisher starts feeding those ports.
    const feeders = new Set();
    const onConnect = new Map(); // recording id → (ports) => void
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const m = /^\/internal\/v1\/recordings\/([^/]+)\/runs\/(\d+)(\/\w+)?$/.exec(req.url ?? '');
        const send = (status, json) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(json === undefined ? '' : JSON.stringify(json));
        if (!m) return send(404, { error: { code: 'not_found', message: req.url } });
        const [, id, attempt, action] = m;
        if (req.method === 'POST' && !action) return send(201, { tracks: TRACKS });
        if (req.method === 'POST' && action === '/connect') {
          const c = JSON.parse(body);
          const port = (t) => c.tracks.find((x) => x.trackId === t).rtpPort;
          onConnect.get(id)?.({ video: port('video'), audio: port('audio') });
          return send(204);
        }
        if (req.method === 'POST' && action === '/keyframe') return send(204);
        if (req.method === 'GET' && !action) return send(200, { attempt: Number(attempt), live: true, bytesSent: 0 });
        if (req.method === 'DELETE') return send(204);
        return send(405, { error: { code: 'method_not_allowed', message: req.method } });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const sfu = {
      id: `bench-sfu-${process.pid}`,
      publicUrl: 'http://127.0.0.1:1',
      internalUrl: `http://127.0.0.1:${server.address().port}`,
      startedAt: new Date().toISOString(),
    };
    const registry = new shared.RoomRegistry(conn, keys);
    const rooms = new Set();
    await registry.heartbeat(sfu, []);
    const beat = setInterval(() => void registry.heartbeat(sfu, [...rooms]).catch(() => {}), 2000);
    cleanups.push(async () => clearInterval(beat));
    cleanups.push(async () => {
      for (const f of feeders) f.kill('SIGKILL');
    });

    // The recorder, as npm start runs it.
    const recorder = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_RECORDER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_RECORDER_PROF}`] : []),
        join(root, 'services/recorder/dist/main.js'),
      ],
      {
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    cleanups.push(async () => {
      if (recorder.exitCode === null) {
        recorder.kill('SIGTERM');
        await Promise.race([once(recorder, 'exit'), sleep(15_000)]);
        if (recorder.exitCode === null) recorder.kill('SIGKILL');
      }
    });
    const metricsUrl = `http://${env.RECORDER_HTTP_ADDR}/metrics`;
    for (let i = 0; ; i++) {
      if (recorder.exitCode !== null) throw new Error('the recorder exited at start');
      if ((await fetch(metricsUrl).catch(() => null))?.ok) break;
      if (i > 600) throw new Error('the recorder did not come up');
      await sleep(100);
    }
    const metric = async (name, labels = '') => {
      const text = await (await fetch(metricsUrl)).text();
      const re = new RegExp(`^${name}(\\{[^}]*${labels}[^}]*\\})? ([\\d.e+-]+)$`, 'gm');
      return [...text.matchAll(re)].reduce((a, m) => a + Number(m[2]), 0);
    };

    let roomN = 0;
    /** Starts one recording fed by `clipPath`; resolves its handles. */
    const startOne = async (clipPath, seconds, speed, rejoin = false) => {
      const room = `room-${++roomN}`;
      rooms.add(room);
      await registry.claim(room, sfu.id);
      const rec = await store.create(room, 'api');
      const h = { id: rec.id, room, enqueuedAt: performance.now(), connectedAt: NaN, feeder: null, fed: null };
      let left = seconds;
      let feedAt = 0;
      h.fed = new Promise((resolve) => {
        onConnect.set(rec.id, (ports) => {
          if (h.feeder) {
            // A new run connected (after `restart-run`): the publisher's media moves to it.
            left -= ((performance.now() - feedAt) / 1000) * speed;
            feeders.delete(h.feeder);
            h.feeder.kill('SIGKILL');
          } else {
            h.connectedAt = performance.now();
            if (rejoin)
              setTimeout(
                () =>
                  void conn.publish(
                    keys.recordingChannel(rec.id),
                    shared.encodeMessage({ type: 'restart-run', recordingId: rec.id, reason: 'bench rejoin' }),
                  ),
                ((seconds / 2) * 1000) / speed,
              );
          }
          feedAt = performance.now();
          const f = feed(clipPath, ports, Math.max(1, Math.round(left)), speed);
          feeders.add(f);
          h.feeder = f;
          f.once('exit', () => {
            feeders.delete(f);
            if (h.feeder === f) resolve();
          });
        });
      });
      await queues.enqueue(
        'CaptureRecording',
        { v: 1, recordingId: rec.id, room, sfuInstance: sfu.id, firstSegment: 0, tracks: [], attempt: 0 },
        { jobId: shared.jobIds.captureRun(rec.id, 0), attempts: 1 },
      );
      return h;
    };
    const waitStatus = async (id, statuses, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await store.get(id);
        if (r && statuses.includes(r.status)) return r;
        if (r?.status === 'failed') throw new Error(`recording ${id} failed: ${JSON.stringify(r.error)}`);
        if (Date.now() > until) throw new Error(`recording ${id} is ${r?.status} after ${timeoutMs} ms`);
        await sleep(25);
      }
    };
    /** Stops every handle at once; resolves stop → ready per recording, ms. */
    const stopAll = async (hs) =>
      Promise.all(
        hs.map(async (h) => {
          const t0 = performance.now();
          await shared.requestStop(store, conn, keys, h.id);
          const r = await waitStatus(h.id, ['ready'], 600_000);
          return { ms: performance.now() - t0, rec: r };
        }),
      );

    const load = () => `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
    console.log(`# bench/record.mjs — ${availableParallelism()} cores, storage ${flags.storage}, ${load()}`);

    // Phase 1: capacity.
    if (N > 0) {
      const c = await clip(KBPS);
      console.log(`\n## ${N} concurrent recordings at ${KBPS} kbit/s (VP8 640x360 30 fps + Opus), real time`);
      // Started a few at a time (as starts arrive in production), not all in one burst: on a
      // loaded machine ffmpeg processes starting together may not bind their ports in time.
      const hs = [];
      let failedStarts = 0;
      for (let i = 0; i < N; i += 4) {
        const batch = [];
        for (let j = i; j < Math.min(N, i + 4); j++) batch.push(await startOne(c, 24 * 3600, 1));
        const ok = await Promise.all(
          batch.map((h) =>
            waitStatus(h.id, ['active'], 60_000).then(
              () => true,
              () => false,
            ),
          ),
        );
        batch.forEach((h, k) => {
          if (ok[k]) hs.push(h);
          else {
            failedStarts++;
            h.feeder?.kill('SIGKILL');
          }
        });
      }
      if (failedStarts > 0) console.log(`${failedStarts} of ${N} recordings failed to start (left out)`);
      const n = hs.length;
      const startMs = hs.map((h) => h.connectedAt - h.enqueuedAt);
      await sleep(2000);
      const s0 = sample(recorder.pid);
      const lost0 = await metric('lw_recorder_rtp_packets_total', 'result="lost"');
      const t0 = performance.now();
      await sleep(WINDOW_S * 1000);
      const s1 = sample(recorder.pid);
      const lost1 = await metric('lw_recorder_rtp_packets_total', 'result="lost"');
      const late = await metric('lw_recorder_rtp_packets_total', 'result="late"');
      const secs = (performance.now() - t0) / 1000;
      const recCpu = (s1.recorder.cpu - s0.recorder.cpu) / secs;
      let ffCpu = 0;
      let ffRss = 0;
      for (const [pid, s] of s1.ffmpeg) {
        const before = s0.ffmpeg.get(pid);
        if (before) ffCpu += (s.cpu - before.cpu) / secs;
        ffRss += s.rss;
      }
      const perRec = (recCpu + ffCpu) / n;
      const rssPer = (s1.recorder.rss + ffRss) / n;
      console.log(
        `start → tap connected (recorder's share of start latency): p50 ${pct(startMs, 50).toFixed(0)} ms, p95 ${pct(startMs, 95).toFixed(0)} ms`,
      );
      console.log(
        `CPU per recording: recorder ${((recCpu / n) * 100).toFixed(2)} %, ffmpeg ${((ffCpu / n) * 100).toFixed(2)} % (of one core); SFU: not measured here (see the header)`,
      );
      console.log(`→ ${(1 / perRec).toFixed(0)} recordings per core (recorder + ffmpeg) at ${KBPS} kbit/s`);
      console.log(
        `RSS per recording: ${(rssPer / 1024 / 1024).toFixed(1)} MB (recorder ${(s1.recorder.rss / 1024 / 1024).toFixed(0)} MB shared + ffmpeg ${(ffRss / s1.ffmpeg.size / 1024 / 1024).toFixed(1)} MB each; ${s1.ffmpeg.size} ffmpeg)`,
      );
      console.log(`RTP packets lost in the window: ${lost1 - lost0} (late, whole run: ${late}); ${load()}`);
      for (const h of hs) h.feeder?.kill('SIGKILL');
      const stops = await stopAll(hs);
      const ms = stops.map((s) => s.ms);
      // Frames: what the files hold against what was sent (30 fps over the recorded duration).
      let frames = 0;
      let expected = 0;
      for (const s of stops.slice(0, 3)) {
        const raw = s.rec.outputs.find((o) => o.name === 'raw');
        const file = join(work, `${s.rec.id}.webm`);
        await storage.download(shared.recordingKeys.output(s.rec.id, raw.file), file);
        const { stdout } = await exec('ffprobe', [
          '-v',
          'error',
          '-select_streams',
          'v:0',
          '-count_packets',
          '-show_entries',
          'stream=nb_read_packets:format=duration',
          '-of',
          'json',
          file,
        ]);
        const j = JSON.parse(stdout);
        frames += Number(j.streams[0].nb_read_packets);
        expected += Math.round(Number(j.format.duration) * 30);
      }
      console.log(`video frames in 3 files: ${frames} of ~${expected} (${expected - frames} missing)`);
      console.log(
        `stop → ready, ${n} stopped at once, ~${(WINDOW_S + 2).toFixed(0)} s recordings: p50 ${pct(ms, 50).toFixed(0)} ms, p95 ${pct(ms, 95).toFixed(0)} ms`,
      );
    }

    // Phase 2: stop → ready by length.
    if (LENGTHS.length > 0) {
      const c = await clip(2000);
      console.log(
        `\n## stop → ready by length, 2 Mbit/s, ${REPEAT} recordings each, fed at ${flags.rejoin ? 1 : SPEED}× real time` +
          (flags.rejoin ? ', two runs each (a rejoin halfway)' : ''),
      );
      for (const L of LENGTHS) {
        const bytes0 = await metric('lw_recorder_stop_upload_bytes_sum');
        const fast0 = await metric('lw_recorder_finalize_path_total', 'path="fast"');
        const joined0 = await metric('lw_recorder_finalize_path_total', 'path="join_runs"');
        const parked0 = await metric('lw_recorder_finalize_path_total', 'path="join_parked"');
        const hs = [];
        for (let i = 0; i < REPEAT; i++) hs.push(await startOne(c, L, L <= 10 || flags.rejoin ? 1 : SPEED, flags.rejoin));
        await Promise.all(hs.map((h) => h.fed));
        // Fed faster than real time, storage may lag behind the files (it would not at 2 Mbit/s
        // in real time): wait until the uploads caught up, as they have in a real recording.
        const fedAt = performance.now();
        await sleep(1500);
        while ((await metric('lw_recorder_continuous_backlog_bytes')) > 0) await sleep(500);
        const drainS = (performance.now() - fedAt) / 1000;
        const stops = await stopAll(hs);
        const ms = stops.map((s) => s.ms);
        const size = stops.reduce((a, s) => a + (s.rec.outputs.find((o) => o.name === 'raw')?.size ?? 0), 0) / stops.length;
        const bytes = ((await metric('lw_recorder_stop_upload_bytes_sum')) - bytes0) / REPEAT;
        const fast = (await metric('lw_recorder_finalize_path_total', 'path="fast"')) - fast0;
        const joined = (await metric('lw_recorder_finalize_path_total', 'path="join_runs"')) - joined0;
        const parked = (await metric('lw_recorder_finalize_path_total', 'path="join_parked"')) - parked0;
        console.log(
          `${String(L).padStart(5)} s (${(size / 1024 / 1024).toFixed(0)} MB): stop → ready p50 ${pct(ms, 50).toFixed(0)} ms, p95 ${pct(ms, 95).toFixed(0)} ms; ` +
            `uploaded after stop ${(bytes / 1024 / 1024).toFixed(1)} MB each; continuous file used ${fast}/${REPEAT}, run files joined by copy ${joined}/${REPEAT}, from a shared upload ${parked}/${REPEAT}; ` +
            `runs ${stops.map((x) => new Set(x.rec.segments.map((g) => g.run)).size).join('/')}; ` +
            `uploads caught up ${drainS.toFixed(1)} s after the feed; ${load()}`,
        );
      }
    }
  } finally {
    await cleanup();
  }
}

await main();
process.exit(0);
