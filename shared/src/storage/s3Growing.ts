// GrowingObject on S3: a multipart upload filled part by part while the local file grows (see
// growing.ts). Part 1 is the head [0, head) and is sent last, with the tail; parts 2… are
// [head + k·partSize, head + (k+1)·partSize), sent as soon as the file holds them whole.
//
// Given a shared upload (sharedUpload.ts), it fills only its block of part numbers and leaves
// the upload open: `park` returns the parts it sent and where they sit in the file, and the
// upload is completed later from every file's parts (S3Storage.completeShared).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { GrowingObject, ParkedParts } from './growing.js';
import type { SharedUploadSlot } from './storage.js';

/**
 * Read size of file uploads: 1 MiB instead of the stream default of 64 KiB, so a 2 MB segment
 * is 2 reads and 2 socket writes, not 32 of each (a recorder uploads every byte of every
 * capture, twice: segments and the growing file).
 */
export const UPLOAD_CHUNK = 1024 * 1024;

/** S3's smallest part (every part but the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts per upload. */
const MAX_PARTS = 10_000;

export interface S3GrowingOptions {
  /** Bytes held back for the end (the head the writer rewrites). ≥ 5 MiB. Default 5 MiB. */
  headBytes?: number;
  /** Size of the parts sent while the file grows. ≥ 5 MiB. Default 5 MiB. */
  partBytes?: number;
  /** Fill this block of an existing upload instead of an upload of its own. */
  shared?: SharedUploadSlot;
}

export class S3GrowingObject implements GrowingObject {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #key: string;
  readonly #contentType: string;
  readonly #head: number;
  readonly #partBytes: number;
  #uploadId: string | undefined;
  /** First and last part number this object may use (its block of a shared upload, or all). */
  readonly #firstPart: number;
  readonly #lastPart: number;
  readonly #shared: boolean;
  /** ETag by part number (a retried part replaces its entry). */
  readonly #parts = new Map<number, string>();
  /** Offset of the next part to send. */
  #next: number;
  #done = false;

  constructor(client: S3Client, bucket: string, key: string, contentType: string, o: S3GrowingOptions = {}) {
    this.#client = client;
    this.#bucket = bucket;
    this.#key = key;
    this.#contentType = contentType;
    this.#head = Math.max(MIN_PART_BYTES, o.headBytes ?? MIN_PART_BYTES);
    this.#partBytes = Math.max(MIN_PART_BYTES, o.partBytes ?? MIN_PART_BYTES);
    this.#next = this.#head;
    this.#shared = o.shared !== undefined;
    this.#uploadId = o.shared?.uploadId;
    this.#firstPart = o.shared?.firstPart ?? 1;
    this.#lastPart = o.shared?.lastPart ?? MAX_PARTS;
  }

  async sync(path: string): Promise<number> {
    if (this.#done) return 0;
    const { size } = await stat(path);
    let sent = 0;
    // Part numbers first + 1 … last − 1 while growing: the last number stays free for the tail.
    while (size - this.#next >= this.#partBytes && this.#middleParts() + this.#firstPart + 1 < this.#lastPart) {
      this.#uploadId ??= await this.#create();
      const partNumber = this.#middleParts() + this.#firstPart + 1;
      await this.#uploadPart(path, partNumber, this.#next, this.#partBytes);
      this.#next += this.#partBytes;
      sent += this.#partBytes;
    }
    return sent;
  }

  async complete(path: string): Promise<{ size: number; bytesAtEnd: number }> {
    if (this.#done) throw new Error('growing object already completed or aborted');
    const { size } = await stat(path);
    if (this.#uploadId === undefined || (this.#shared && this.#parts.size === 0)) {
      // Never grew past one part: one plain PUT of a small file (a shared upload is left as it
      // is: the caller forgets it).
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key,
          Body: createReadStream(path, { highWaterMark: UPLOAD_CHUNK }),
          ContentLength: size,
          ContentType: this.#contentType,
        }),
      );
      this.#done = true;
      return { size, bytesAtEnd: size };
    }
    const tail = size - this.#next;
    if (tail < 0) throw new Error(`${path} shrank below what was uploaded (${size} < ${this.#next} bytes)`);
    await Promise.all([
      this.#uploadPart(path, this.#firstPart, 0, this.#head),
      tail > 0 ? this.#uploadPart(path, this.#middleParts() + this.#firstPart + 1, this.#next, tail) : Promise.resolve(),
    ]);
    const parts = [...this.#parts].map(([PartNumber, ETag]) => ({ PartNumber, ETag })).sort((a, b) => a.PartNumber - b.PartNumber);
    await this.#client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#bucket,
        Key: this.#key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    this.#done = true;
    return { size, bytesAtEnd: this.#head + tail };
  }

  /**
   * Stops here without completing (a shared upload): what was sent, for the upload's completion.
   * Bytes [0, head) and [next, end of file) were not sent: the caller keeps them.
   */
  async park(): Promise<ParkedParts> {
    if (this.#done) throw new Error('growing object already completed or aborted');
    this.#done = true;
    const parts = [...this.#parts]
      .map(([n, etag]) => {
        const start = this.#head + (n - this.#firstPart - 1) * this.#partBytes;
        return { n, etag, start, end: start + this.#partBytes };
      })
      .sort((a, b) => a.n - b.n);
    return { parts, head: this.#head, next: this.#next };
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    // A shared upload holds other files' parts: it is not ours to abort (its owner completes or
    // aborts it; parts left out of the completion are dropped by S3).
    if (this.#uploadId === undefined || this.#shared) return;
    await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#key, UploadId: this.#uploadId }));
  }

  /** Parts sent while growing (not the head, not the tail). */
  #middleParts(): number {
    return (this.#next - this.#head) / this.#partBytes;
  }

  async #create(): Promise<string> {
    const r = await this.#client.send(
      new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#key, ContentType: this.#contentType }),
    );
    if (!r.UploadId) throw new Error(`S3 gave no upload id for ${this.#key}`);
    return r.UploadId;
  }

  async #uploadPart(path: string, partNumber: number, start: number, length: number): Promise<void> {
    const r = await this.#client.send(
      new UploadPartCommand({
        Bucket: this.#bucket,
        Key: this.#key,
        UploadId: this.#uploadId,
        PartNumber: partNumber,
        Body: createReadStream(path, { start, end: start + length - 1, highWaterMark: UPLOAD_CHUNK }),
        ContentLength: length,
      }),
    );
    if (!r.ETag) throw new Error(`S3 gave no ETag for part ${partNumber} of ${this.#key}`);
    this.#parts.set(partNumber, r.ETag);
  }
}
