import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRANSCODE_OUTPUT_NAMES } from '@live-webrtc/shared';
import { applicableOutputs } from './schedule.js';

const v = { kind: 'video' as const };
const a = { kind: 'audio' as const };

test('outputs follow the tracks: no poster without video, no audio without audio, composite from two videos', () => {
  const all = [...TRANSCODE_OUTPUT_NAMES];
  assert.deepEqual(applicableOutputs(all, [v, a]), ['mp4', 'hls', 'poster', 'sprite', 'audio']);
  assert.deepEqual(applicableOutputs(all, [v, a, v, a]), all);
  assert.deepEqual(applicableOutputs(all, [a]), ['mp4', 'hls', 'audio']);
  assert.deepEqual(applicableOutputs(all, [v]), ['mp4', 'hls', 'poster', 'sprite']);
  assert.deepEqual(applicableOutputs(all, []), ['mp4', 'hls', 'poster', 'sprite', 'audio'], 'tracks unknown: try all but composite');
  assert.deepEqual(applicableOutputs(['mp4'], [v, a, v]), ['mp4'], 'only what was asked');
});
