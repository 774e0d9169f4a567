import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COPY_CHUNK, planComposeParts } from './compose.js';
import type { ComposePiece } from './storage.js';

const MIN = 100;
const fetches: string[] = [];
const fetch = async (key: string, start: number, end: number): Promise<Buffer> => {
  fetches.push(`${key}:${start}-${end}`);
  return Buffer.alloc(end - start, key);
};
const describe = (parts: ComposePiece[]) => parts.map((p) => ('bytes' in p ? `b${p.bytes.length}` : `${p.key}:${p.start}-${p.end}`));

test('long ranges are copied, short ones fetched, and every part but the last reaches the minimum', async () => {
  fetches.length = 0;
  const parts = await planComposeParts(
    [
      { bytes: Buffer.alloc(30) }, // head
      { key: 'a', start: 0, end: 500 }, // lends 70 bytes to the head's part, the rest copied
      { bytes: Buffer.alloc(5) }, // a cut cluster
      { key: 'b', start: 10, end: 60 }, // short: fetched
      { key: 'c', start: 0, end: 150 }, // lends 45 bytes to fill the part, the other 105 copied
      { bytes: Buffer.alloc(8) }, // cues
    ],
    MIN,
    fetch,
  );
  assert.deepEqual(describe(parts), ['b100', 'a:70-500', 'b100', 'c:45-150', 'b8']);
  for (const p of parts.slice(0, -1)) assert.ok(('bytes' in p ? p.bytes.length : p.end - p.start) >= MIN);
  const total = parts.reduce((n, p) => n + ('bytes' in p ? p.bytes.length : p.end - p.start), 0);
  assert.equal(total, 30 + 500 + 5 + 50 + 150 + 8, 'every byte once');
  assert.deepEqual(fetches, ['a:0-70', 'b:10-60', 'c:0-45']);
});

test('a range longer than a copy chunk is copied in chunks, none under the minimum', async () => {
  const end = 2 * COPY_CHUNK + 50;
  const parts = await planComposeParts([{ key: 'a', start: 0, end }], MIN, fetch);
  assert.deepEqual(describe(parts), [`a:0-${COPY_CHUNK}`, `a:${COPY_CHUNK}-${end}`]);
});
