// Joining run files by byte range (mkv/join.ts + Storage.compose), on files real ffmpeg wrote as
// a capture run writes its continuous file (VP8 + Opus WebM, 1 s clusters, the run's offset
// added to its timestamps): the joined file decodes without an error, its timestamps only go
// forward, it keeps every frame but those an overlap cut, and its duration and cues are right.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { LocalStorage } from '@live-webrtc/shared';
import { LayoutError, readRunLayout } from './layout.js';
import { planJoin, type JoinRun } from './join.js';

const run = promisify(execFile);
let dir: string;
let storage: LocalStorage;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lw-join-'));
  storage = new LocalStorage(join(dir, 'store'));
  await storage.init();
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `seconds` of 30 fps video (a keyframe a second) and 48 kHz audio, its timestamps shifted by offsetS. */
async function writeRun(name: string, seconds: number, offsetS: number): Promise<string> {
  const path = join(dir, name);
  // prettier-ignore
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=160x120:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libvpx', '-g', '30', '-b:v', '200k', '-deadline', 'realtime', '-cpu-used', '8',
    '-c:a', 'libopus',
    ...(offsetS ? ['-output_ts_offset', String(offsetS)] : []),
    '-f', 'webm', '-cluster_time_limit', '1000', '-y', path,
  ]);
  return path;
}

interface Packet {
  stream: number;
  pts: number;
}

async function packets(path: string): Promise<Packet[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time', '-of', 'csv=p=0', path], {
    maxBuffer: 64 * 1024 * 1024,
  });
  // Lines that are not "stream,pts" are packets' side data.
  return stdout
    .trim()
    .split('\n')
    .filter((l) => /^\d+,-?[\d.]+$/.test(l))
    .map((l) => {
      const [stream, pts] = l.split(',');
      return { stream: Number(stream), pts: Number(pts) };
    });
}

async function joined(runs: { file: string; key: string }[], target: string) {
  const jr: JoinRun[] = [];
  for (const r of runs) {
    await storage.putFile(r.key, join(dir, r.file), 'video/webm');
    jr.push({ key: r.key, layout: await readRunLayout(join(dir, r.file)) });
  }
  const plan = await planJoin(jr, async (key, start, end) => {
    const s = await storage.getStream(key, { start, end: end - 1 });
    const chunks: Buffer[] = [];
    for await (const c of s!) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  });
  const { size } = await storage.compose(target, plan.pieces, 'video/webm');
  assert.equal(size, plan.size);
  return { plan, path: storage.pathOf(target) };
}

test('a run file layout: clusters with timestamps on the run offset, keyframe clusters, the duration', async () => {
  const path = await writeRun('layout.webm', 4, 10);
  const l = await readRunLayout(path);
  assert.ok(l.clusters.length >= 4 && l.clusters.length <= 6, `${l.clusters.length} clusters for 4 s`);
  assert.ok(Math.abs(l.clusters[0]![1] - 10_000) <= 50, `first cluster at ${l.clusters[0]![1]} ms (offset 10 s)`);
  assert.ok(Math.abs(l.durationMs - 14_000) <= 100, `duration ${l.durationMs} ms`);
  assert.ok(l.clusters.filter((c) => c[2] === 1).length >= 3, 'clusters that start on a keyframe are seek points');
  assert.match(l.trackSignature, /V_VP8/);
  assert.match(l.trackSignature, /A_OPUS/);
});

test('a file whose ffmpeg was killed: refused as it is, salvaged up to its last whole cluster, and joined with the next run', async () => {
  const path = join(dir, 'killed.webm');
  // Written in real time at 2 Mbit/s (ffmpeg writes the file 256 KiB at a time), SIGKILLed after
  // ~4.5 s: no Duration, no Cues, the last cluster most likely cut short.
  // prettier-ignore
  const ff = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libvpx', '-g', '30', '-b:v', '2M', '-deadline', 'realtime', '-cpu-used', '8',
    '-c:a', 'libopus', '-f', 'webm', '-cluster_time_limit', '1000', '-y', path,
  ], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 4500));
  ff.kill('SIGKILL');
  await once(ff, 'exit');
  await assert.rejects(readRunLayout(path), LayoutError);
  const l = await readRunLayout(path, { salvage: true });
  const { size } = await stat(path);
  assert.ok(l.clusters.length >= 1, `${l.clusters.length} whole clusters`);
  assert.ok(l.clustersEnd <= size, 'only whole clusters');
  // ffmpeg had ~1 s (its cluster time limit) in memory when it was killed; the start took some.
  assert.ok(l.durationMs >= 1000 && l.durationMs <= 4600, `salvaged ${l.durationMs} ms of ~4.5 s`);
  assert.ok(l.durationMs >= l.clusters[l.clusters.length - 1]![1], 'the duration reaches into the last cluster');
  // The salvaged run joins with a closed one: a file that decodes and only goes forward.
  await storage.putFile('runs/killed.webm', path, 'video/webm');
  const next = await writeRun('after-kill.webm', 2, Math.ceil(l.durationMs / 1000) + 1);
  await storage.putFile('runs/after-kill.webm', next, 'video/webm');
  const plan = await planJoin(
    [
      { key: 'runs/killed.webm', layout: l },
      { key: 'runs/after-kill.webm', layout: await readRunLayout(next) },
    ],
    async () => {
      throw new Error('no cut expected');
    },
  );
  await storage.compose('joined-killed.webm', plan.pieces, 'video/webm');
  const out = storage.pathOf('joined-killed.webm');
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', out, '-f', 'null', '-']);
  assert.equal(stderr.trim(), '', 'decodes without an error');
  const pts = (await packets(out)).filter((p) => p.stream === 0).map((p) => p.pts);
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i]! >= pts[i - 1]!, `video goes forward (${pts[i - 1]} then ${pts[i]})`);
});

test('runs with a gap and an overlap join into one file that decodes, only goes forward and keeps every frame', async () => {
  // Run A 0–6 s; run B 8–14 s (a 2 s gap: a rejoin); run C from 13.5 s (a handover: B recorded
  // on until C was fed, so B's last half second is left out, cut inside its last cluster).
  await writeRun('a.webm', 6, 0);
  await writeRun('b.webm', 6, 8);
  await writeRun('c.webm', 4, 13.5);
  const { plan, path } = await joined(
    [
      { file: 'a.webm', key: 'rec/raw.webm' },
      { file: 'b.webm', key: 'rec/runs/run-1.webm' },
      { file: 'c.webm', key: 'rec/runs/run-2.webm' },
    ],
    'rec/raw.webm', // the first run's own object is replaced, as in the product
  );
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-']);
  assert.equal(stderr.trim(), '', 'decodes without an error');
  const pk = await packets(path);
  for (const s of [0, 1]) {
    const ts = pk.filter((p) => p.stream === s).map((p) => p.pts);
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! >= ts[i - 1]!, `stream ${s}: pts ${ts[i]} after ${ts[i - 1]}`);
  }
  const video = pk.filter((p) => p.stream === 0).map((p) => p.pts);
  const inB = video.filter((t) => t >= 8 && t < 13.5).length;
  assert.equal(video.filter((t) => t < 6).length, 180, 'run A whole');
  assert.ok(Math.abs(inB - 165) <= 1, `run B up to C's start: ${inB} frames`);
  assert.equal(video.filter((t) => t >= 13.5).length, 120, 'run C whole');
  assert.ok(Math.abs(plan.durationMs - 17_500) <= 100, `duration ${plan.durationMs}`);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path]);
  assert.ok(Math.abs(Number(stdout) - 17.5) <= 0.1, `declared duration ${stdout}`);
  // A seek lands on a cue: the frame decoded after seeking to 10 s is at 10 s (a keyframe a second).
  const seek = await run('ffprobe', [
    '-v',
    'error',
    '-read_intervals',
    '10%+#1',
    '-show_entries',
    'packet=pts_time',
    '-select_streams',
    'v',
    '-of',
    'csv=p=0',
    path,
  ]);
  assert.ok(Math.abs(Number(seek.stdout.trim()) - 10) <= 0.05, `first packet after a seek to 10 s: ${seek.stdout.trim()}`);
});

test('runs with different tracks are not joined', async () => {
  const path = join(dir, 'audio.webm');
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'libopus', '-f', 'webm', '-y', path]);
  await writeRun('v.webm', 2, 0);
  await assert.rejects(
    planJoin(
      [
        { key: 'x', layout: await readRunLayout(join(dir, 'v.webm')) },
        { key: 'y', layout: await readRunLayout(path) },
      ],
      () => Promise.reject(new Error('no fetch expected')),
    ),
    /different tracks/,
  );
});
