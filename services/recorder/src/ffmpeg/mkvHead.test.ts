import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matroskaDurationMs } from './mkvHead.js';

/** A Segment Info head as ffmpeg writes it: TimecodeScale 1 ms, Duration as an 8-byte float. */
function head(o: { durationMs: number | null; seekHeadToCues: boolean }): Buffer {
  const parts = [Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x80])];
  if (o.seekHeadToCues) parts.push(Buffer.from([0x11, 0x4d, 0x9b, 0x74, 0x8b, 0x4d, 0xbb, 0x88, 0x53, 0xab, 0x84, 0x1c, 0x53, 0xbb, 0x6b]));
  else parts.push(Buffer.from([0xec, 0x90]), Buffer.alloc(16));
  parts.push(Buffer.from([0x2a, 0xd7, 0xb1, 0x83, 0x0f, 0x42, 0x40]));
  if (o.durationMs !== null) {
    const d = Buffer.alloc(11);
    d.set([0x44, 0x89, 0x88]);
    d.writeDoubleBE(o.durationMs, 3);
    parts.push(d);
  } else parts.push(Buffer.from([0xec, 0x89]), Buffer.alloc(9));
  return Buffer.concat(parts);
}

test('the duration of a closed Matroska head; null for a file ffmpeg did not close', () => {
  assert.equal(matroskaDurationMs(head({ durationMs: 600021, seekHeadToCues: true })), 600021);
  assert.equal(matroskaDurationMs(head({ durationMs: 20008, seekHeadToCues: false })), null, 'a duration copied at the start is no proof');
  assert.equal(matroskaDurationMs(head({ durationMs: null, seekHeadToCues: true })), null);
  assert.equal(matroskaDurationMs(Buffer.alloc(0)), null);
});
