// Checks that startCephS3 gives a real S3 server: objects round-trip, signatures are checked
// (a wrong secret is refused, which a mock like s3rver would accept), and multipart works.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startCephS3 } from './ceph-s3.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('startCephS3: a real S3 server on a free loopback port', { timeout: 180_000 }, async () => {
  const t0 = Date.now();
  const s3 = await startCephS3({ log: process.env['CEPH_S3_DEBUG'] ? (l) => console.error(l) : undefined });
  console.log(`ceph s3 startup took ${Date.now() - t0} ms`);
  try {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const client = (secretAccessKey: string): S3Client =>
      new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKey, secretAccessKey },
      });
    const good = client(s3.secretKey);
    const Bucket = 'test-bucket';
    await good.send(new CreateBucketCommand({ Bucket }));

    const body = randomBytes(1000);
    await good.send(new PutObjectCommand({ Bucket, Key: 'a/b.bin', Body: body, ContentType: 'application/octet-stream' }));
    const got = await good.send(new GetObjectCommand({ Bucket, Key: 'a/b.bin' }));
    assert.ok(got.Body);
    assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), body);

    const bad = client(`${s3.secretKey.slice(0, -1)}${s3.secretKey.endsWith('0') ? '1' : '0'}`);
    await assert.rejects(bad.send(new GetObjectCommand({ Bucket, Key: 'a/b.bin' })), (err: unknown) => {
      assert.ok(err instanceof S3ServiceException, `expected an S3 error, got ${String(err)}`);
      assert.equal(err.$metadata.httpStatusCode, 403);
      assert.equal(err.name, 'SignatureDoesNotMatch');
      return true;
    });
    bad.destroy();

    // Two parts: S3 requires every part but the last to be at least 5 MiB.
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(123_457)];
    const Key = 'multi.bin';
    const { UploadId } = await good.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    assert.ok(UploadId);
    const done: { ETag: string; PartNumber: number }[] = [];
    for (const [i, part] of parts.entries()) {
      const r = await good.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: part }));
      assert.ok(r.ETag);
      done.push({ ETag: r.ETag, PartNumber: i + 1 });
    }
    // This rgw answers CompleteMultipartUpload with an empty ETag, so check the object instead.
    await good.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    const whole = Buffer.concat(parts);
    const head = await good.send(new HeadObjectCommand({ Bucket, Key }));
    assert.equal(head.ContentLength, whole.length);
    const multi = await good.send(new GetObjectCommand({ Bucket, Key }));
    assert.ok(multi.Body);
    assert.equal(sha(await multi.Body.transformToByteArray()), sha(whole));
    good.destroy();
  } finally {
    await s3.stop();
    await s3.stop(); // a second call must be harmless
  }
});
