// ffmpeg invocations as data: what the capture and finalize steps run, built by pure functions
// (unit-tested) and executed by runner.ts.
import { isAbsolute, join } from 'node:path';

/** One ffmpeg run: global options, inputs (each with its options) and one output. */
export interface FfmpegInvocation {
  globalOptions: string[];
  inputs: { options: string[]; path: string }[];
  outputOptions: string[];
  output: string;
  /** Further outputs of the same run, each with its options. */
  moreOutputs?: { options: string[]; path: string }[];
}

/** The argument list ffmpeg receives for `inv`, in the order the runner passes it. */
export function toArgv(inv: FfmpegInvocation): string[] {
  const [first, ...rest] = inv.inputs;
  if (!first) throw new RangeError('an ffmpeg invocation needs an input');
  return [
    ...inv.globalOptions,
    ...first.options,
    '-i',
    first.path,
    ...rest.flatMap((i) => [...i.options, '-i', i.path]),
    '-y',
    ...inv.outputOptions,
    inv.output,
    ...(inv.moreOutputs ?? []).flatMap((o) => [...o.options, o.path]),
  ];
}

/** Segment file name for an index; the same pattern as recordingKeys.segment. */
export const segmentFileName = (index: number): string => `seg-${String(index).padStart(5, '0')}.mkv`;
/** ffmpeg's output pattern for segments in `dir`. */
export const segmentPattern = (dir: string): string => join(dir, 'seg-%05d.mkv');
/** Index of a segment file name, or null when it is not one. */
export function segmentIndexOf(file: string): number | null {
  const m = /^seg-(\d{5,})\.mkv$/.exec(file);
  return m ? Number(m[1]) : null;
}

// Quiet, no interactive stdin (we stop ffmpeg with a signal), no progress lines (they cost CPU
// at hundreds of captures), but `info` so the "Input #0" line that marks the first decodable
// frame is printed.
const CAPTURE_GLOBALS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'];

export interface CaptureArgsOptions {
  /** The SDP file (sdp.ts) describing the tracks. */
  sdpPath: string;
  /** IP ffmpeg binds its RTP/RTCP sockets to (sdp demuxer `-localaddr`). */
  localAddress: string;
  /** Directory the segments and the segment list go to. */
  dir: string;
  /** Segment list (csv: file,start,end) ffmpeg appends to when a segment is complete. */
  segmentListPath: string;
  /** Segment length, seconds. */
  segmentSeconds: number;
  /** Index of the first segment this run writes. */
  firstSegment: number;
  /** How long ffmpeg may probe for codec parameters (stream time), ms. */
  probeMs: number;
  /** Probe size bound, bytes. Default 16 MiB (≈ 15 s at 8 Mbit/s). */
  probeBytes?: number;
  /** RTP reorder buffer, packets. Default 128 (well over 100 ms of 2.5 Mbit/s video). */
  reorderQueueSize?: number;
  /** UDP receive buffer, bytes. Default 1 MiB (bursts at keyframes). */
  udpBufferBytes?: number;
  /** ffmpeg ends its input after this long without any packet, seconds; 0 = never. Default 0. */
  mediaTimeoutS?: number;
  /**
   * File ffmpeg appends a progress block to every half second (`-progress`): a file that stops
   * growing means ffmpeg is stuck. None when unset.
   */
  progressPath?: string;
  /**
   * A continuous file of the whole run beside the segments (jobs/continuous.ts), in the raw
   * output's container. None when unset.
   */
  continuous?: {
    path: string;
    format: RawContainer['format'];
    /**
     * Seconds added to every timestamp in it: where this run starts on the recording's
     * timeline, so that runs' files join by byte range (mkv/join.ts). Default 0.
     */
    offsetS?: number;
  };
}

/** ffmpeg reading RTP described by an SDP file and copying it into Matroska segments. */
export function captureArgs(o: CaptureArgsOptions): FfmpegInvocation {
  if (!Number.isInteger(o.firstSegment) || o.firstSegment < 0) throw new RangeError(`bad first segment ${o.firstSegment}`);
  if (!(o.segmentSeconds > 0)) throw new RangeError(`bad segment length ${o.segmentSeconds}`);
  return {
    globalOptions: o.progressPath ? [...CAPTURE_GLOBALS, '-progress', `file:${o.progressPath}`, '-stats_period', '0.5'] : CAPTURE_GLOBALS,
    inputs: [
      {
        // prettier-ignore
        options: [
          // file: the SDP itself; udp/rtp: the streams it names. Nothing else may be opened.
          '-protocol_whitelist', 'file,udp,rtp',
          // Bounded probe: ffmpeg must not hang on a stream that never sends a keyframe.
          '-analyzeduration', String(Math.round(o.probeMs * 1000)),
          '-probesize', String(o.probeBytes ?? 16 * 1024 * 1024),
          // No frame-rate probing: it delays "Input #0" by ~1 s and is useless for copying.
          '-fpsprobesize', '0',
          '-reorder_queue_size', String(o.reorderQueueSize ?? 128),
          '-buffer_size', String(o.udpBufferBytes ?? 1024 * 1024),
          '-localaddr', o.localAddress,
          // ffmpeg's own default (10 s) would end a recording on any publisher hiccup.
          '-listen_timeout', String(o.mediaTimeoutS ?? 0),
          '-f', 'sdp',
        ],
        path: o.sdpPath,
      },
    ],
    // prettier-ignore
    outputOptions: [
      '-map', '0',
      '-c', 'copy',
      // ffmpeg's stream copy skips frames until one is flagged a keyframe, and its VP9 RTP
      // depacketizer flags none. mediasoup already starts each consumer on a keyframe.
      '-copyinkf',
      '-f', 'segment',
      // Matroska survives a killed writer; every codec fits (finalize picks webm/mkv).
      '-segment_format', 'matroska',
      // Small clusters: a killed ffmpeg loses only the cluster it had not written yet (the
      // muxer keeps one in memory), so at most ~half a second instead of several.
      '-segment_format_options', 'cluster_time_limit=500:cluster_size_limit=1048576',
      '-segment_time', String(o.segmentSeconds),
      // No -break_non_keyframes: every segment starts on a keyframe and decodes on its own
      // (the capture asks the SFU for a keyframe just before each boundary, since WebRTC
      // senders rarely send one unasked).
      '-segment_list', o.segmentListPath,
      '-segment_list_type', 'csv',
      // Keep the run's timeline in every segment: finalize joins them without drift, and the
      // A/V offset inside a segment is never rewritten.
      '-reset_timestamps', '0',
      '-segment_start_number', String(o.firstSegment),
    ],
    output: segmentPattern(o.dir),
    ...(o.continuous
      ? {
          moreOutputs: [
            {
              // The same packets as the segments, one file: uploaded while it grows. Its muxer
              // rewrites only the header at the end (duration, seek head); cues go at the end.
              // Clusters of ≤ 0.5 s, as the segments': a killed ffmpeg's file is salvaged up to
              // its last whole cluster (mkv/layout.ts), losing no more than the segments would.
              // prettier-ignore
              options: [
                '-map', '0', '-c', 'copy', '-copyinkf',
                ...(o.continuous.offsetS ? ['-output_ts_offset', o.continuous.offsetS.toFixed(3)] : []),
                '-f', o.continuous.format, '-cluster_time_limit', '500',
              ],
              path: o.continuous.path,
            },
          ],
        }
      : {}),
  };
}

export interface RawContainer {
  format: 'webm' | 'matroska';
  /** Output file name ("raw.webm" / "raw.mkv"). */
  file: string;
  contentType: string;
}

const WEBM_CODECS = new Set(['vp8', 'vp9', 'av1', 'opus', 'vorbis']);

/** WebM when every codec is allowed in WebM (VP8/VP9/AV1, Opus/Vorbis), else Matroska. */
export function rawContainerFor(codecs: readonly string[]): RawContainer {
  return codecs.length > 0 && codecs.every((c) => WEBM_CODECS.has(c.toLowerCase()))
    ? { format: 'webm', file: 'raw.webm', contentType: 'video/webm' }
    : { format: 'matroska', file: 'raw.mkv', contentType: 'video/x-matroska' };
}

export interface ConcatSegment {
  path: string;
  /** Capture run that wrote it (segments of one run share a timeline). */
  run: number;
  /** Start / end on its run's timeline, seconds. */
  start: number | null;
  end: number | null;
  /** Wall-clock time (epoch ms) of its run's timeline zero; places runs on one timeline. */
  runAt?: number | null;
}

const quoteConcatPath = (p: string): string => `'${p.replace(/'/g, "'\\''")}'`;
const fmt = (s: number): string => s.toFixed(6);

/**
 * An ffconcat script joining segments (sorted by the caller) with explicit durations. The
 * segments keep their run's timestamps (`-reset_timestamps 0`), and the Matroska demuxer
 * reports such a file's end, not its length, as its duration; so each file's duration is the
 * distance to the next segment's start within a run, or its own end − start at a run's end.
 * Throws RangeError when a segment that needs it has no timing.
 */
export function buildConcatList(segments: readonly ConcatSegment[]): string {
  const lines = ['ffconcat version 1.0'];
  segments.forEach((cur, i) => {
    // ffmpeg resolves a relative entry against the list's own directory, not ours.
    if (!isAbsolute(cur.path)) throw new RangeError(`segment path must be absolute: ${cur.path}`);
    lines.push(`file ${quoteConcatPath(cur.path)}`);
    const next = segments[i + 1];
    if (!next) return; // the last file ends where its packets end
    let duration: number | null = null;
    if (cur.start !== null && next.run === cur.run && next.start !== null) duration = next.start - cur.start;
    else if (cur.start !== null && cur.end !== null) {
      duration = cur.end - cur.start;
      // Across runs: the next run starts where it started in wall-clock time, so the time no
      // run recorded stays a gap instead of being squeezed out.
      if (next.run !== cur.run && cur.runAt != null && next.runAt != null && next.start !== null) {
        const wall = (next.runAt - cur.runAt) / 1000 + next.start - cur.start;
        if (wall > duration) duration = wall;
      }
    }
    if (duration === null) throw new RangeError(`segment ${cur.path} has no timing`);
    if (duration > 0) lines.push(`duration ${fmt(duration)}`);
  });
  return lines.join('\n') + '\n';
}

/** ffmpeg joining the segments of an ffconcat list into one file without re-encoding. */
export function finalizeArgs(o: { listPath: string; outputPath: string; format: RawContainer['format'] }): FfmpegInvocation {
  return {
    globalOptions: ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'],
    inputs: [{ options: ['-f', 'concat', '-safe', '0'], path: o.listPath }],
    outputOptions: ['-map', '0', '-c', 'copy', '-f', o.format],
    output: o.outputPath,
  };
}

export interface SegmentListEntry {
  file: string;
  index: number;
  /** Seconds on the run's timeline. */
  start: number;
  end: number;
}

/**
 * Parses ffmpeg's csv segment list ("seg-00003.mkv,20.000000,30.000000" per line). Only
 * complete lines count: ffmpeg may be writing the next one.
 */
export function parseSegmentList(text: string): SegmentListEntry[] {
  const out: SegmentListEntry[] = [];
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    const m = /^"?([^",]+)"?,(-?[\d.]+),(-?[\d.]+)\s*$/.exec(line);
    if (!m) continue;
    const index = segmentIndexOf(m[1]!);
    if (index === null) continue;
    out.push({ file: m[1]!, index, start: Number(m[2]), end: Number(m[3]) });
  }
  return out;
}
