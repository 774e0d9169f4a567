import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildConcatList,
  captureArgs,
  finalizeArgs,
  parseSegmentList,
  rawContainerFor,
  segmentFileName,
  segmentIndexOf,
  toArgv,
} from './args.js';

const base = {
  sdpPath: '/w/rec/run-3.sdp',
  localAddress: '127.0.0.1',
  dir: '/w/rec',
  segmentListPath: '/w/rec/run-3.csv',
  segmentSeconds: 10,
  firstSegment: 3,
  probeMs: 15000,
};

/** The value following `flag` in an argument list. */
const valueOf = (argv: string[], flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

test('capture reads the SDP file with only file/udp/rtp allowed and a bounded probe', () => {
  const inv = captureArgs(base);
  const input = inv.inputs[0]!;
  assert.equal(input.path, '/w/rec/run-3.sdp');
  assert.equal(valueOf(input.options, '-f'), 'sdp');
  assert.equal(valueOf(input.options, '-protocol_whitelist'), 'file,udp,rtp');
  assert.equal(valueOf(input.options, '-analyzeduration'), '15000000');
  assert.equal(valueOf(input.options, '-probesize'), String(16 * 1024 * 1024));
  assert.equal(valueOf(input.options, '-fpsprobesize'), '0');
  assert.equal(valueOf(input.options, '-reorder_queue_size'), '128');
  assert.equal(valueOf(input.options, '-localaddr'), '127.0.0.1');
  assert.equal(valueOf(input.options, '-listen_timeout'), '0', 'ffmpeg never ends a capture on silence unless asked');
  assert.equal(valueOf(captureArgs({ ...base, mediaTimeoutS: 60 }).inputs[0]!.options, '-listen_timeout'), '60');
  assert.ok(inv.globalOptions.includes('-nostdin'), 'stopped by signal, never through stdin');
});

test('capture copies every stream into numbered Matroska segments with a csv list', () => {
  const inv = captureArgs(base);
  const o = inv.outputOptions;
  assert.equal(valueOf(o, '-map'), '0');
  assert.equal(valueOf(o, '-c'), 'copy');
  assert.equal(valueOf(o, '-f'), 'segment');
  assert.equal(valueOf(o, '-segment_format'), 'matroska');
  assert.equal(valueOf(o, '-segment_time'), '10');
  assert.equal(valueOf(o, '-segment_list'), '/w/rec/run-3.csv');
  assert.equal(valueOf(o, '-segment_list_type'), 'csv');
  assert.equal(valueOf(o, '-reset_timestamps'), '0');
  assert.equal(valueOf(o, '-segment_start_number'), '3');
  // Segments start on keyframes (each decodable on its own): no breaking at inter frames.
  assert.equal(o.includes('-break_non_keyframes'), false);
  assert.equal(inv.output, '/w/rec/seg-%05d.mkv');
});

test('toArgv puts input options before -i and output options before the output', () => {
  const argv = toArgv(captureArgs(base));
  const i = argv.indexOf('-i');
  assert.equal(argv[i + 1], '/w/rec/run-3.sdp');
  assert.ok(argv.indexOf('-protocol_whitelist') < i);
  assert.ok(argv.indexOf('-segment_list') > i);
  assert.equal(argv.at(-1), '/w/rec/seg-%05d.mkv');
  assert.equal(argv[0], '-hide_banner');
});

test('bad segment parameters are refused', () => {
  assert.throws(() => captureArgs({ ...base, firstSegment: -1 }), RangeError);
  assert.throws(() => captureArgs({ ...base, segmentSeconds: 0 }), RangeError);
});

test('segment names match the storage keys and parse back', () => {
  assert.equal(segmentFileName(7), 'seg-00007.mkv');
  assert.equal(segmentIndexOf('seg-00007.mkv'), 7);
  assert.equal(segmentIndexOf('seg-123456.mkv'), 123456);
  assert.equal(segmentIndexOf('run-0.csv'), null);
  assert.equal(segmentIndexOf('seg-00007.mkv.tmp'), null);
});

test('the segment list parser reads complete lines only', () => {
  const text = 'seg-00003.mkv,0.000000,10.000000\nseg-00004.mkv,10.000000,20.033000\nseg-00005.mkv,20.0';
  assert.deepEqual(parseSegmentList(text), [
    { file: 'seg-00003.mkv', index: 3, start: 0, end: 10 },
    { file: 'seg-00004.mkv', index: 4, start: 10, end: 20.033 },
  ]);
  assert.deepEqual(parseSegmentList(''), []);
  assert.deepEqual(parseSegmentList('garbage\n"seg-00001.mkv",1.5,2.5\n'), [{ file: 'seg-00001.mkv', index: 1, start: 1.5, end: 2.5 }]);
});

test('VP8/VP9/AV1 with Opus go to WebM; anything else (H.264) to Matroska', () => {
  assert.deepEqual(rawContainerFor(['vp8', 'opus']), { format: 'webm', file: 'raw.webm', contentType: 'video/webm' });
  assert.equal(rawContainerFor(['VP9']).format, 'webm');
  assert.deepEqual(rawContainerFor(['h264', 'opus']), { format: 'matroska', file: 'raw.mkv', contentType: 'video/x-matroska' });
  assert.equal(rawContainerFor([]).format, 'matroska');
});

test('the concat list gives each segment the distance to the next start within a run', () => {
  const list = buildConcatList([
    { path: '/w/seg-00000.mkv', run: 0, start: 0, end: 10.02 },
    { path: '/w/seg-00001.mkv', run: 0, start: 10, end: 20.01 },
    { path: '/w/seg-00002.mkv', run: 0, start: 20, end: 24.5 },
    // a takeover run starts its own timeline at 0
    { path: "/w/it's/seg-00003.mkv", run: 3, start: 0.1, end: 5 },
  ]);
  assert.equal(
    list,
    [
      'ffconcat version 1.0',
      "file '/w/seg-00000.mkv'",
      'duration 10.000000',
      "file '/w/seg-00001.mkv'",
      'duration 10.000000',
      "file '/w/seg-00002.mkv'",
      'duration 4.500000', // run's last segment: its own length
      "file '/w/it'\\''s/seg-00003.mkv'",
      '',
    ].join('\n'),
  );
});

test('the concat list keeps the wall-clock gap between two runs (a gap stays a gap in time)', () => {
  const list = buildConcatList([
    { path: '/w/seg-00000.mkv', run: 0, start: 0, end: 2, runAt: 1_000_000 },
    { path: '/w/seg-00001.mkv', run: 0, start: 2, end: 4.2, runAt: 1_000_000 },
    // the recorder died at 4.2 s; the takeover run began 6 s after the first one
    { path: '/w/seg-00002.mkv', run: 2, start: 0, end: 3, runAt: 1_006_000 },
  ]);
  assert.match(list, /seg-00001\.mkv'\nduration 4\.000000\n/, 'the last segment of run 0 lasts until run 2 began');
  // Without wall-clock times the runs are butted together as before.
  const old = buildConcatList([
    { path: '/w/a.mkv', run: 0, start: 0, end: 4.2 },
    { path: '/w/b.mkv', run: 2, start: 0, end: 3 },
  ]);
  assert.match(old, /a\.mkv'\nduration 4\.200000\n/);
});

test('the concat list needs timing for every segment but the last', () => {
  assert.throws(
    () =>
      buildConcatList([
        { path: '/a', run: 0, start: 0, end: null },
        { path: '/b', run: 5, start: 0, end: 1 },
      ]),
    RangeError,
  );
  assert.equal(buildConcatList([{ path: '/a', run: 0, start: null, end: null }]), "ffconcat version 1.0\nfile '/a'\n");
});

test('the concat list refuses relative paths (ffmpeg would resolve them against the list)', () => {
  assert.throws(() => buildConcatList([{ path: 'records/.work/seg-00000.mkv', run: 0, start: 0, end: 1 }]), /must be absolute/);
});

test('finalize joins with the concat demuxer and copies into the chosen container', () => {
  const argv = toArgv(finalizeArgs({ listPath: '/w/l.ffconcat', outputPath: '/w/raw.webm', format: 'webm' }));
  assert.deepEqual(argv.slice(argv.indexOf('-f'), argv.indexOf('-i') + 2), ['-f', 'concat', '-safe', '0', '-i', '/w/l.ffconcat']);
  assert.deepEqual(argv.slice(-7), ['-map', '0', '-c', 'copy', '-f', 'webm', '/w/raw.webm']);
});
