import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toArgv } from '../ffmpeg/args.js';
import {
  audioArgs,
  canRemuxToMp4,
  compositeArgs,
  compositePlan,
  estimate,
  hlsArgs,
  hlsLadder,
  mp4Args,
  outputCost,
  parseProgress,
  posterArgs,
  posterTime,
  spriteArgs,
  spritePlan,
  spriteVtt,
  type SourceInfo,
} from './args.js';

const valueOf = (argv: string[], flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

const vp8: SourceInfo = {
  durationS: 60,
  video: [{ index: 0, codec: 'vp8', width: 1280, height: 720, start: 0 }],
  audio: [{ index: 1, codec: 'opus', start: 0 }],
};
const h264: SourceInfo = {
  ...vp8,
  video: [{ index: 1, codec: 'h264', width: 1920, height: 1080, start: 0 }],
  audio: [{ index: 0, codec: 'opus', start: 0 }],
};

test('mp4 re-encodes VP8 with x264 veryfast CRF at the source size, keeps timing, AAC, faststart', () => {
  const argv = toArgv(mp4Args(vp8, { input: '/w/raw.webm', output: '/w/out.mp4' }));
  assert.equal(valueOf(argv, '-c:v'), 'libx264');
  assert.equal(valueOf(argv, '-preset'), 'veryfast');
  assert.equal(valueOf(argv, '-crf'), '23');
  assert.equal(valueOf(argv, '-bf'), '0', 'no B-frames: the cheaper veryfast');
  assert.equal(valueOf(argv, '-rc-lookahead'), '5');
  assert.equal(valueOf(argv, '-vf'), 'scale=1280:720');
  assert.equal(valueOf(argv, '-fps_mode'), 'passthrough', 'no frames invented or dropped');
  assert.equal(valueOf(argv, '-c:a'), 'aac');
  assert.equal(valueOf(argv, '-movflags'), '+faststart');
  assert.equal(valueOf(argv, '-progress'), 'pipe:2');
  assert.deepEqual(
    argv.filter((_, i) => argv[i - 1] === '-map'),
    ['0:0', '0:1'],
  );
  assert.equal(argv.at(-1), '/w/out.mp4');
});

test('mp4 copies H.264 video (remux) and picks streams by index', () => {
  assert.ok(canRemuxToMp4(h264.video[0]));
  assert.ok(!canRemuxToMp4(vp8.video[0]));
  const argv = toArgv(mp4Args(h264, { input: '/w/raw.mkv', output: '/w/out.mp4' }));
  assert.equal(valueOf(argv, '-c:v'), 'copy');
  assert.ok(!argv.includes('libx264'));
  assert.deepEqual(
    argv.filter((_, i) => argv[i - 1] === '-map'),
    ['0:1', '0:0'],
  );
  assert.equal(
    valueOf(toArgv(mp4Args({ ...h264, audio: [{ index: 0, codec: 'aac', start: 0 }] }, { input: 'a', output: 'b' })), '-c:a'),
    'copy',
  );
  // TRANSCODE_MP4_AUDIO=opus: Opus copied as it is; any other codec still becomes AAC.
  assert.equal(valueOf(toArgv(mp4Args(h264, { input: 'a', output: 'b', mp4Audio: 'opus' })), '-c:a'), 'copy');
  assert.equal(
    valueOf(
      toArgv(mp4Args({ ...h264, audio: [{ index: 0, codec: 'pcm_s16le', start: 0 }] }, { input: 'a', output: 'b', mp4Audio: 'opus' })),
      '-c:a',
    ),
    'aac',
  );
  assert.equal(valueOf(toArgv(mp4Args(h264, { input: 'a', output: 'b' })), '-c:a'), 'aac', 'AAC by default');
});

test('HLS ladder: up to three renditions, never above the source, even sizes', () => {
  assert.deepEqual(
    hlsLadder(1920, 1080).map((r) => `${r.width}x${r.height}`),
    ['1920x1080', '1280x720', '640x360'],
  );
  assert.deepEqual(
    hlsLadder(3840, 2160).map((r) => r.height),
    [1080, 720, 360],
  );
  assert.deepEqual(
    hlsLadder(1280, 720).map((r) => r.height),
    [720, 360],
  );
  assert.deepEqual(
    hlsLadder(854, 480).map((r) => `${r.width}x${r.height}`),
    ['854x480', '640x360'],
  );
  assert.deepEqual(
    hlsLadder(320, 240).map((r) => r.height),
    [240],
  );
  assert.deepEqual(
    hlsLadder(640, 362).map((r) => r.height),
    [362],
    'no rung too close to the top',
  );
  for (const r of hlsLadder(1281, 721)) assert.ok(r.width % 2 === 0 && r.height % 2 === 0);
  assert.throws(() => hlsLadder(0, 0), RangeError);
});

test('HLS: one decode split per rendition, keyframes on one grid for all, VOD playlists and a master', () => {
  const ladder = hlsLadder(1280, 720);
  const argv = toArgv(hlsArgs(vp8, ladder, { input: '/w/raw.webm', dir: '/w/hls' }));
  assert.match(valueOf(argv, '-filter_complex')!, /^\[0:0\]split=2\[s0\]\[s1\];\[s0\]scale=1280:720\[v0\];\[s1\]scale=640:360\[v1\]$/);
  assert.equal(valueOf(argv, '-force_key_frames'), 'expr:gte(t,n_forced*2)');
  assert.equal(valueOf(argv, '-sc_threshold'), '0', 'no extra keyframes at scene cuts');
  assert.equal(valueOf(argv, '-hls_playlist_type'), 'vod');
  assert.equal(valueOf(argv, '-master_pl_name'), 'master.m3u8');
  assert.equal(valueOf(argv, '-var_stream_map'), 'v:0,a:0 v:1,a:1');
  assert.equal(valueOf(argv, '-maxrate:v:1'), '800000');
  assert.equal(valueOf(argv, '-hls_segment_filename'), '/w/hls/stream_%v_%03d.ts');
  assert.equal(argv.at(-1), '/w/hls/stream_%v.m3u8');
  const audioOnly = toArgv(hlsArgs({ ...vp8, video: [] }, [], { input: 'x', dir: '/w/hls' }));
  assert.equal(valueOf(audioOnly, '-var_stream_map'), 'a:0');
  assert.ok(!audioOnly.includes('-filter_complex'));
});

test('poster: a quarter in (≤ 30 s), the most representative of 50 frames, one JPEG', () => {
  assert.equal(posterTime(0.5), 0);
  assert.equal(posterTime(8), 2);
  assert.equal(posterTime(3600), 30);
  const inv = posterArgs(vp8, { input: '/w/raw.webm', output: '/w/poster.jpg' });
  assert.equal(valueOf(inv.inputs[0]!.options, '-ss'), '15.000');
  const argv = toArgv(inv);
  assert.equal(valueOf(argv, '-vf'), 'thumbnail=50,scale=1280:-2');
  assert.equal(valueOf(argv, '-frames:v'), '1');
  assert.throws(() => posterArgs({ ...vp8, video: [] }, { input: 'a', output: 'b' }), RangeError);
});

test('sprite plan, arguments and VTT agree on the grid', () => {
  const plan = spritePlan(25, 1280, 720);
  assert.deepEqual(plan, { interval: 1, count: 25, cols: 10, rows: 3, tileWidth: 160, tileHeight: 90 });
  assert.equal(spritePlan(1000, 1280, 720).interval, 10, 'at most 100 tiles');
  assert.equal(spritePlan(1000, 1280, 720).count, 100);
  assert.equal(spritePlan(0.4, 640, 480).count, 1);
  const argv = toArgv(spriteArgs(vp8, plan, { input: 'a', output: 'b.jpg' }));
  assert.match(valueOf(argv, '-vf')!, /fps=1\/1:round=down,scale=160:90,tile=10x3$/);
  const vtt = spriteVtt(plan, 24.5, 'sprite.jpg');
  const cues = vtt.split('\n').filter((l) => l.includes('-->'));
  assert.equal(cues.length, 25);
  assert.equal(cues[0], '00:00:00.000 --> 00:00:01.000');
  assert.equal(cues[24], '00:00:24.000 --> 00:00:24.500', 'the last cue ends with the recording');
  assert.match(vtt, /\nsprite\.jpg#xywh=0,0,160,90\n/);
  assert.match(vtt, /\nsprite\.jpg#xywh=160,90,160,90\n/, '12th tile: row 2, column 2');
  assert.match(vtt, /\nsprite\.jpg#xywh=640,180,160,90\n/, '25th tile: row 3, column 5');
});

test('composite: a near-square grid, tiles delayed by their start, every audio mixed', () => {
  assert.deepEqual(compositePlan(1), { cols: 1, rows: 1, tileWidth: 1280, tileHeight: 720 });
  assert.deepEqual(compositePlan(2), { cols: 2, rows: 1, tileWidth: 640, tileHeight: 720 });
  assert.deepEqual(compositePlan(3), { cols: 2, rows: 2, tileWidth: 640, tileHeight: 360 });
  assert.deepEqual(compositePlan(5), { cols: 3, rows: 2, tileWidth: 426, tileHeight: 360 });
  const src: SourceInfo = {
    durationS: 10,
    video: [
      { index: 0, codec: 'vp8', width: 640, height: 480, start: 0 },
      { index: 2, codec: 'vp8', width: 640, height: 480, start: 2.5 },
    ],
    audio: [
      { index: 1, codec: 'opus', start: 0 },
      { index: 3, codec: 'opus', start: 2.5 },
    ],
  };
  const graph = valueOf(toArgv(compositeArgs(src, compositePlan(2), { input: 'a', output: 'b' })), '-filter_complex')!;
  assert.match(graph, /\[0:0\]setpts=PTS-STARTPTS,tpad=start_duration=0\.000/);
  assert.match(graph, /\[0:2\]setpts=PTS-STARTPTS,tpad=start_duration=2\.500/);
  assert.match(graph, /xstack=inputs=2:layout=0_0\|640_0:fill=black\[vout\]/);
  assert.match(graph, /\[0:3\]asetpts=PTS-STARTPTS,adelay=2500:all=1/);
  assert.match(graph, /amix=inputs=2:duration=longest/);
  assert.throws(() => compositeArgs({ ...src, video: [] }, compositePlan(1), { input: 'a', output: 'b' }), RangeError);
});

test('audio: AAC m4a; several tracks are mixed', () => {
  const one = toArgv(audioArgs(vp8, { input: 'a', output: 'b.m4a' }));
  assert.equal(valueOf(one, '-c:a'), 'aac');
  assert.ok(one.includes('-vn'));
  const two = toArgv(audioArgs({ ...vp8, audio: [vp8.audio[0]!, { index: 3, codec: 'opus', start: 1 }] }, { input: 'a', output: 'b.m4a' }));
  assert.match(valueOf(two, '-filter_complex')!, /amix=inputs=2/);
  assert.throws(() => audioArgs({ ...vp8, audio: [] }, { input: 'a', output: 'b' }), RangeError);
});

test('progress lines and ETA', () => {
  assert.equal(parseProgress('out_time_us=1500000'), 1.5);
  assert.equal(parseProgress('out_time_ms=2000000'), 2, 'out_time_ms is microseconds too');
  assert.equal(parseProgress('out_time=00:00:01.500000'), null);
  assert.equal(parseProgress('frame=10'), null);
  assert.deepEqual(estimate(0, 60, 1000), { progress: 0, etaSeconds: null });
  assert.deepEqual(estimate(15, 60, 2000), { progress: 0.25, etaSeconds: 6 });
  assert.deepEqual(estimate(90, 60, 2000), { progress: 1, etaSeconds: 0 });
});

test('CPU cost: a remux is cheap, a ladder or a composite costs two cores', () => {
  assert.ok(outputCost('mp4', 'h264') < outputCost('mp4', 'vp8'));
  assert.equal(outputCost('hls', 'vp8'), 2);
  assert.equal(outputCost('composite', undefined), 2);
});
