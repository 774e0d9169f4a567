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
