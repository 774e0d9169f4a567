import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRecording, type Recording, type RunFile } from '@live-webrtc/shared';
import { runFilesCovering } from './runFiles.js';

const av = (participant: string, video = 'video/VP8'): Recording['tracks'] => [
  { kind: 'audio', codec: 'audio/opus', participant },
  { kind: 'video', codec: video, participant },
];
const file = (run: number, layout: string | null = `runs/${run}.layout.json`): RunFile => ({
  output: 'raw',
  run,
  offsetMs: run * 1000,
  key: `k/${run}`,
  file: 'raw.webm',
  contentType: 'video/webm',
  size: 1,
  durationMs: 1000,
  layout,
});
const seg = (index: number, run: number) => ({ index, key: `s/${index}`, size: 1, run, start: 0, end: 1, runAt: null });

function rec(o: Partial<Recording>): Recording {
  return { ...newRecording({ id: 'r', room: 'room', trigger: 'api', now: new Date(0) }), tracks: av('alice'), ...o };
}

test('one run with its file: that file', () => {
  const r = rec({ runFiles: [file(0, null)], segments: [seg(0, 0), seg(1, 0)] });
  assert.deepEqual(
    runFilesCovering(r)?.map((f) => f.run),
    [0],
  );
});

test('several runs, each with a file and a layout: all of them, in run order', () => {
  const r = rec({ runFiles: [file(7), file(0)], segments: [seg(0, 0), seg(7, 7)] });
  assert.deepEqual(
    runFilesCovering(r)?.map((f) => f.run),
    [0, 7],
  );
});

test('a run with segments but no file (killed, crashed): none', () => {
  assert.equal(runFilesCovering(rec({ runFiles: [file(0)], segments: [seg(0, 0), seg(7, 7)] })), null);
  // A run known only from its local files (its uploads failed) counts too.
  assert.equal(runFilesCovering(rec({ runFiles: [file(0)], segments: [seg(0, 0)] }), [0, 7]), null);
  assert.equal(runFilesCovering(rec({ runFiles: [], segments: [seg(0, 0)] })), null);
});

test('several runs where one layout could not be read: none', () => {
  assert.equal(runFilesCovering(rec({ runFiles: [file(0), file(7, null)], segments: [seg(0, 0), seg(7, 7)] })), null);
});

test('several people, or runs with different streams: none (joined from segments)', () => {
  const people = rec({
    runFiles: [file(0), file(7)],
    runTracks: [
      { run: 0, tracks: av('alice') },
      { run: 7, tracks: av('bob') },
    ],
  });
  assert.equal(runFilesCovering(people), null);
  const codec = rec({
    runFiles: [file(0), file(7)],
    runTracks: [
      { run: 0, tracks: av('alice') },
      { run: 7, tracks: av('alice', 'video/VP9') },
    ],
  });
  assert.equal(runFilesCovering(codec), null);
  const noCamera = rec({
    runFiles: [file(0), file(7)],
    runTracks: [
      { run: 0, tracks: av('alice') },
      { run: 7, tracks: av('alice').slice(0, 1) },
    ],
  });
  assert.equal(runFilesCovering(noCamera), null);
});
