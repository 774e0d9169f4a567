import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRecording, toProcessing, transition, type Recording } from '@live-webrtc/shared';
import { codecName, runStart } from './capture.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const rec = (): Recording => newRecording({ id: '01J0000000000000000000000A', room: 'r', trigger: 'api', now: t0 });

test('codec names are the lower-cased MIME subtype', () => {
  assert.equal(codecName('video/VP8'), 'vp8');
  assert.equal(codecName('audio/opus'), 'opus');
  assert.equal(codecName('video/H264'), 'h264');
});

test("a run starts after every stored segment, never before the job's firstSegment", () => {
  const r = rec();
  assert.equal(runStart(r, 0), 0);
  assert.equal(runStart(r, 4), 4);
  const seg = (index: number) => ({ index, key: `k${index}`, size: 1, run: 0, start: null, end: null, runAt: null });
  assert.equal(runStart({ segments: [seg(0), seg(1), seg(2)] }, 0), 3, 'a takeover continues the numbering');
  assert.equal(runStart({ segments: [seg(0)] }, 5), 5);
});

test('toProcessing from active goes through stopping, sets stoppedAt and the wall duration from the first frame', () => {
  const active = transition(rec(), 'active', at(1000), { firstFrameAt: at(1000).toISOString() });
  const p = toProcessing(active, at(11_500), at(11_600));
  assert.ok(p);
  assert.deepEqual(
    p.transitions.map((x) => x.status),
    ['starting', 'active', 'stopping', 'processing'],
  );
  assert.equal(p.stoppedAt, at(11_500).toISOString());
  assert.equal(p.durationMs, 10_500);
});

test('toProcessing keeps the stop time the API recorded, and leaves other statuses alone', () => {
  const stopping = transition(transition(rec(), 'active', at(0), { firstFrameAt: at(0).toISOString() }), 'stopping', at(5000), {
    stoppedAt: at(5000).toISOString(),
  });
  const p = toProcessing(stopping, at(5100), at(5200));
  assert.equal(p?.stoppedAt, at(5000).toISOString());
  assert.equal(p?.durationMs, 5100, 'duration runs to when ffmpeg was stopped');
  assert.equal(toProcessing({ ...stopping, status: 'processing' }, at(1), at(1)), null);
  assert.equal(toProcessing({ ...stopping, status: 'failed' }, at(1), at(1)), null);
});
