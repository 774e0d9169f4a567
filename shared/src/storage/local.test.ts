import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalStorage } from './local.js';
import { assertSafeKey } from './storage.js';
import { partSizeFor } from './s3.js';

test('local storage writes, ranges, lists and deletes by prefix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-local-'));
  try {
    const s = new LocalStorage(join(dir, 'store'));
    await s.init();
    await s.putBytes('recordings/A/manifest.json', '{"a":1}', 'application/json');
    const src = join(dir, 'src.bin');
    await writeFile(src, Buffer.from('0123456789'));
    await s.putFile('recordings/A/raw.webm', src, 'video/webm');
    assert.equal((await s.getBytes('recordings/A/manifest.json'))?.toString(), '{"a":1}');
    assert.equal((await s.stat('recordings/A/raw.webm'))?.size, 10);
    assert.equal((await s.stat('recordings/A/raw.webm'))?.contentType, 'video/webm');
    const part = await s.getStream('recordings/A/raw.webm', { start: 2, end: 4 });
    let got = '';
    for await (const c of part!) got += String(c);
    assert.equal(got, '234');
    assert.deepEqual(await s.list('recordings/A/'), ['recordings/A/manifest.json', 'recordings/A/raw.webm']);
    assert.equal(await s.getBytes('recordings/B/manifest.json'), null);
    assert.equal(await s.deletePrefix('recordings/A/'), 2);
    assert.deepEqual(await s.list('recordings/'), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('keys that could escape the root are refused', () => {
  for (const k of ['../x', '/etc/passwd', 'a/../../b', 'a//b', 'a b', '']) assert.throws(() => assertSafeKey(k), k);
  assertSafeKey('recordings/01J/segments/seg-00001.mkv');
});

test('multipart part size grows so 10,000 parts suffice', () => {
  assert.equal(partSizeFor(100 * 1024 * 1024), 8 * 1024 * 1024);
  const huge = 200 * 1024 ** 3;
  assert.ok(partSizeFor(huge) * 10_000 >= huge);
});

test('a growing file is moved into place at the end, not copied', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lw-local-growing-'));
  try {
    const s = new LocalStorage(join(root, 'store'));
    await s.init();
    const file = join(root, 'run-0.continuous.webm');
    await writeFile(file, 'abc');
    const g = s.openGrowing('recordings/X/raw.webm', 'video/webm');
    assert.equal(await g.sync(file), 0);
    await writeFile(file, 'abcdef');
    assert.equal(await s.stat('recordings/X/raw.webm'), null, 'not visible before it is completed');
    assert.deepEqual(await g.complete(file), { size: 6, bytesAtEnd: 0 }, 'renamed: no byte copied');
    assert.equal((await s.getBytes('recordings/X/raw.webm'))?.toString(), 'abcdef');
    await assert.rejects(g.complete(file), /already completed/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('local compose writes the pieces in order, a source being the target itself', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-local-'));
  try {
    const s = new LocalStorage(join(dir, 'store'));
    await s.init();
    await s.putBytes('r/raw.webm', '0123456789', 'video/webm');
    await s.putBytes('r/runs/run-1.webm', 'abcdefghij', 'video/webm');
    const { size } = await s.compose(
      'r/raw.webm',
      [
        { bytes: Buffer.from('H') },
        { key: 'r/raw.webm', start: 2, end: 6 },
        { key: 'r/runs/run-1.webm', start: 5, end: 10 },
        { bytes: Buffer.from('C') },
      ],
      'video/webm',
    );
    assert.equal(size, 11);
    assert.equal((await s.getBytes('r/raw.webm'))?.toString(), 'H2345fghijC');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
