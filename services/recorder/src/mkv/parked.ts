// A capture run parked in the raw output's shared upload (jobs/rawUpload.ts): most of its
// continuous file went up as parts while it recorded; what it held back (its lead: the bytes
// from its first cluster to the end of the held-back head; its tail: from the last part to its
// last cluster) is stored as one small "loose" object. A join plan made over the run files'
// byte ranges (join.ts) becomes, here, the pieces of the upload's completion: loose bytes, or
// a sent part where a range covers it whole. Pure.
import type { ComposePiece, SharedPiece } from '@live-webrtc/shared';
import { JoinError } from './join.js';

/** The local copy of a parked run's loose bytes, in the recording's work directory. */
export const looseFileName = (run: number): string => `run-${run}.loose`;

export interface ParkedRun {
  uploadId: string;
  /** The loose object: the lead's bytes, then the tail's. */
  looseKey: string;
  /** Parts sent: number, ETag, file bytes [start, end), in file order. */
  parts: { n: number; etag: string; start: number; end: number }[];
  /** File bytes [start, end) of the lead and the tail (they meet when no part was sent). */
  lead: [number, number];
  tail: [number, number];
}

/**
 * Where the loose bytes are, for a run file whose clusters are [clustersStart, clustersEnd), of
 * which [head, next) was sent as parts.
 */
export function looseRanges(clustersStart: number, clustersEnd: number, head: number, next: number): Pick<ParkedRun, 'lead' | 'tail'> {
  const leadEnd = Math.min(Math.max(head, clustersStart), clustersEnd);
  const tailStart = Math.min(Math.max(next, leadEnd), clustersEnd);
  return { lead: [clustersStart, leadEnd], tail: [tailStart, clustersEnd] };
}

/** Bytes [start, end) of the run file, from its loose copy. Throws JoinError for bytes sent as parts. */
export function looseSlice(p: Pick<ParkedRun, 'lead' | 'tail'>, loose: Buffer, start: number, end: number): Buffer {
  const inLead = start >= p.lead[0] && end <= p.lead[1];
  const inTail = start >= p.tail[0] && end <= p.tail[1];
  const across = p.lead[1] === p.tail[0] && start >= p.lead[0] && end <= p.tail[1];
  if (end < start || !(inLead || inTail || across)) throw new JoinError(`bytes ${start}-${end} of the run were sent as parts`);
  // The loose copy is the lead, then the tail right after it.
  const at = inTail && !inLead ? p.lead[1] - p.lead[0] + start - p.tail[0] : start - p.lead[0];
  return loose.subarray(at, at + end - start);
}

/**
 * The completion's pieces for a join plan whose ranges name runs by their loose key. A range
 * must cover each sent part whole or not at all (a cut inside a part cannot be made: the part is
 * in the upload, not readable).
 */
export function sharedPiecesFor(
  pieces: readonly ComposePiece[],
  runs: ReadonlyMap<string, { parked: ParkedRun; loose: Buffer }>,
): SharedPiece[] {
  const out: SharedPiece[] = [];
  for (const piece of pieces) {
    if ('bytes' in piece) {
      out.push(piece);
      continue;
    }
    const run = runs.get(piece.key);
    if (!run) throw new JoinError(`no parked run for ${piece.key}`);
    const { parked, loose } = run;
    let pos = piece.start;
    while (pos < piece.end) {
      const part = parked.parts.find((x) => pos >= x.start && pos < x.end);
      if (part) {
        if (part.start !== pos || part.end > piece.end) throw new JoinError(`a cut inside part ${part.n} of ${piece.key}`);
        out.push({ part: part.n, etag: part.etag, size: part.end - part.start });
        pos = part.end;
        continue;
      }
      // Loose bytes up to the next part or the range's end.
      const nextPart = parked.parts.find((x) => x.start > pos);
      const stop = Math.min(piece.end, nextPart ? nextPart.start : piece.end);
      out.push({ bytes: looseSlice(parked, loose, pos, stop) });
      pos = stop;
    }
  }
  return out;
}
