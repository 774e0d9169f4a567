// S3Storage against a real S3 server (Ceph radosgw, started by the test): the configuration
// surface of the reference document (host:port endpoint, S3_USE_SSL=0, S3_PATH_STYLE=1), the
// bucket created when missing, small and multipart uploads, ranges, listing, deletion,
// presigned URLs, a refused secret — and a failed upload never touches the local file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createStorage } from './index.js';
import { S3Storage } from './s3.js';
import { loadConfig, commonConfigSchema } from '../config.js';

interface S3Server {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

/** tests/support/ceph-s3.ts, loaded at run time: the tests/ project is built after this one. */
async function startCephS3(): Promise<S3Server> {
  const url = new URL('../../../tests/dist/support/ceph-s3.js', import.meta.url).href;
  return ((await import(url)) as { startCephS3(): Promise<S3Server> }).startCephS3();
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
let dir: string;
before(async () => {
  [s3, dir] = await Promise.all([startCephS3(), mkdtemp(join(tmpdir(), 'lw-s3-int-'))]);
});
after(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Storage configured exactly as an operator would, from the environment variables. */
function fromEnv(env: Record<string, string>): S3Storage {
  const c = loadConfig(commonConfigSchema, {
    S3_ENDPOINT: new URL(s3.endpoint).host,
    S3_USE_SSL: '0',
    S3_PATH_STYLE: '1',
    S3_REGION: s3.region,
    S3_ACCESS_KEY: s3.accessKey,
    S3_SECRET_KEY: s3.secretKey,
    ...env,
  });
  const storage = createStorage(c);
  assert.ok(storage instanceof S3Storage, 'S3_BUCKET & co. select S3 storage');
  return storage;
}

test('objects round-trip through S3 storage configured from S3_* variables', { timeout: 120_000 }, async () => {
  const storage = fromEnv({ S3_BUCKET: 'lw-int-roundtrip' });
  try {
    await storage.init(); // creates the missing bucket
    await storage.init(); // and finds it the second time
    await storage.check();

    await storage.putBytes('recordings/A/manifest.json', '{"a":1}', 'application/json');
    assert.equal((await storage.getBytes('recordings/A/manifest.json'))?.toString(), '{"a":1}');
    assert.equal((await storage.stat('recordings/A/manifest.json'))?.contentType, 'application/json');
    assert.equal(await storage.getBytes('recordings/A/missing.json'), null);
    assert.equal(await storage.stat('recordings/A/missing.json'), null);

    // 13 MiB: multipart (8 MiB parts), read back whole and by range.
    const big = randomBytes(13 * 1024 * 1024);
    const file = join(dir, 'big.webm');
    await writeFile(file, big);
    await storage.putFile('recordings/A/raw.webm', file, 'video/webm');
    const info = await storage.stat('recordings/A/raw.webm');
    assert.equal(info?.size, big.length);
    assert.equal(info?.contentType, 'video/webm');
    const back = join(dir, 'back.webm');
    await storage.download('recordings/A/raw.webm', back);
    assert.equal(sha(await readFile(back)), sha(big));
    const range = await storage.getStream('recordings/A/raw.webm', { start: 8 * 1024 * 1024 - 2, end: 8 * 1024 * 1024 + 1 });
    const chunks: Buffer[] = [];
    for await (const c of range!) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), big.subarray(8 * 1024 * 1024 - 2, 8 * 1024 * 1024 + 2), 'a range across the part boundary');

    // Small file: a single PUT.
    const small = join(dir, 'seg.mkv');
    await writeFile(small, Buffer.from('segment'));
    await storage.putFile('recordings/A/segments/seg-00000.mkv', small, 'video/x-matroska');
    assert.deepEqual(await storage.list('recordings/A/'), [
      'recordings/A/manifest.json',
      'recordings/A/raw.webm',
      'recordings/A/segments/seg-00000.mkv',
    ]);

    const url = await storage.presignGet('recordings/A/manifest.json', 60, 'm.json');
    assert.ok(url);
    const signed = await fetch(url);
    assert.equal(signed.status, 200);
    assert.equal(await signed.text(), '{"a":1}');
    assert.match(signed.headers.get('content-disposition') ?? '', /filename="m\.json"/);
    const tampered = await fetch(url.replace('manifest.json', 'raw.webm'));
    assert.equal(tampered.status, 403, 'a presigned URL is good for its own object only');

    assert.equal(await storage.deletePrefix('recordings/A/'), 3);
    assert.deepEqual(await storage.list('recordings/'), []);
  } finally {
    storage.destroy();
  }
});

test('a wrong secret is refused, and a failed upload leaves the local file as it was', { timeout: 60_000 }, async () => {
  const good = fromEnv({ S3_BUCKET: 'lw-int-auth' });
  await good.init();
  const bad = fromEnv({ S3_BUCKET: 'lw-int-auth', S3_SECRET_KEY: `${s3.secretKey}x` });
  try {
    await assert.rejects(bad.check(), /S3 HeadBucket on bucket "lw-int-auth" failed: HTTP 403 .*S3_SECRET_KEY/);
    const file = join(dir, 'keep.mkv');
    const body = randomBytes(6 * 1024 * 1024);
    await writeFile(file, body);
    await assert.rejects(bad.putFile('recordings/B/segments/seg-00000.mkv', file, 'video/x-matroska'));
    assert.equal(sha(await readFile(file)), sha(body), 'the local copy survives a failed multipart upload');
    assert.deepEqual(await good.list('recordings/B/'), [], 'and nothing half-written is left in the bucket');
  } finally {
    good.destroy();
    bad.destroy();
  }
});

test(
  'a growing file is uploaded part by part while it grows; only the head and the tail go up at the end',
  { timeout: 120_000 },
  async () => {
    const storage = fromEnv({ S3_BUCKET: 'lw-int-growing' });
    await storage.init();
    try {
      const file = join(dir, 'growing.webm');
      const MiB = 1024 * 1024;
      const body = randomBytes(23 * MiB + 12345);
      const g = storage.openGrowing('recordings/G/raw.webm', 'video/webm');
      // Grows in uneven steps, as a muxer writes.
      await writeFile(file, body.subarray(0, 3 * MiB));
      assert.equal(await g.sync(file), 0, 'nothing past the held-back 5 MiB head yet');
      await writeFile(file, body.subarray(0, 12 * MiB));
      assert.equal(await g.sync(file), 5 * MiB, 'one whole 5 MiB part past the head');
      await writeFile(file, body.subarray(0, 21 * MiB));
      assert.equal(await g.sync(file), 10 * MiB, 'two more');
      assert.equal(await storage.stat('recordings/G/raw.webm'), null, 'not visible before it is completed');
      // The writer's last act: it rewrites its header, then the file is done.
      body.write('HEADER-REWRITTEN', 40);
      await writeFile(file, body);
      const done = await g.complete(file);
      assert.equal(done.size, body.length);
      assert.equal(done.bytesAtEnd, 5 * MiB + (body.length - 20 * MiB), 'the stop path sent the head and the tail only');
      const back = join(dir, 'growing-back.webm');
      await storage.download('recordings/G/raw.webm', back);
      assert.equal(sha(await readFile(back)), sha(body), 'the object is the finished file, rewritten head included');
      assert.equal((await storage.stat('recordings/G/raw.webm'))?.contentType, 'video/webm');

      // Small: one PUT at the end. Aborted: nothing visible.
      await writeFile(file, body.subarray(0, 1000));
      const small = storage.openGrowing('recordings/G/small.webm', 'video/webm');
      assert.equal(await small.sync(file), 0);
      assert.deepEqual(await small.complete(file), { size: 1000, bytesAtEnd: 1000 });
      await writeFile(file, body);
      const dropped = storage.openGrowing('recordings/G/dropped.webm', 'video/webm');
      assert.ok((await dropped.sync(file)) > 0);
      await dropped.abort();
      assert.equal(await storage.stat('recordings/G/dropped.webm'), null, 'an aborted object never appears');
      await storage.deletePrefix('recordings/G/');
    } finally {
      storage.destroy();
    }
  },
);

test(
  'a shared upload: two growing files send parts into their blocks, park, and one completion joins them with bytes between',
  { timeout: 120_000 },
  async () => {
    const storage = fromEnv({ S3_BUCKET: 'lw-int-shared' });
    await storage.init();
    try {
      const uploads = storage.sharedUploads;
      const MiB = 1024 * 1024;
      const key = 'recordings/S/raw.webm';
      const uploadId = await uploads.create(key, 'video/webm');
      const slot = (block: number) => ({ uploadId, firstPart: block * 500 + 1, lastPart: block * 500 + 499 });
      const [a, b] = [17 * MiB + 111, 13 * MiB + 7].map((n) => randomBytes(n));
      const [fa, fb] = ['a', 'b'].map((n) => join(dir, `shared-${n}.webm`));
      await Promise.all([writeFile(fa!, a!), writeFile(fb!, b!)]);
      const ga = uploads.open(key, 'video/webm', slot(0));
      const gb = uploads.open(key, 'video/webm', slot(1));
      assert.equal(await ga.sync(fa!), 10 * MiB, 'two 5 MiB parts past the 5.25 MiB head');
      assert.equal(await gb.sync(fb!), 5 * MiB);
      // A file dropped before it sent a part (a run that got no media) leaves the upload open.
      await uploads.open(key, 'video/webm', slot(2)).abort();
      const pa = await ga.park!();
      const pb = await gb.park!();
      assert.deepEqual(
        pa.parts.map((p) => [p.n, p.start, p.end]),
        [
          [2, 5.25 * MiB, 10.25 * MiB],
          [3, 10.25 * MiB, 15.25 * MiB],
        ],
      );
      assert.deepEqual(
        pb.parts.map((p) => p.n),
        [502],
      );
      assert.equal(await storage.stat(key), null, 'not visible before the completion');
      const head = Buffer.from('A NEW HEAD');
      const piece = (p: { n: number; etag: string; start: number; end: number }) => ({ part: p.n, etag: p.etag, size: p.end - p.start });
      const { size } = await uploads.complete(key, uploadId, [
        { bytes: head },
        { bytes: a!.subarray(0, pa.head) },
        ...pa.parts.map(piece),
        { bytes: a!.subarray(pa.next) },
        { bytes: b!.subarray(0, pb.head) },
        ...pb.parts.map(piece),
        { bytes: b!.subarray(pb.next) },
      ]);
      const expected = Buffer.concat([head, a!, b!]);
      assert.equal(size, expected.length);
      const back = join(dir, 'shared-back.webm');
      await storage.download(key, back);
      assert.equal(sha(await readFile(back)), sha(expected), 'the object is the new head, then both files whole');
      await uploads.abort(key, uploadId).catch(() => {}); // completed: nothing left to abort

      // Ceph refuses a completion that leaves out a part it holds (AWS and MinIO drop such
      // parts): an upload with a dropped run's parts is refused as InvalidPart, which finalize
      // takes as "join the segments" (jobs/finalize.ts).
      const other = await uploads.create(key, 'video/webm');
      const gx = uploads.open(key, 'video/webm', { uploadId: other, firstPart: 1, lastPart: 499 });
      const gy = uploads.open(key, 'video/webm', { uploadId: other, firstPart: 501, lastPart: 999 });
      assert.equal(await gx.sync(fa!), 10 * MiB);
      assert.equal(await gy.sync(fb!), 5 * MiB);
      await gy.abort();
      const px = await gx.park!();
      const refused = await uploads
        .complete(key, other, [{ bytes: a!.subarray(0, px.head) }, ...px.parts.map(piece), { bytes: a!.subarray(px.next) }])
        .then(
          () => null,
          (err: unknown) => (err as Error).name,
        );
      assert.ok(refused === null || refused === 'InvalidPart', `completion without a held part: ${refused}`);
      await uploads.abort(key, other).catch(() => {});
      await storage.deletePrefix('recordings/S/');
    } finally {
      storage.destroy();
    }
  },
);

test(
  'compose: an object made of stored ranges (copied inside S3) and bytes, replacing one of its sources',
  { timeout: 120_000 },
  async () => {
    const storage = fromEnv({ S3_BUCKET: 'lw-int-compose' });
    await storage.init();
    try {
      const MiB = 1024 * 1024;
      const a = randomBytes(14 * MiB + 7);
      const b = randomBytes(9 * MiB + 3);
      await storage.putBytes('recordings/C/raw.webm', a, 'video/webm');
      await storage.putBytes('recordings/C/runs/run-1.webm', b, 'video/webm');
      const head = Buffer.from('new head');
      const pieces = [
        { bytes: head },
        { key: 'recordings/C/raw.webm', start: 100, end: 12 * MiB }, // borrows its first bytes to fill part 1
        { bytes: Buffer.from('cut cluster') },
        { key: 'recordings/C/runs/run-1.webm', start: 0, end: 2 * MiB }, // short: uploaded
        { key: 'recordings/C/runs/run-1.webm', start: 2 * MiB, end: b.length }, // copied
        { bytes: Buffer.from('cues') },
      ];
      const expected = Buffer.concat([head, a.subarray(100, 12 * MiB), Buffer.from('cut cluster'), b, Buffer.from('cues')]);
      const { size } = await storage.compose('recordings/C/raw.webm', pieces, 'video/webm');
      assert.equal(size, expected.length);
      const back = join(dir, 'composed.webm');
      await storage.download('recordings/C/raw.webm', back);
      assert.equal(sha(await readFile(back)), sha(expected), 'the object is the pieces in order, its own old bytes included');
      assert.equal((await storage.stat('recordings/C/raw.webm'))?.contentType, 'video/webm');
      // Small: one PUT.
      await storage.compose(
        'recordings/C/small.webm',
        [{ bytes: head }, { key: 'recordings/C/runs/run-1.webm', start: 0, end: 10 }],
        'video/webm',
      );
      assert.deepEqual(await storage.getBytes('recordings/C/small.webm'), Buffer.concat([head, b.subarray(0, 10)]));
      await storage.deletePrefix('recordings/C/');
    } finally {
      storage.destroy();
    }
  },
);
