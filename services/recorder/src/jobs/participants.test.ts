import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConcatSegment } from '../ffmpeg/args.js';
import { planParticipants, type RunLayout } from './participants.js';

const av = (participant: string) =>
  [
    { kind: 'audio', codec: 'opus', participant },
    { kind: 'video', codec: 'vp8', participant },
  ] as RunLayout['tracks'];
const seg = (index: number, run: number, start: number, end: number, runAt: number): ConcatSegment => ({
  path: `/w/seg-${index}.mkv`,
  run,
  start,
  end,
  runAt,
});
const T0 = 1_700_000_000_000;

test('one publisher: the raw output is theirs, from the start to the end', () => {
  const plan = planParticipants([{ run: 0, tracks: av('A') }], [seg(0, 0, 0.1, 10.1, T0), seg(1, 0, 10.1, 14.1, T0)]);
  assert.ok(plan);
  assert.equal(plan.multi, false);
  assert.deepEqual(
    plan.participants.map((p) => [p.id, p.output, p.startOffsetMs, p.endOffsetMs]),
    [['A', 'raw', 0, 14_000]],
  );
});

test('a late joiner and a leaver: an output each, offsets from where their runs sit on the timeline', () => {
  // Run 0: A and B from t=0; run 2: C joined at ~5 s; run 3: B left at ~9 s.
  const plan = planParticipants(
    [
      { run: 0, tracks: [...av('A'), ...av('B')] },
      { run: 2, tracks: [...av('A'), ...av('B'), ...av('C')] },
      { run: 3, tracks: [...av('A'), ...av('C')] },
    ],
    [seg(0, 0, 0, 3, T0), seg(1, 0, 3, 5, T0), seg(2, 2, 0.2, 4.2, T0 + 4900), seg(3, 3, 0.1, 6.1, T0 + 9000)],
  );
  assert.ok(plan);
  assert.equal(plan.multi, true);
  assert.deepEqual(
    plan.participants.map((p) => [p.id, p.output, p.startOffsetMs, p.endOffsetMs, p.runs.map((r) => r.run)]),
    [
      ['A', 'participant-1', 0, 15_100, [0, 2, 3]],
      ['B', 'participant-2', 0, 9100, [0, 2]],
      ['C', 'participant-3', 5100, 15_100, [2, 3]],
    ],
  );
  // Streams of each participant in each run, in the run's order.
  assert.deepEqual(
    [...plan.runs[1]!.streams],
    [
      ['A', [0, 1]],
      ['B', [2, 3]],
      ['C', [4, 5]],
    ],
  );
  assert.deepEqual(
    [...plan.runs[2]!.streams],
    [
      ['A', [0, 1]],
      ['C', [2, 3]],
    ],
  );
});

test('a publisher who rejoins is a new participant in the same raw output', () => {
  const plan = planParticipants(
    [
      { run: 0, tracks: av('A') },
      { run: 1, tracks: av('A2') },
    ],
    [seg(0, 0, 0, 4, T0), seg(1, 1, 0, 3, T0 + 6000)],
  );
  assert.ok(plan);
  assert.equal(plan.multi, false);
  assert.deepEqual(
    plan.participants.map((p) => [p.output, p.startOffsetMs, p.endOffsetMs]),
    [
      ['raw', 0, 4000],
      ['raw', 6000, 9000],
    ],
  );
});

test('a run whose tracks were never recorded (older recordings): no plan, finalized as one file', () => {
  assert.equal(planParticipants([], [seg(0, 0, 0, 4, T0)]), null);
});
