import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planSharedParts, SHARED_LAST_PART, SharedUploadError } from './sharedUpload.js';

const b = (n: number): { bytes: Buffer } => ({ bytes: Buffer.alloc(n, 1) });
const part = (n: number, size = 10) => ({ part: n, etag: `e${n}`, size });

test('bytes before a block become the number below its first part; bytes at the end the last number', () => {
  const plan = planSharedParts([b(6), b(5), part(2), part(3), b(3), b(8), part(502), b(1), b(1)], 10);
  assert.deepEqual(
    plan.map((p) => [p.n, 'bytes' in p ? p.bytes.length : p.size]),
    [
      [1, 11],
      [2, 10],
      [3, 10],
      [501, 11],
      [502, 10],
      [SHARED_LAST_PART, 2],
    ],
  );
});

test('a short part anywhere but at the end is refused', () => {
  assert.throws(() => planSharedParts([b(12), part(2), b(3), part(502), b(1)], 10), SharedUploadError);
  assert.throws(() => planSharedParts([b(12), part(2, 4), b(30)], 10), SharedUploadError);
  // Short at the end is fine: S3's last part may be any size.
  assert.equal(planSharedParts([b(12), part(2), b(1)], 10).length, 3);
});

test('parts out of order, or bytes with no number left below the next part, are refused', () => {
  assert.throws(() => planSharedParts([b(12), part(502), b(12), part(3)], 10), SharedUploadError);
  assert.throws(() => planSharedParts([part(2), b(12), part(3)], 10), SharedUploadError);
});
