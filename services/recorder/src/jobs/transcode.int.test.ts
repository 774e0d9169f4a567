// The transcoding pipeline against a real Redis, real ffmpeg and local storage. The test plays
// the capture side: it stores one Matroska segment made with ffmpeg's lavfi sources, moves the
// recording to `processing` and queues its finalize job; from there the recorder does the
// rest (raw file → `ready` → transcode jobs). Every output is then checked with ffprobe
// against the raw file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  createLogger,
  createStorage,
  createRedis,
  jobIds,
  JobQueues,
  LocalStorage,
  recordingKeys,
  RecordingStore,
  redisKeys,
  saveRecordingOptions,
  transition,
  type Recording,
} from '@live-webrtc/shared';
import { loadRecorderConfig } from '../config.js';
import { ffprobe } from '../ffmpeg/probe.js';
import { startRecorder } from '../service.js';

const run = promisify(execFile);

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}
async function startRedis(): Promise<RedisServer> {
  const url = new URL('../../../../tests/dist/support/redis.js', import.meta.url).href;
  const mod = (await import(url)) as { startRedis(): Promise<RedisServer> };
  return mod.startRedis();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** ffmpeg with lavfi inputs → a Matroska file (a capture segment). */
async function makeSource(path: string, o: { kind: 'vp8' | 'h264' | 'two-vp8'; seconds: number; size: string }): Promise<void> {
  const d = String(o.seconds);
  // Black for the first half second, then a test pattern: the poster must skip the black.
  const video = (src: string): string =>
    `color=black:s=${o.size}:r=30:d=0.5[b];${src}=s=${o.size}:r=30:d=${o.seconds - 0.5}[t];[b][t]concat=n=2:v=1:a=0`;
  const venc =
    o.kind === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-pix_fmt', 'yuv420p']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-g', '30'];
  // prettier-ignore
  const args = o.kind === 'two-vp8'
    ? [
        '-f', 'lavfi', '-i', video('testsrc2'),
        '-f', 'lavfi', '-i', `sine=f=440:d=${d}:sample_rate=48000`,
        '-f', 'lavfi', '-i', `smptebars=s=${o.size}:r=30:d=${d}`,
        '-f', 'lavfi', '-i', `sine=f=1500:d=${d}:sample_rate=48000`,
        '-map', '0:v', '-map', '1:a', '-map', '2:v', '-map', '3:a',
      ]
    : ['-f', 'lavfi', '-i', video('testsrc2'), '-f', 'lavfi', '-i', `sine=f=440:d=${d}:sample_rate=48000`, '-map', '0:v', '-map', '1:a'];
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    ...args,
    ...venc,
    '-c:a',
    'libopus',
    '-b:a',
    '64k',
    '-f',
    'matroska',
    path,
  ]);
}

/** Mean luma of a still image (0–255). */
async function meanLuma(path: string, crop?: string): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-i',
    path,
    '-vf',
    `${crop ? `crop=${crop},` : ''}signalstats,metadata=print:key=lavfi.signalstats.YAVG`,
    '-f',
    'null',
    '-',
  ]);
  const m = /YAVG=([\d.]+)/.exec(stderr);
  assert.ok(m, 'signalstats printed a luma');
  return Number(m[1]);
}

/** RMS level (dB) of `path`'s audio in a narrow band around `hz`. */
async function bandLevel(path: string, hz: number): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-i',
    path,
    '-vn',
    '-af',
    `bandpass=f=${hz}:width_type=h:w=60,astats=measure_overall=RMS_level:measure_perchannel=none`,
    '-f',
    'null',
    '-',
  ]);
  const m = /RMS level dB:\s*(-?[\d.]+|-inf)/.exec(stderr);
  assert.ok(m, 'astats printed a level');
  return m[1] === '-inf' ? -Infinity : Number(m[1]);
}

const durationOf = async (path: string): Promise<number> => (await ffprobe(path)).format.duration ?? NaN;

describe('transcoding with real Redis, ffmpeg and storage', () => {
  let redis: RedisServer;
  let tmp: string;
  let n = 0;

  before(async () => {
    redis = await startRedis();
    tmp = await mkdtemp(join(tmpdir(), 'lw-transcode-int-'));
  });
  after(async () => {
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function setup(t: TestContext, env: Record<string, string> = {}) {
    const prefix = `tc${process.pid}x${++n}`;
    const recordDir = join(tmp, prefix);
    const config = loadRecorderConfig({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RECORD_DIR: recordDir,
      RECORDER_HTTP_ADDR: '127.0.0.1:0',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
      ...env,
    });
    const conn = createRedis(redis.url, 'test');
    const storage = config.S3_BUCKET ? createStorage(config) : new LocalStorage(recordDir);
    await storage.init();
    const store = new RecordingStore(conn, redisKeys(prefix), storage);
    const queues = new JobQueues(conn, prefix);
    const recorder = await startRecorder(config, { logger: createLogger('recorder', config.LOG_LEVEL) });
    t.after(async () => {
      await recorder.close();
      await queues.close();
      conn.disconnect();
    });

    /** A recording whose one segment is `segment`, moved to processing and handed to finalize. */
    const record = async (
      segment: string,
      tracks: Recording['tracks'],
      options?: Parameters<typeof saveRecordingOptions>[2],
    ): Promise<string> => {
      const rec = await store.create('room-1', 'api');
      if (options) await saveRecordingOptions(storage, rec.id, options);
      const key = recordingKeys.segment(rec.id, 0);
      await storage.putFile(key, segment, 'video/x-matroska');
      const { size } = await stat(segment);
      const end = await durationOf(segment);
      await store.update(rec.id, (r) => ({ ...r, tracks, segments: [{ index: 0, key, size, run: 0, start: 0, end, runAt: null }] }));
      await store.transition(rec.id, 'active');
      await store.update(rec.id, (r) => transition(r, 'stopping', new Date(), { stoppedAt: new Date().toISOString() }));
      await store.transition(rec.id, 'processing');
      await queues.enqueue('FinalizeRecording', { v: 1, recordingId: rec.id }, { jobId: jobIds.finalize(rec.id) });
      return rec.id;
    };
    /** Waits until no output is pending or processing; returns the recording. */
    const settled = (id: string, timeoutMs: number): Promise<Recording> =>
      waitFor(
        'every output finished',
        async () => {
          const r = await store.get(id);
          return r && r.status === 'ready' && r.outputs.length > 1 && r.outputs.every((o) => o.status === 'ready' || o.status === 'failed')
            ? r
            : null;
        },
        timeoutMs,
      );
    /** Downloads an output file to the temp directory. */
    const fetchFile = async (id: string, file: string): Promise<string> => {
      const path = join(tmp, `${id}-${file.replace(/\//g, '-')}`);
      await storage.download(recordingKeys.output(id, file), path);
      return path;
    };
    return { store, storage, record, settled, fetchFile, conn, prefix, queues };
  }

  test('a VP8 + Opus recording gets mp4, hls, poster, sprite and audio that match its raw file', { timeout: 180_000 }, async (t) => {
    const s = await setup(t);
    const segment = join(tmp, 'vp8.mkv');
    await makeSource(segment, { kind: 'vp8', seconds: 4, size: '854x480' });
    const id = await s.record(segment, [
      { kind: 'video', codec: 'vp8', participant: 'alice' },
      { kind: 'audio', codec: 'opus', participant: 'alice' },
    ]);
    // Progress is visible while it runs: some output reports processing with a progress.
    const seen = new Set<string>();
    const watcher = (async () => {
      for (let i = 0; i < 600; i++) {
        const r = await s.store.get(id);
        for (const o of r?.outputs ?? []) if (o.status === 'processing' && o.progress > 0) seen.add(o.name);
        if (r?.outputs.length && r.outputs.length > 1 && r.outputs.every((o) => o.status === 'ready' || o.status === 'failed')) return;
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const rec = await s.settled(id, 150_000);
    await watcher;
    t.diagnostic(`outputs seen processing with progress: ${[...seen].join(', ') || 'none'}`);
    const byName = new Map(rec.outputs.map((o) => [o.name, o]));
    assert.deepEqual([...byName.keys()].sort(), ['audio', 'hls', 'mp4', 'poster', 'raw', 'sprite'], 'no composite for one participant');
    for (const o of rec.outputs) assert.equal(o.status, 'ready', `${o.name}: ${JSON.stringify(o.error)}`);
    for (const o of rec.outputs) assert.ok((o.size ?? 0) > 0, `${o.name} has a size`);
    assert.ok(seen.size > 0, 'progress was reported while transcoding');

    const raw = await s.fetchFile(id, byName.get('raw')!.file);
    const rawDuration = await durationOf(raw);

    // mp4: H.264 + AAC, same duration and size, faststart (moov before mdat).
    const mp4 = await s.fetchFile(id, 'recording.mp4');
    const mp4Probe = await ffprobe(mp4);
    assert.deepEqual(mp4Probe.streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
    const v = mp4Probe.streams.find((x) => x.codec_type === 'video')!;
    assert.equal(`${v.width}x${v.height}`, '854x480');
    assert.ok(Math.abs((mp4Probe.format.duration ?? 0) - rawDuration) <= 0.2, `mp4 ${mp4Probe.format.duration} s vs raw ${rawDuration} s`);
    const bytes = await readFile(mp4);
    assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), 'faststart: moov first');
    assert.equal(byName.get('mp4')!.contentType, 'video/mp4');

    // hls: a master naming renditions no larger than the source, each decodable, segments adding up.
    const master = (await readFile(await s.fetchFile(id, 'hls/master.m3u8'))).toString();
    const renditions = [...master.matchAll(/RESOLUTION=(\d+)x(\d+)[^\n]*\n([^\n]+)/g)].map((m) => ({
      w: Number(m[1]),
      h: Number(m[2]),
      uri: m[3]!.trim(),
    }));
    assert.deepEqual(
      renditions.map((r) => r.h),
      [480, 360],
    );
    const segmentLists: number[][] = [];
    const segmentStarts: number[][] = [];
    for (const r of renditions) {
      const starts: number[] = [];
      assert.ok(r.h <= 480 && r.w <= 854, 'never above the source');
      const playlist = (await readFile(await s.fetchFile(id, `hls/${r.uri}`))).toString();
      assert.match(playlist, /#EXT-X-ENDLIST/);
      const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
      segmentLists.push(durations);
      const total = durations.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - rawDuration) <= 0.2, `${r.uri}: segments add up to ${total} s vs raw ${rawDuration} s`);
      for (const seg of playlist.split('\n').filter((l) => l.endsWith('.ts'))) {
        const path = await s.fetchFile(id, `hls/${seg}`);
        const p = await ffprobe(path);
        const sv = p.streams.find((x) => x.codec_type === 'video');
        assert.equal(sv?.codec_name, 'h264');
        assert.equal(sv?.height, r.h);
        await run('ffmpeg', ['-v', 'error', '-xerror', '-i', path, '-f', 'null', '-']);
        // Each segment opens on a keyframe; note where, to compare the renditions.
        // prettier-ignore
        const first = (await run('ffprobe', [
          '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-read_intervals', '%+#1', '-of', 'csv=p=0', path,
        ])).stdout.trim().split('\n')[0]!.split(',');
        assert.match(first[1] ?? '', /^K/, `${seg} starts on a keyframe`);
        starts.push(Number(first[0]));
      }
      segmentStarts.push(starts);
    }
    assert.deepEqual(segmentLists[0], segmentLists[1], 'renditions cut at the same points');
    assert.equal(segmentStarts[0]!.length, segmentStarts[1]!.length);
    segmentStarts[0]!.forEach((t0, i) =>
      assert.ok(Math.abs(t0 - segmentStarts[1]![i]!) < 0.001, `segment ${i}: keyframe at ${t0} s and ${segmentStarts[1]![i]} s`),
    );

    // poster: a decodable JPEG of the picture, not the black first frames.
    const poster = await s.fetchFile(id, 'poster.jpg');
    const pp = await ffprobe(poster);
    assert.equal(pp.streams[0]?.codec_name, 'mjpeg');
    assert.ok((await meanLuma(poster)) > 40, 'poster is not black');

    // sprite: the VTT's cues cover the recording and point at tiles inside the image.
    const sprite = await s.fetchFile(id, 'sprite/sprite.jpg');
    const sp = (await ffprobe(sprite)).streams[0]!;
    const vtt = (await readFile(await s.fetchFile(id, 'sprite/sprite.vtt'))).toString();
    assert.match(vtt, /^WEBVTT/);
    const cues = [
      ...vtt.matchAll(/(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)\nsprite\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)/g),
    ];
    assert.ok(cues.length >= Math.floor(rawDuration), `a cue per second at least (${cues.length})`);
    const secs = (m: RegExpMatchArray, i: number): number =>
      Number(m[i]) * 3600 + Number(m[i + 1]) * 60 + Number(m[i + 2]) + Number(m[i + 3]) / 1000;
    assert.equal(secs(cues[0]!, 1), 0);
    assert.ok(Math.abs(secs(cues[cues.length - 1]!, 5) - rawDuration) <= 0.2, 'the last cue ends with the recording');
    // Cue i points at tile i of the grid (row by row), the tiles fill the image exactly.
    const [tw, th] = [Number(cues[0]![11]), Number(cues[0]![12])];
    const cols = Math.round(sp.width! / tw);
    assert.equal(cols * tw, sp.width, 'the image is a whole number of tiles wide');
    assert.equal(Math.ceil(cues.length / cols) * th, sp.height, 'and as many rows high as the cues need');
    cues.forEach((c, i) => {
      const [x, y, w, h] = [9, 10, 11, 12].map((k) => Number(c[k]));
      assert.deepEqual([x, y, w, h], [(i % cols) * tw, Math.floor(i / cols) * th, tw, th], `cue ${i} points at tile ${i}`);
      if (i > 0) assert.equal(secs(c, 1), secs(cues[i - 1]!, 5), 'cues are contiguous');
    });
    // The tile of the 2nd second shows the picture (not padding).
    const c1 = cues[Math.min(2, cues.length - 1)]!;
    assert.ok((await meanLuma(sprite, `${c1[11]}:${c1[12]}:${c1[9]}:${c1[10]}`)) > 40, 'a tile after the black start shows the picture');

    // audio: AAC only, the recording's length.
    const audio = await s.fetchFile(id, 'audio.m4a');
    const ap = await ffprobe(audio);
    assert.deepEqual(
      ap.streams.map((x) => x.codec_name),
      ['aac'],
    );
    assert.ok(Math.abs((ap.format.duration ?? 0) - rawDuration) <= 0.2, `audio ${ap.format.duration} s vs raw ${rawDuration} s`);
  });

  test('an H.264 recording is remuxed (video copied) and only the outputs it asked for are made', { timeout: 90_000 }, async (t) => {
    const s = await setup(t);
    const segment = join(tmp, 'h264.mkv');
    await makeSource(segment, { kind: 'h264', seconds: 3, size: '640x360' });
    const id = await s.record(
      segment,
      [
        { kind: 'video', codec: 'h264', participant: 'obs' },
        { kind: 'audio', codec: 'opus', participant: 'obs' },
      ],
      { outputs: ['mp4'] },
    );
    const rec = await s.settled(id, 60_000);
    assert.deepEqual(rec.outputs.map((o) => o.name).sort(), ['mp4', 'raw']);
    const raw = await s.fetchFile(id, rec.outputs.find((o) => o.name === 'raw')!.file);
    const mp4 = await s.fetchFile(id, 'recording.mp4');
    const count = async (p: string): Promise<number> =>
      Number(
        (
          await run('ffprobe', [
            '-v',
            'error',
            '-select_streams',
            'v:0',
            '-count_packets',
            '-show_entries',
            'stream=nb_read_packets',
            '-of',
            'csv=p=0',
            p,
          ])
        ).stdout.trim(),
      );
    assert.equal(await count(mp4), await count(raw), 'every video packet copied');
    const [rv, mv] = [(await ffprobe(raw)).streams[0]!, (await ffprobe(mp4)).streams.find((x) => x.codec_type === 'video')!];
    assert.equal(mv.codec_name, 'h264');
    assert.equal(`${mv.width}x${mv.height}`, `${rv.width}x${rv.height}`);
    assert.ok(Math.abs((await durationOf(mp4)) - (await durationOf(raw))) <= 0.2);
  });

  test('two participants make a composite with a tile and the audio of each', { timeout: 120_000 }, async (t) => {
    const s = await setup(t, { TRANSCODE_OUTPUTS: 'composite' });
    const segment = join(tmp, 'two.mkv');
    await makeSource(segment, { kind: 'two-vp8', seconds: 3, size: '320x240' });
    const id = await s.record(segment, [
      { kind: 'video', codec: 'vp8', participant: 'alice' },
      { kind: 'audio', codec: 'opus', participant: 'alice' },
      { kind: 'video', codec: 'vp8', participant: 'bob' },
      { kind: 'audio', codec: 'opus', participant: 'bob' },
    ]);
    const rec = await s.settled(id, 90_000);
    const out = rec.outputs.find((o) => o.name === 'composite');
    assert.equal(out?.status, 'ready', JSON.stringify(out?.error));
    const path = await s.fetchFile(id, 'composite.mp4');
    const p = await ffprobe(path);
    const v = p.streams.find((x) => x.codec_type === 'video')!;
    assert.equal(v.codec_name, 'h264');
    assert.equal(`${v.width}x${v.height}`, '1280x720');
    assert.equal(p.streams.find((x) => x.codec_type === 'audio')?.codec_name, 'aac');
    // Two tiles side by side (a 2×1 grid): both halves show a picture, at 2 s.
    const still = join(tmp, `${id}-still.png`);
    await run('ffmpeg', ['-v', 'error', '-y', '-ss', '2', '-i', path, '-frames:v', '1', still]);
    assert.ok((await meanLuma(still, '640:720:0:0')) > 30, 'left tile (first participant) shows a picture');
    assert.ok((await meanLuma(still, '640:720:640:0')) > 30, 'right tile (second participant) shows a picture');
    // Mixed audio: both participants' tones are in it.
    assert.ok((await bandLevel(path, 440)) > -40, "the first participant's 440 Hz tone is in the mix");
    assert.ok((await bandLevel(path, 1500)) > -40, "the second participant's 1500 Hz tone is in the mix");
    const raw = await s.fetchFile(id, rec.outputs.find((o) => o.name === 'raw')!.file);
    assert.ok(Math.abs((p.format.duration ?? 0) - (await durationOf(raw))) <= 0.25);
  });

  test('the S3 gateway down when an output starts: the transcode waits for it instead of failing', { timeout: 240_000 }, async (t) => {
    const url = new URL('../../../../tests/dist/support/ceph-s3.js', import.meta.url).href;
    type Ceph = { endpoint: string; region: string; accessKey: string; secretKey: string; stop(): Promise<void> };
    type Gateway = { stopGateway(): Promise<void>; startGateway(): Promise<void> };
    const s3 = await ((await import(url)) as { startCephS3(): Promise<Ceph & Gateway> }).startCephS3();
    t.after(() => s3.stop());
    const s = await setup(t, {
      TRANSCODE_OUTPUTS: 'poster',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: `lw-tc-${process.pid}`,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_USE_SSL: '0',
      S3_PATH_STYLE: '1',
    });
    await s.storage.init();
    const segment = join(tmp, 'vp8-outage.mkv');
    await makeSource(segment, { kind: 'vp8', seconds: 2, size: '320x180' });
    const id = await s.record(segment, [
      { kind: 'video', codec: 'vp8', participant: 'alice' },
      { kind: 'audio', codec: 'opus', participant: 'alice' },
    ]);
    const first = await s.settled(id, 120_000);
    assert.equal(first.outputs.find((o) => o.name === 'poster')?.status, 'ready');
    // The poster asked for again while the gateway is down for 10 s (longer than the job's own
    // attempts and backoff: 3 tries, 1 + 2 s): it must wait and then be made.
    await s.store.update(id, (r) => ({
      ...r,
      outputs: r.outputs.map((o) => (o.name === 'poster' ? { ...o, status: 'pending' as const, progress: 0 } : o)),
    }));
    await s3.stopGateway();
    const downAt = Date.now();
    await s.queues.enqueue(
      'TranscodeRecording',
      { v: 1, recordingId: id, output: 'poster' },
      { jobId: `${jobIds.transcode(id, 'poster')}-again` },
    );
    await new Promise((r) => setTimeout(r, 10_000));
    await s3.startGateway();
    const rec = await s.settled(id, 180_000);
    const poster = rec.outputs.find((o) => o.name === 'poster');
    assert.equal(poster?.status, 'ready', JSON.stringify(poster?.error));
    t.diagnostic(`poster ready ${((Date.now() - downAt) / 1000).toFixed(1)} s after the gateway stopped (down 10 s)`);
  });

  test('a failing output is failed with a reason; the raw and the other outputs are untouched', { timeout: 60_000 }, async (t) => {
    const s = await setup(t, { TRANSCODE_OUTPUTS: 'mp4,poster', TRANSCODE_ATTEMPTS: '1' });
    // Audio only: a poster cannot be made (its tracks are not declared, so it is attempted).
    const segment = join(tmp, 'audio-only.mkv');
    await run('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:d=2:sample_rate=48000',
      '-c:a',
      'libopus',
      '-f',
      'matroska',
      segment,
    ]);
    const id = await s.record(segment, []);
    const rec = await s.settled(id, 40_000);
    const byName = new Map(rec.outputs.map((o) => [o.name, o]));
    assert.equal(rec.status, 'ready');
    assert.equal(byName.get('raw')?.status, 'ready');
    assert.equal(byName.get('mp4')?.status, 'ready', 'the other output is made');
    assert.equal(byName.get('poster')?.status, 'failed');
    assert.equal(byName.get('poster')?.error?.code, 'no_video');
  });
});
