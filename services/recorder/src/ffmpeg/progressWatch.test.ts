import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressWatch } from './progressWatch.js';

const KBPS_1500 = 1_500_000 / 8 / 1000; // bytes per ms

test('a publisher who leaves is not a stuck ffmpeg: bytes sent before the last progress do not count', () => {
  const w = new ProgressWatch({ stuckMs: 1500, now: 0 });
  // Tap status every 2 s; progress every 0.5 s, checked every second.
  w.sent(0);
  for (let t = 1000; t <= 10_000; t += 1000) {
    w.size(t, t);
    if (t % 2000 === 0) w.sent(t * KBPS_1500);
    assert.equal(w.stuck(t), null, `progressing at ${t} ms`);
  }
  // The publisher leaves at 10.4 s: its last packets reach ffmpeg (progress at 10.5 s), then
  // nothing. The SFU's count still grows between the last sample (10 s) and the leave.
  w.size(10_500, 11_000);
  w.sent(10_400 * KBPS_1500); // the next sample, at 12 s
  for (let t = 12_000; t <= 30_000; t += 1000) {
    if (t % 2000 === 0) w.sent(10_400 * KBPS_1500);
    assert.equal(w.stuck(t), null, `no media after the last progress: not stuck at ${t} ms`);
  }
});

test('ffmpeg that stops while the SFU keeps sending is stuck, once a later sample shows it', () => {
  const w = new ProgressWatch({ stuckMs: 1500, now: 0 });
  w.sent(0);
  w.size(100, 1000);
  // ffmpeg stops at ~1 s; the SFU keeps sending at 1.5 Mbit/s; samples at 2, 4 s.
  w.sent(2000 * KBPS_1500);
  assert.equal(w.stuck(2000), null, 'within the threshold');
  assert.equal(w.stuck(3000), null, 'one sample after the last progress: nothing to compare yet');
  w.sent(4000 * KBPS_1500);
  assert.equal(w.stuck(4000), 3000, 'media sent after the last progress, none recorded for 3 s');
});

test('probing counts as progress; growth resets the witness', () => {
  const w = new ProgressWatch({ stuckMs: 1500, now: 0 });
  w.sent(0);
  w.probing(5000);
  w.sent(100_000);
  assert.equal(w.stuck(6000), null, 'probing until 5 s');
  w.size(10, 7000);
  w.sent(200_000);
  w.size(20, 8000); // grew again: the 200 000 sample is from before this growth
  w.sent(200_500); // 500 bytes after it: too little to say ffmpeg missed media
  assert.equal(w.stuck(10_000), null);
});

test('quiet once no progress for 750 ms (ffmpeg reports every 500 ms)', () => {
  const w = new ProgressWatch({ stuckMs: 1500, now: 0 });
  w.size(10, 1000);
  assert.equal(w.quiet(1500), false);
  assert.equal(w.quiet(1750), true);
  w.size(20, 1800);
  assert.equal(w.quiet(2000), false);
});
