// The completion of a shared multipart upload (Storage.sharedUploads): several growing objects
// (a recording's capture runs) each sent parts in a block of part numbers while they were
// written; at the end the object is those parts in order with a few bytes between and around
// them (a new head, the bytes each file held back, the index). This plans the parts of that
// completion. Pure.
import type { SharedPiece } from './storage.js';

/** S3's most parts per upload: the last number is the end's bytes. */
export const SHARED_LAST_PART = 10_000;

export type SharedPart = { n: number; bytes: Buffer } | { n: number; etag: string; size: number };

/** The pieces cannot be completed as one upload (a short part in the middle, numbers out of order). */
export class SharedUploadError extends Error {
  override name = 'SharedUploadError';
}

/**
 * Parts for `pieces`: bytes between two sent parts become one part numbered just below the part
 * after them (each block keeps its first number free for that) or `SHARED_LAST_PART` at the end.
 */
export function planSharedParts(pieces: readonly SharedPiece[], minPart: number): SharedPart[] {
  const out: SharedPart[] = [];
  let pending: Buffer[] = [];
  const flush = (n: number): void => {
    if (pending.length === 0) return;
    out.push({ n, bytes: Buffer.concat(pending) });
    pending = [];
  };
  for (const p of pieces) {
    if ('bytes' in p) {
      if (p.bytes.length > 0) pending.push(p.bytes);
      continue;
    }
    flush(p.part - 1);
    out.push({ n: p.part, etag: p.etag, size: p.size });
  }
  flush(SHARED_LAST_PART);
  for (const [i, p] of out.entries()) {
    const size = 'bytes' in p ? p.bytes.length : p.size;
    if (i < out.length - 1 && size < minPart) throw new SharedUploadError(`part ${p.n} would be ${size} bytes, below S3's minimum`);
    const prev = out[i - 1];
    if (p.n < 1 || p.n > SHARED_LAST_PART || (prev && prev.n >= p.n)) throw new SharedUploadError(`part numbers out of order at ${p.n}`);
  }
  return out;
}
