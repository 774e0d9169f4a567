import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeParticipants } from './participants.js';

const av = [
  { kind: 'audio' as const, codec: 'opus' },
  { kind: 'video' as const, codec: 'vp8' },
];
const src = {
  durationS: 20,
  audio: [0, 2, 4].map((index) => ({ index, codec: 'opus', start: 0 })),
  video: [1, 3, 5].map((index) => ({ index, codec: 'vp8', width: 640, height: 360, start: 0 })),
};

test('streams of a several-participant raw file start where their participant does', () => {
  const placed = placeParticipants(src, [
    { output: 'participant-1', startOffsetMs: 0, tracks: av },
    { output: 'participant-2', startOffsetMs: 0, tracks: av },
    { output: 'participant-3', startOffsetMs: 6801, tracks: av },
  ]);
  assert.deepEqual(
    placed.video.map((v) => v.start),
    [0, 0, 6.801],
  );
  assert.deepEqual(
    placed.audio.map((a) => a.start),
    [0, 0, 6.801],
  );
});

test('one participant, or a layout that does not match: ffprobe figures stay', () => {
  assert.equal(placeParticipants(src, [{ output: 'raw', startOffsetMs: 0, tracks: av }]), src);
  assert.equal(
    placeParticipants(src, [
      { output: 'participant-1', startOffsetMs: 0, tracks: av },
      { output: 'participant-2', startOffsetMs: 5000, tracks: av },
    ]),
    src,
  );
});
