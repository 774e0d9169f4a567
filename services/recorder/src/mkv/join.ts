// Joins capture runs' files into one Matroska/WebM file without reading them: each run file's
// clusters already carry the recording's timeline (ffmpeg wrote them with the run's offset), so
// the joined file is a new head (EBML header, Segment, SeekHead, Info with the duration, the
// first run's Tracks), the runs' clusters as byte ranges of the stored run files, and Cues for
// them. Storage copies the ranges server-side (Storage.compose): a stop costs a few requests,
// not a re-upload of the recording.
//
// Runs may overlap (a handover records until the next run is fed): an earlier run's clusters
// from the next run's first timestamp on are left out, and the one cluster that straddles it is
// fetched and cut block by block, so timestamps only ever go forward.
import type { ComposePiece } from '@live-webrtc/shared';
import {
  children,
  element,
  floatElement,
  ID,
  idBytes,
  masterHeader,
  readHeader,
  readTrackNumber,
  stringElement,
  uintElement,
} from './ebml.js';
import type { RunLayout } from './layout.js';

export interface JoinRun {
  /** Storage key of the run's completed file. */
  key: string;
  layout: RunLayout;
}

export interface JoinPlan {
  pieces: ComposePiece[];
  size: number;
  durationMs: number;
  /** Per run: where its kept media starts and ends on the joined timeline, ms (null: nothing kept). */
  spans: ({ startMs: number; endMs: number } | null)[];
}

/** Runs that cannot share one file (different tracks or codecs, nothing to join). */
export class JoinError extends Error {
  override name = 'JoinError';
}

/** Reads bytes [start, end) of a stored object. */
export type FetchRange = (key: string, start: number, end: number) => Promise<Buffer>;

const APP = 'live-webrtc';

/** The plan for joining `runs` (in timeline order). `fetch` reads the straddling clusters. */
export async function planJoin(runs: readonly JoinRun[], fetch: FetchRange): Promise<JoinPlan> {
  const first = runs[0];
  if (!first) throw new JoinError('no runs to join');
  for (const r of runs) {
    if (r.layout.trackSignature !== first.layout.trackSignature) throw new JoinError('the runs have different tracks or codec data');
    if (r.layout.timestampScaleNs !== first.layout.timestampScaleNs) throw new JoinError('the runs have different timestamp scales');
  }
  const msPer = first.layout.timestampScaleNs / 1e6;
  // Media pieces (positions relative to the first cluster) and cue points.
  const body: ComposePiece[] = [];
  let bodySize = 0;
  const cues: { ts: number; pos: number }[] = [];
  const spans: JoinPlan['spans'] = [];
  let lastEnd = 0;
  for (const [i, run] of runs.entries()) {
    const { clusters, clustersEnd, durationMs } = run.layout;
    const next = runs.slice(i + 1).find((r) => r.layout.clusters.length > 0);
    const limit = next ? next.layout.clusters[0]![1] : Infinity;
    const kept = clusters.filter(([, ts]) => ts < limit && ts >= lastEnd);
    if (kept.length === 0) {
      spans.push(null);
      continue;
    }
    const lastKept = kept[kept.length - 1]!;
    const after = clusters[clusters.indexOf(lastKept) + 1];
    const lastKeptEnd = after ? after[0] : clustersEnd;
    const mediaEnd = after ? after[1] : durationMs;
    const rangeStart = kept[0]![0];
    // Kept clusters are contiguous in the file (timestamps only grow within a run).
    const place = (pos: number) => bodySize + (pos - rangeStart);
    for (const [pos, ts, key] of kept) if (key) cues.push({ ts, pos: place(pos) });
    if (mediaEnd > limit) {
      // The last kept cluster runs into the next run: cut it at the next run's first timestamp.
      if (lastKept[0] > rangeStart) body.push({ key: run.key, start: rangeStart, end: lastKept[0] });
      bodySize += lastKept[0] - rangeStart;
      const cut = cutCluster(await fetch(run.key, lastKept[0], lastKeptEnd), limit / msPer);
      if (cut) {
        body.push({ bytes: cut });
        bodySize += cut.length;
      }
      lastEnd = limit;
    } else {
      body.push({ key: run.key, start: rangeStart, end: lastKeptEnd });
      bodySize += lastKeptEnd - rangeStart;
      lastEnd = mediaEnd;
    }
    spans.push({ startMs: kept[0]![1], endMs: lastEnd });
  }
  if (body.length === 0) throw new JoinError('no media in the runs');
  const durationMs = lastEnd;

  // Head: SeekHead (fixed size: 8-byte positions), Info, the first run's Tracks.
  const info = element(ID.Info, [
    uintElement(ID.TimestampScale, first.layout.timestampScaleNs),
    stringElement(ID.MuxingApp, APP),
    stringElement(ID.WritingApp, APP),
    floatElement(ID.Duration, durationMs / msPer),
  ]);
  const tracks = Buffer.from(first.layout.tracks, 'base64');
  const seekHead = (infoPos: number, tracksPos: number, cuesPos: number): Buffer =>
    element(
      ID.SeekHead,
      [
        [ID.Info, infoPos],
        [ID.Tracks, tracksPos],
        [ID.Cues, cuesPos],
      ].map(([id, p]) => element(ID.Seek, [element(ID.SeekID, idBytes(id!)), uintElement(ID.SeekPosition, p!, 8)])),
    );
  const seekSize = seekHead(0, 0, 0).length;
  const bodyPos = seekSize + info.length + tracks.length;
  const cuesEl = element(
    ID.Cues,
    cues.map((c) =>
      element(ID.CuePoint, [
        uintElement(ID.CueTime, c.ts / msPer),
        element(ID.CueTrackPositions, [
          uintElement(ID.CueTrack, first.layout.cueTrack),
          uintElement(ID.CueClusterPosition, bodyPos + c.pos),
        ]),
      ]),
    ),
  );
  const segmentData = bodyPos + bodySize + cuesEl.length;
  const head = Buffer.concat([
    Buffer.from(first.layout.ebmlHeader, 'base64'),
    masterHeader(ID.Segment, segmentData),
    seekHead(seekSize, seekSize + info.length, bodyPos + bodySize),
    info,
    tracks,
  ]);
  const pieces: ComposePiece[] = [{ bytes: head }, ...body, { bytes: cuesEl }];
  return { pieces, size: head.length + bodySize + cuesEl.length, durationMs, spans };
}

/**
 * A cluster with only its blocks before `limit` (TimestampScale units), or null when none is.
 * Its Timestamp and the kept blocks are copied as they are.
 */
export function cutCluster(bytes: Buffer, limit: number): Buffer | null {
  const h = readHeader(bytes, 0);
  if (!h || h.id !== ID.Cluster || h.size === null) throw new JoinError('not a cluster');
  const kids = children(bytes, h.dataPos, h.dataPos + h.size);
  const tsEl = kids.find((c) => c.id === ID.Timestamp);
  if (!tsEl) throw new JoinError('a cluster without a timestamp');
  let clusterTs = 0;
  for (let i = 0; i < tsEl.size!; i++) clusterTs = clusterTs * 256 + bytes[tsEl.dataPos + i]!;
  const keep: Buffer[] = [];
  let blocks = 0;
  for (const c of kids) {
    const whole = bytes.subarray(c.pos, c.dataPos + c.size!);
    if (c.id === ID.SimpleBlock || c.id === ID.BlockGroup) {
      const blockPos = c.id === ID.SimpleBlock ? c.dataPos : readHeader(bytes, c.dataPos)?.dataPos;
      const t = blockPos === undefined ? null : readTrackNumber(bytes, blockPos);
      if (!t || blockPos === undefined) continue;
      const rel = bytes.readInt16BE(blockPos + t.length);
      if (clusterTs + rel >= limit) continue;
      blocks++;
    }
    keep.push(whole);
  }
  return blocks === 0 ? null : element(ID.Cluster, keep, true);
}
