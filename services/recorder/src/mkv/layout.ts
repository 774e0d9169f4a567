// Where things are in a Matroska/WebM file ffmpeg closed: its EBML header and Tracks (copied
// into a joined file's head), and every Cluster's offset and timestamp (so clusters can be
// copied by byte range, and Cues written for them). Read once per capture run, from the local
// file, at the run's end: a header read per cluster, not the whole file.
import { open, type FileHandle } from 'node:fs/promises';
import { children, ID, readFloat, readHeader, readTrackNumber, readUint, type ElementHeader } from './ebml.js';
import type { ParkedRun } from './parked.js';

/** One cluster: file offset, timestamp (ms on the run file's timeline) and whether a seek may start there. */
export type ClusterEntry = [pos: number, tsMs: number, key: 0 | 1];

export interface RunLayout {
  /** File size. */
  size: number;
  /** The EBML header element, base64 (the DocType: webm or matroska). */
  ebmlHeader: string;
  /** The Tracks element, base64. */
  tracks: string;
  /** What must match for two files' clusters to share one Tracks element. */
  trackSignature: string;
  /** The track cues point at: the video track, else the first. */
  cueTrack: number;
  timestampScaleNs: number;
  /** End of the file's media on its timeline (Info's Duration), ms. */
  durationMs: number;
  clusters: ClusterEntry[];
  /** Offset just past the last cluster (where Cues and Tags begin). */
  clustersEnd: number;
  /** Set when the run was parked in the raw output's shared upload (its parts and loose bytes). */
  parked?: ParkedRun;
}

/** A file not laid out as expected (not closed, unknown sizes, no clusters). */
export class LayoutError extends Error {
  override name = 'LayoutError';
}

const HEAD_READ = 256 * 1024;
const CLUSTER_PEEK = 8 * 1024;

async function readAt(f: FileHandle, pos: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await f.read(buf, 0, length, pos);
  return buf.subarray(0, bytesRead);
}

export interface LayoutOptions {
  /**
   * The file was not closed (ffmpeg killed or crashed): take the clusters written whole before
   * it stopped, and the last one's last block as the duration. What ffmpeg still held in memory
   * (up to its cluster time limit) is lost; the segments lose as much.
   */
  salvage?: boolean;
}

/** The layout of a closed Matroska/WebM file. Throws LayoutError when it is not one we can join. */
export async function readRunLayout(path: string, o: LayoutOptions = {}): Promise<RunLayout> {
  const f = await open(path, 'r');
  try {
    const { size } = await f.stat();
    const head = await readAt(f, 0, Math.min(size, HEAD_READ));
    const ebml = readHeader(head, 0);
    if (!ebml || ebml.id !== ID.EBML || ebml.size === null) throw new LayoutError('no EBML header');
    const segPos = ebml.dataPos + ebml.size;
    const seg = readHeader(head, segPos);
    if (!seg || seg.id !== ID.Segment) throw new LayoutError('no Segment');
    const segEnd = seg.size === null ? size : Math.min(size, seg.dataPos + seg.size);
    let info: ElementHeader | undefined;
    let tracks: ElementHeader | undefined;
    let pos = seg.dataPos;
    // Top-level elements before the first cluster all sit in the head read.
    for (;;) {
      const h = readHeader(head, pos);
      if (!h || h.size === null) throw new LayoutError(`unreadable element at ${pos}`);
      if (h.id === ID.Cluster) break;
      if (h.id === ID.Info) info = h;
      if (h.id === ID.Tracks) tracks = h;
      if (h.dataPos + h.size > head.length) throw new LayoutError(`element ${h.id.toString(16)} runs past the head read`);
      pos = h.dataPos + h.size;
    }
    if (!info || !tracks) throw new LayoutError('no Info or Tracks before the first cluster');
    let timestampScaleNs = 1_000_000;
    let duration: number | null = null;
    for (const c of children(head, info.dataPos, info.dataPos + info.size!)) {
      if (c.id === ID.TimestampScale) timestampScaleNs = readUint(head, c);
      if (c.id === ID.Duration) duration = readFloat(head, c);
    }
    if (duration === null && !o.salvage) throw new LayoutError('no Duration (the file was not closed)');
    const { signature, cueTrack } = describeTracks(head, tracks);
    const msPer = timestampScaleNs / 1e6;

    const clusters: ClusterEntry[] = [];
    let clustersEnd = pos;
    while (pos < segEnd) {
      const peek = await readAt(f, pos, CLUSTER_PEEK);
      const h = readHeader(peek, 0);
      // Salvaging: a cluster cut short by the kill ends the media.
      if (o.salvage && (!h || h.size === null || pos + h.dataPos + h.size > size)) break;
      if (!h || h.size === null) throw new LayoutError(`unreadable or unsized element at ${pos}`);
      if (h.id !== ID.Cluster) break; // Cues, Tags: the media ends here
      const first = clusterStart(peek, h, cueTrack);
      if (first === null) throw new LayoutError(`cluster at ${pos} has no timestamp`);
      clusters.push([pos, Math.round(first.ts * msPer), first.key ? 1 : 0]);
      pos += h.dataPos + h.size; // h is relative to the peek
      clustersEnd = pos;
    }
    if (clusters.length === 0) throw new LayoutError('no clusters');
    if (clustersEnd > size) throw new LayoutError('the last cluster runs past the end of the file');
    const last = clusters[clusters.length - 1]![0];
    duration ??= lastBlockTs(await readAt(f, last, clustersEnd - last));
    return {
      size,
      ebmlHeader: head.subarray(0, segPos).toString('base64'),
      tracks: head.subarray(tracks.pos, tracks.dataPos + tracks.size!).toString('base64'),
      trackSignature: signature,
      cueTrack,
      timestampScaleNs,
      durationMs: duration! * msPer,
      clusters,
      clustersEnd,
    };
  } finally {
    await f.close();
  }
}

/** The timestamp (TimestampScale units) of the last block in a whole cluster: its media's end. */
function lastBlockTs(cluster: Buffer): number {
  const h = readHeader(cluster, 0);
  if (!h || h.id !== ID.Cluster || h.size === null) throw new LayoutError('not a cluster');
  let clusterTs: number | null = null;
  let end = 0;
  for (const c of children(cluster, h.dataPos, h.dataPos + h.size)) {
    if (c.id === ID.Timestamp) clusterTs = readUint(cluster, c);
    if (c.id !== ID.SimpleBlock && c.id !== ID.BlockGroup) continue;
    const blockPos = c.id === ID.SimpleBlock ? c.dataPos : readHeader(cluster, c.dataPos)?.dataPos;
    const t = blockPos === undefined ? null : readTrackNumber(cluster, blockPos);
    if (blockPos !== undefined && t) end = Math.max(end, cluster.readInt16BE(blockPos + t.length));
  }
  if (clusterTs === null) throw new LayoutError('a cluster without a timestamp');
  return clusterTs + end;
}

/** Each TrackEntry's number, type, codec and codec private data; and the video track's number. */
function describeTracks(buf: Buffer, tracks: ElementHeader): { signature: string; cueTrack: number } {
  const parts: string[] = [];
  let video: number | null = null;
  let firstTrack: number | null = null;
  for (const e of children(buf, tracks.dataPos, tracks.dataPos + tracks.size!)) {
    if (e.id !== ID.TrackEntry) continue;
    let num = 0;
    let type = 0;
    let codec = '';
    let priv = '';
    for (const c of children(buf, e.dataPos, e.dataPos + e.size!)) {
      if (c.id === ID.TrackNumber) num = readUint(buf, c);
      else if (c.id === ID.TrackType) type = readUint(buf, c);
      else if (c.id === ID.CodecID) codec = buf.toString('latin1', c.dataPos, c.dataPos + c.size!);
      else if (c.id === ID.CodecPrivate) priv = buf.toString('hex', c.dataPos, c.dataPos + c.size!);
    }
    firstTrack ??= num;
    if (type === 1 && video === null) video = num;
    parts.push(`${num}:${type}:${codec}:${priv}`);
  }
  if (firstTrack === null) throw new LayoutError('no tracks');
  return { signature: parts.join('|'), cueTrack: video ?? firstTrack };
}

/**
 * A cluster's timestamp (in TimestampScale units) and whether its first block of `track` is a
 * keyframe (a seek to the cluster then decodes at once). Reads only what `peek` holds.
 */
function clusterStart(peek: Buffer, cluster: ElementHeader, track: number): { ts: number; key: boolean } | null {
  let ts: number | null = null;
  let key = false;
  for (let pos = cluster.dataPos; pos < peek.length;) {
    const c = readHeader(peek, pos);
    if (!c || c.size === null) break;
    if (c.id === ID.Timestamp) {
      if (c.dataPos + c.size > peek.length) break;
      ts = readUint(peek, c);
    } else if (c.id === ID.SimpleBlock || c.id === ID.BlockGroup) {
      if (c.id === ID.SimpleBlock) {
        const t = readTrackNumber(peek, c.dataPos);
        if (t && t.track === track) {
          key = c.dataPos + t.length + 2 < peek.length && (peek[c.dataPos + t.length + 2]! & 0x80) !== 0;
          break;
        }
      } else {
        // A BlockGroup of this track is not taken as a seek point (no keyframe flag to read).
        const b = readHeader(peek, c.dataPos);
        const t = b ? readTrackNumber(peek, b.dataPos) : null;
        if (t && t.track === track) break;
      }
    }
    pos = c.dataPos + c.size;
  }
  return ts === null ? null : { ts, key };
}
