// Where recordings live. One interface, two implementations picked once from config:
// a local directory (RECORD_DIR) and S3/MinIO (S3_*). Keys are "/"-separated, relative,
// and made only of [A-Za-z0-9._/-] (ids are ULIDs), so they are safe as paths and object keys.
import type { Readable } from 'node:stream';
import type { GrowingObject } from './growing.js';

export interface ObjectInfo {
  key: string;
  size: number;
  contentType: string | undefined;
  modifiedAt: Date | undefined;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * A piece of an object made by Storage.compose: bytes given here, or bytes [start, end) of a
 * stored object (copied inside the storage, never through this process when it can).
 */
export type ComposePiece = { bytes: Buffer } | { key: string; start: number; end: number };

/** A block of part numbers in a multipart upload several growing objects fill (sharedUpload.ts). */
export interface SharedUploadSlot {
  uploadId: string;
  /** The block's first part number (the head, or the bytes joined in before the block's parts). */
  firstPart: number;
  /** The block's last part number. */
  lastPart: number;
}

/** A piece of a shared upload's completed object: bytes sent now, or a part sent earlier. */
export type SharedPiece = { bytes: Buffer } | { part: number; etag: string; size: number };

/**
 * One multipart upload filled by several growing objects, each in its own block of part numbers,
 * and completed once from their parts plus a few bytes sent at the end (S3 only).
 */
export interface SharedUploads {
  /** Starts an upload for `key`; its id. */
  create(key: string, contentType: string): Promise<string>;
  /** A growing object that fills `slot` of an upload for `key` and is parked, not completed. */
  open(key: string, contentType: string, slot: SharedUploadSlot): GrowingObject;
  /**
   * Completes the upload as `pieces` in order: consecutive byte pieces are sent as one part,
   * numbered just below the part that follows them (or the last number, at the end). Throws
   * when a piece other than the last would be shorter than S3's minimum part.
   */
  complete(key: string, uploadId: string, pieces: readonly SharedPiece[]): Promise<{ size: number }>;
  abort(key: string, uploadId: string): Promise<void>;
}

export interface Storage {
  readonly kind: 'local' | 's3';
  /** Makes sure the storage is usable (creates the directory / bucket). */
  init(): Promise<void>;
  /** Cheap check for /readyz. */
  check(): Promise<void>;
  putBytes(key: string, body: Buffer | string, contentType: string): Promise<void>;
  /** Uploads a local file (S3: multipart for large files, with retries). The local file is kept. */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /**
   * An object filled from a local file that is still being written (growing.ts): uploaded while
   * it grows, completed at the end for a cost that does not depend on its size.
   */
  openGrowing(key: string, contentType: string): GrowingObject;
  /** Shared multipart uploads (S3); null for local storage, which has no parts. */
  readonly sharedUploads: SharedUploads | null;
  /**
   * Writes `key` as the pieces one after the other. A source may be `key` itself: it is read
   * before it is replaced. S3: a multipart upload whose large ranges are server-side copies
   * (UploadPartCopy); local: a file written beside the target and renamed over it.
   */
  compose(key: string, pieces: readonly ComposePiece[], contentType: string): Promise<{ size: number }>;
  /** Reads a whole object into memory; null when missing. For small objects (manifests). */
  getBytes(key: string): Promise<Buffer | null>;
  /** Streams an object or a byte range of it; null when missing. */
  getStream(key: string, range?: ByteRange): Promise<Readable | null>;
  /** Copies an object to a local file path. */
  download(key: string, path: string): Promise<void>;
  stat(key: string): Promise<ObjectInfo | null>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<number>;
  /** A time-limited URL clients can GET directly, or null when the storage cannot make one. */
  presignGet(key: string, expiresSeconds: number, filename?: string): Promise<string | null>;
}

const KEY_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/;

/** Throws for keys that could escape the storage root ("..", absolute, odd characters). */
export function assertSafeKey(key: string): void {
  if (!KEY_RE.test(key) || key.split('/').some((p) => p === '.' || p === '..')) {
    throw new Error(`unsafe storage key: ${JSON.stringify(key)}`);
  }
}

/** Object keys of one recording. */
export const recordingKeys = {
  prefix: (id: string) => `recordings/${id}/`,
  manifest: (id: string) => `recordings/${id}/manifest.json`,
  segment: (id: string, index: number) => `recordings/${id}/segments/seg-${String(index).padStart(5, '0')}.mkv`,
  segmentsPrefix: (id: string) => `recordings/${id}/segments/`,
  output: (id: string, file: string) => `recordings/${id}/${file}`,
  /** A later capture run's continuous file (joined into the raw output at the end), and its layout. */
  runFile: (id: string, run: number, ext: string) => `recordings/${id}/runs/run-${String(run).padStart(5, '0')}.${ext}`,
  runLayout: (id: string, run: number) => `recordings/${id}/runs/run-${String(run).padStart(5, '0')}.layout.json`,
  runsPrefix: (id: string) => `recordings/${id}/runs/`,
};
