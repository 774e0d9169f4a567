import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JoinError } from './join.js';
import { looseRanges, looseSlice, sharedPiecesFor, type ParkedRun } from './parked.js';

// A run file of 100 bytes: clusters [10, 90); head [0, 30) held back; parts [30, 50), [50, 70).
const file = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
const ranges = looseRanges(10, 90, 30, 70);
const parked: ParkedRun = {
  uploadId: 'u',
  looseKey: 'loose',
  parts: [
    { n: 2, etag: 'a', start: 30, end: 50 },
    { n: 3, etag: 'b', start: 50, end: 70 },
  ],
  ...ranges,
};
const loose = Buffer.concat([file.subarray(10, 30), file.subarray(70, 90)]);

test('the loose ranges are the lead up to the head and the tail after the last part', () => {
  assert.deepEqual(ranges, { lead: [10, 30], tail: [70, 90] });
  // No part sent: lead and tail meet; a file shorter than the head is all lead.
  assert.deepEqual(looseRanges(10, 90, 30, 30), { lead: [10, 30], tail: [30, 90] });
  assert.deepEqual(looseRanges(10, 25, 30, 30), { lead: [10, 25], tail: [25, 25] });
});

test('a slice of the lead or the tail comes from the loose copy; bytes in a part cannot be read', () => {
  assert.deepEqual(looseSlice(parked, loose, 12, 20), file.subarray(12, 20));
  assert.deepEqual(looseSlice(parked, loose, 75, 90), file.subarray(75, 90));
  assert.throws(() => looseSlice(parked, loose, 40, 45), JoinError);
  assert.throws(() => looseSlice(parked, loose, 25, 75), JoinError);
  const none = { ...looseRanges(10, 90, 30, 30) };
  assert.deepEqual(looseSlice(none, file.subarray(10, 90), 20, 60), file.subarray(20, 60));
});

test('a whole-run range becomes lead bytes, the parts, tail bytes; a cut inside a part is refused', () => {
  const runs = new Map([['loose', { parked, loose }]]);
  const out = sharedPiecesFor([{ bytes: Buffer.from('H') }, { key: 'loose', start: 10, end: 85 }, { bytes: Buffer.from('C') }], runs);
  assert.deepEqual(
    out.map((p) => ('bytes' in p ? [...p.bytes] : p.part)),
    [[...Buffer.from('H')], [...file.subarray(10, 30)], 2, 3, [...file.subarray(70, 85)], [...Buffer.from('C')]],
  );
  assert.throws(() => sharedPiecesFor([{ key: 'loose', start: 10, end: 60 }], runs), JoinError);
  assert.throws(() => sharedPiecesFor([{ key: 'loose', start: 40, end: 90 }], runs), JoinError);
  assert.throws(() => sharedPiecesFor([{ key: 'other', start: 10, end: 20 }], runs), JoinError);
});
