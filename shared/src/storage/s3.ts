import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { traceS3Client } from './s3Spans.js';
import type { GrowingObject } from './growing.js';
import { S3GrowingObject, UPLOAD_CHUNK } from './s3Growing.js';
import { planComposeParts } from './compose.js';
import { planSharedParts } from './sharedUpload.js';
import {
  assertSafeKey,
  type ByteRange,
  type ComposePiece,
  type ObjectInfo,
  type SharedPiece,
  type SharedUploads,
  type SharedUploadSlot,
  type Storage,
} from './storage.js';

export interface S3StorageOptions {
  /** "host[:port]" as in the reference document, or a full http(s) URL. Unset = AWS. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  useSsl: boolean;
  pathStyle: boolean;
  /** Optional key prefix inside the bucket (e.g. per-test isolation). */
  keyPrefix?: string;
}

/** S3 limits: at most 10,000 parts of at least 5 MiB. */
const MIN_PART = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

/** Part size for a file of `size` bytes: 8 MiB, grown so 10,000 parts suffice. */
export function partSizeFor(size: number): number {
  return Math.max(8 * 1024 * 1024, MIN_PART, Math.ceil(size / MAX_PARTS));
}

/** "minio:9000" + useSsl=false → "http://minio:9000"; URLs pass through. */
export function s3EndpointUrl(endpoint: string | undefined, useSsl: boolean): string | undefined {
  if (endpoint === undefined) return undefined;
  if (/^https?:\/\//.test(endpoint)) return endpoint;
  return `${useSsl ? 'https' : 'http'}://${endpoint}`;
}

const isNotFound = (err: unknown): boolean =>
  err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound');

/**
 * An S3 error an operator can act on. HEAD requests have no body, so the SDK reports a refused
 * signature as "UnknownError"; the HTTP status says what happened.
 */
export function explainS3Error(err: unknown, op: string, bucket: string): Error {
  if (!(err instanceof S3ServiceException)) return err instanceof Error ? err : new Error(String(err));
  const status = err.$metadata.httpStatusCode;
  const hint =
    status === 403
      ? ' (access denied: check S3_ACCESS_KEY / S3_SECRET_KEY and the bucket policy)'
      : status === 404
        ? ' (no such bucket)'
        : status === 301 || status === 400
          ? ' (wrong S3_REGION or S3_PATH_STYLE?)'
          : '';
  const name = err.name === 'Unknown' || err.name === 'UnknownError' ? '' : ` ${err.name}`;
  return new Error(`S3 ${op} on bucket "${bucket}" failed: HTTP ${status ?? '?'}${name}${hint}`, { cause: err });
}

export class S3Storage implements Storage {
  readonly kind = 's3' as const;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(opts: S3StorageOptions) {
    const endpoint = s3EndpointUrl(opts.endpoint, opts.useSsl);
    this.#client = new S3Client({
      region: opts.region,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: opts.pathStyle,
      credentials: { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey },
      maxAttempts: 4,
      // The SDK's default (checksums on every request) sends streamed bodies aws-chunked with a
      // trailing checksum; Ceph radosgw and older MinIO answer 411 MissingContentLength.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.#bucket = opts.bucket;
    this.#prefix = opts.keyPrefix ?? '';
    traceS3Client(this.#client, opts.bucket);
  }

  #key(key: string): string {
    assertSafeKey(key);
    return this.#prefix + key;
  }

  async init(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      if (!(err instanceof S3ServiceException) || err.$metadata.httpStatusCode !== 404)
        throw explainS3Error(err, 'HeadBucket', this.#bucket);
      await this.#client.send(new CreateBucketCommand({ Bucket: this.#bucket })).catch((e: unknown) => {
        throw explainS3Error(e, 'CreateBucket', this.#bucket);
      });
    }
  }

  async check(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket })).catch((err: unknown) => {
      throw explainS3Error(err, 'HeadBucket', this.#bucket);
    });
  }

  async putBytes(key: string, body: Buffer | string, contentType: string): Promise<void> {
    await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#key(key), Body: body, ContentType: contentType }));
  }

  async putFile(key: string, path: string, contentType: string): Promise<void> {
    const { size } = await stat(path);
    // The body stream is closed whatever happens: a request that fails before reading it
    // (S3 unreachable) would otherwise keep the file open for the life of the process — one
    // descriptor, and a deleted segment's disk space, per failed attempt (found by the soak).
    const body = createReadStream(path, { highWaterMark: UPLOAD_CHUNK });
    try {
      if (size < MIN_PART) {
        await this.#client.send(
          new PutObjectCommand({ Bucket: this.#bucket, Key: this.#key(key), Body: body, ContentLength: size, ContentType: contentType }),
        );
        return;
      }
      // lib-storage uploads parts concurrently and aborts the multipart upload on failure;
      // the SDK client retries each part (maxAttempts). The local file is never touched.
      const upload = new Upload({
        client: this.#client,
        params: { Bucket: this.#bucket, Key: this.#key(key), Body: body, ContentType: contentType },
        partSize: partSizeFor(size),
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    } finally {
      body.destroy();
    }
  }

  openGrowing(key: string, contentType: string): GrowingObject {
    return new S3GrowingObject(this.#client, this.#bucket, this.#key(key), contentType);
  }

  readonly sharedUploads: SharedUploads = {
    create: (key, contentType) => this.#createUpload(key, contentType),
    open: (key: string, contentType: string, slot: SharedUploadSlot) =>
      // The held-back head reaches past the file's EBML head and Tracks (< 256 KiB), so the
      // bytes joined in before a block's parts are never shorter than S3's minimum part.
      new S3GrowingObject(this.#client, this.#bucket, this.#key(key), contentType, { shared: slot, headBytes: MIN_PART + 256 * 1024 }),
    complete: (key, uploadId, pieces) => this.#completeShared(key, uploadId, pieces),
    abort: async (key, uploadId) => {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#key(key), UploadId: uploadId }));
    },
  };

  async #completeShared(key: string, uploadId: string, pieces: readonly SharedPiece[]): Promise<{ size: number }> {
    const parts = planSharedParts(pieces, MIN_PART);
    const etags = await Promise.all(parts.map((p) => ('bytes' in p ? this.#uploadPart(key, uploadId, p.n, p.bytes) : p.etag)));
    await this.#completeUpload(
      key,
      uploadId,
      parts.map((p, i) => ({ PartNumber: p.n, ETag: etags[i]! })),
    );
    return { size: parts.reduce((n, p) => n + ('bytes' in p ? p.bytes.length : p.size), 0) };
  }

  async #createUpload(key: string, contentType: string): Promise<string> {
    const r = await this.#client.send(
      new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#key(key), ContentType: contentType }),
    );
    if (!r.UploadId) throw new Error(`S3 gave no upload id for ${key}`);
    return r.UploadId;
  }

  /** Sends `bytes` as part `n` of an upload; its ETag. */
  async #uploadPart(key: string, uploadId: string, n: number, bytes: Buffer): Promise<string> {
    const r = await this.#client.send(
      new UploadPartCommand({
        Bucket: this.#bucket,
        Key: this.#key(key),
        UploadId: uploadId,
        PartNumber: n,
        Body: bytes,
        ContentLength: bytes.length,
      }),
    );
    if (!r.ETag) throw new Error(`S3 gave no ETag for part ${n} of ${key}`);
    return r.ETag;
  }

  async #completeUpload(key: string, uploadId: string, parts: { PartNumber: number; ETag: string }[]): Promise<void> {
    await this.#client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#bucket,
        Key: this.#key(key),
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  async compose(key: string, pieces: readonly ComposePiece[], contentType: string): Promise<{ size: number }> {
    const fetch = async (k: string, start: number, end: number): Promise<Buffer> => {
      const s = await this.getStream(k, { start, end: end - 1 });
      if (!s) throw new Error(`no such object: ${k}`);
      const chunks: Buffer[] = [];
      for await (const c of s) chunks.push(c as Buffer);
      const b = Buffer.concat(chunks);
      if (b.length !== end - start) throw new Error(`${k}: read ${b.length} of bytes ${start}-${end}`);
      return b;
    };
    const parts = await planComposeParts(pieces, MIN_PART, fetch);
    const size = parts.reduce((n, p) => n + ('bytes' in p ? p.bytes.length : p.end - p.start), 0);
    if (parts.length === 1 && 'bytes' in parts[0]!) {
      await this.putBytes(key, parts[0].bytes, contentType);
      return { size };
    }
    const target = this.#key(key);
    const uploadId = await this.#createUpload(key, contentType);
    try {
      const etags: string[] = new Array<string>(parts.length);
      // A few parts at a time: copies run inside the storage, so they overlap well.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < parts.length) {
          const i = next++;
          const p = parts[i]!;
          const PartNumber = i + 1;
          if ('bytes' in p) {
            etags[i] = await this.#uploadPart(key, uploadId, PartNumber, p.bytes);
          } else {
            const r = await this.#client.send(
              new UploadPartCopyCommand({
                Bucket: this.#bucket,
                Key: target,
                UploadId: uploadId,
                PartNumber,
                CopySource: `${this.#bucket}/${encodeURIComponent(this.#key(p.key))}`,
                CopySourceRange: `bytes=${p.start}-${p.end - 1}`,
              }),
            );
            const etag = r.CopyPartResult?.ETag;
            if (!etag) throw new Error(`S3 gave no ETag for copied part ${PartNumber} of ${key}`);
            etags[i] = etag;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, parts.length) }, worker));
      await this.#completeUpload(
        key,
        uploadId,
        etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
      );
      return { size };
    } catch (err) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: target, UploadId: uploadId })).catch(() => {});
      throw err;
    }
  }

  async getBytes(key: string): Promise<Buffer | null> {
    const s = await this.getStream(key);
    if (!s) return null;
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable | null> {
    try {
      const r = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      return r.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async download(key: string, path: string): Promise<void> {
    const s = await this.getStream(key);
    if (!s) throw new Error(`no such object: ${key}`);
    await mkdir(dirname(path), { recursive: true });
    await pipeline(s, createWriteStream(path));
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const r = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
      return { key, size: r.ContentLength ?? 0, contentType: r.ContentType, modifiedAt: r.LastModified };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix + prefix, ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.#prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const r = await this.#client.send(
        new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch.map((k) => ({ Key: this.#key(k) })), Quiet: true } }),
      );
      // Quiet mode lists only the keys S3 could not delete: a 200 does not mean all went.
      const failed = r.Errors ?? [];
      if (failed.length > 0)
        throw new Error(`S3 DeleteObjects left ${failed.length} of ${batch.length} objects (first: ${failed[0]?.Key} ${failed[0]?.Code})`);
    }
    return keys.length;
  }

  async presignGet(key: string, expiresSeconds: number, filename?: string): Promise<string | null> {
    const cmd = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: this.#key(key),
      ...(filename ? { ResponseContentDisposition: `attachment; filename="${filename}"` } : {}),
    });
    return getSignedUrl(this.#client, cmd, { expiresIn: expiresSeconds });
  }

  destroy(): void {
    this.#client.destroy();
  }
}
