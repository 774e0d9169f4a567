import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GrowingFileReader } from './growingReader.js';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a file read while it grows: every byte once, in order, ending only after finish()', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-growing-'));
  try {
    const path = join(dir, 'f');
    await writeFile(path, Buffer.alloc(0));
    const reader = new GrowingFileReader(path, { pollMs: 10 });
    const got: Buffer[] = [];
    let ended = false;
    reader.on('data', (b: Buffer) => got.push(b));
    const end = new Promise<void>((resolve, reject) => {
      reader.on('end', () => {
        ended = true;
        resolve();
      });
      reader.on('error', reject);
    });
    const written: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      // Chunks larger and smaller than the reader's own (256 KiB).
      const chunk = Buffer.alloc(i % 3 === 0 ? 300 * 1024 : 1000 + i, i);
      written.push(chunk);
      await appendFile(path, chunk);
      await pause(5);
    }
    await pause(50);
    assert.equal(ended, false, 'no end while the writer may still write');
    const last = Buffer.from('the end');
    written.push(last);
    await appendFile(path, last);
    reader.finish();
    await end;
    assert.ok(Buffer.concat(got).equals(Buffer.concat(written)), 'the bytes read are the bytes written');
    assert.equal(reader.position, Buffer.concat(written).length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('destroyed while waiting for more: no read after, no error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-growing-'));
  try {
    const path = join(dir, 'f');
    await writeFile(path, 'abc');
    const reader = new GrowingFileReader(path, { pollMs: 10 });
    const got: Buffer[] = [];
    reader.on('data', (b: Buffer) => got.push(b));
    await pause(50);
    reader.destroy();
    await appendFile(path, 'def');
    await pause(50);
    assert.equal(Buffer.concat(got).toString(), 'abc');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
