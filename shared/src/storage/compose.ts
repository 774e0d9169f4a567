// The parts of an S3 multipart upload that writes an object from pieces (Storage.compose).
// S3 wants every part but the last to be at least 5 MiB. A stored range that long becomes a
// server-side copy (UploadPartCopy, split so copies run side by side); shorter pieces are
// gathered into uploaded parts, borrowing the first bytes of the next range when a part would
// otherwise end short. Pure apart from `fetch`, which reads those borrowed or short ranges.
import type { ComposePiece } from './storage.js';

/** Reads bytes [start, end) of a stored object. */
export type FetchRange = (key: string, start: number, end: number) => Promise<Buffer>;

/** Copies larger than this are split: smaller copies run side by side. */
export const COPY_CHUNK = 64 * 1024 * 1024;

export async function planComposeParts(pieces: readonly ComposePiece[], minPart: number, fetch: FetchRange): Promise<ComposePiece[]> {
  const parts: ComposePiece[] = [];
  let pending: Buffer[] = [];
  let pendingSize = 0;
  const flush = (): void => {
    if (pendingSize === 0) return;
    parts.push({ bytes: Buffer.concat(pending) });
    pending = [];
    pendingSize = 0;
  };
  const take = (b: Buffer): void => {
    pending.push(b);
    pendingSize += b.length;
    if (pendingSize >= minPart) flush();
  };
  for (const p of pieces) {
    if ('bytes' in p) {
      if (p.bytes.length > 0) take(p.bytes);
      continue;
    }
    let { start } = p;
    const { end } = p;
    if (end <= start) continue;
    if (pendingSize > 0) {
      // Fill the pending part up to the minimum from this range when what is left stays a copy.
      const need = minPart - pendingSize;
      if (end - start - need < minPart) {
        take(await fetch(p.key, start, end));
        continue;
      }
      take(await fetch(p.key, start, start + need));
      start += need;
    } else if (end - start < minPart) {
      take(await fetch(p.key, start, end));
      continue;
    }
    // A copy of [start, end) in chunks, none below the minimum.
    while (start < end) {
      let chunkEnd = Math.min(end, start + COPY_CHUNK);
      if (end - chunkEnd < minPart) chunkEnd = end;
      parts.push({ key: p.key, start, end: chunkEnd });
      start = chunkEnd;
    }
  }
  flush();
  return parts;
}
