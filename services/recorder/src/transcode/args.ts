// ffmpeg invocations of the transcoding pipeline, as data (pure, unit-tested): one builder per
// output, plus the plans they depend on (HLS ladder, sprite grid, composite grid, poster time)
// and the parsing of ffmpeg's `-progress` lines. runner.ts executes them.
import { join } from 'node:path';
import type { FfmpegInvocation } from '../ffmpeg/args.js';

export interface SourceVideo {
  /** Stream index in the raw file. */
  index: number;
  codec: string;
  width: number;
  height: number;
  /** Start on the file's timeline, seconds (participants who joined later start later). */
  start: number;
}
export interface SourceAudio {
  index: number;
  codec: string;
  start: number;
}
/** What the raw file holds (from ffprobe). */
export interface SourceInfo {
  durationS: number;
  video: SourceVideo[];
  audio: SourceAudio[];
}

// Errors only, plus machine-readable progress on stderr every half second (the runner streams
// stderr lines; parseProgress reads them).
const GLOBALS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-progress', 'pipe:2', '-stats_period', '0.5'];

const even = (n: number): number => Math.max(2, 2 * Math.round(n / 2));

export interface EncodeTuning {
  /** x264 preset. Default veryfast. */
  preset?: string;
  /** x264 CRF. Default 23. */
  crf?: number;
  /** Encoder threads; 0/undefined = ffmpeg's choice. */
  threads?: number;
  /**
   * Audio of the mp4 output: `aac` (default: plays everywhere) or `opus`, which copies Opus
   * audio as it is (no decode/encode: remuxes cost ~5× less CPU) for deployments whose players
   * all take Opus in MP4 (current Chrome, Firefox, Edge, Safari ≥ 17; not older iOS/macOS or
   * many TVs and editors).
   */
  mp4Audio?: 'aac' | 'opus';
}

const threadOpts = (t: EncodeTuning): string[] => (t.threads ? ['-threads', String(t.threads)] : []);

/**
 * x264 settings of every re-encode: the preset (veryfast) at a CRF, without B-frames and with a
 * 5-frame rate-control lookahead instead of veryfast's 3 B-frames and 10 frames. Measured on a
 * 720p30 clip: 28 % less CPU for 4.5 % more bytes at the same SSIM (the CRF keeps the quality).
 * For `-crf` per stream (HLS), the caller adds it.
 */
function x264Opts(o: EncodeTuning, crf = true): string[] {
  // prettier-ignore
  return [
    '-preset', o.preset ?? 'veryfast', ...(crf ? ['-crf', String(o.crf ?? 23)] : []),
    '-bf', '0', '-rc-lookahead', '5',
    ...threadOpts(o),
  ];
}

/** AAC for MP4 outputs: copied when it already is AAC, else encoded. */
function aacAudio(a: SourceAudio): string[] {
  return a.codec === 'aac' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '128k'];
}

/** The mp4 output's audio: AAC, or Opus copied when chosen (TRANSCODE_MP4_AUDIO=opus). */
function mp4Audio(a: SourceAudio, choice: EncodeTuning['mp4Audio']): string[] {
  return choice === 'opus' && a.codec === 'opus' ? ['-c:a', 'copy'] : aacAudio(a);
}

/** Whether the mp4 output can copy the video (H.264 publishers) instead of re-encoding it. */
export const canRemuxToMp4 = (v: SourceVideo | undefined): boolean => v?.codec === 'h264';

/**
 * MP4 (H.264 + AAC, faststart): the first video stream copied when it is H.264, else encoded
 * with x264 at the source's size, keeping its frame timing (WebRTC video has a variable rate).
 */
export function mp4Args(src: SourceInfo, o: { input: string; output: string } & EncodeTuning): FfmpegInvocation {
  const v = src.video[0];
  const a = src.audio[0];
  if (!v && !a) throw new RangeError('the source has no audio or video stream');
  const out: string[] = [];
  if (v) {
    out.push('-map', `0:${v.index}`);
    if (canRemuxToMp4(v)) out.push('-c:v', 'copy');
    // prettier-ignore
    else out.push(
      '-c:v', 'libx264', ...x264Opts(o),
      '-pix_fmt', 'yuv420p',
      // A WebRTC stream may change size mid-way (bandwidth adaptation): pin the first size.
      '-vf', `scale=${even(v.width)}:${even(v.height)}`,
      '-fps_mode', 'passthrough',
    );
  }
  if (a) out.push('-map', `0:${a.index}`, ...mp4Audio(a, o.mp4Audio));
  out.push('-movflags', '+faststart', '-max_muxing_queue_size', '4096', '-f', 'mp4');
  return { globalOptions: GLOBALS, inputs: [{ options: [], path: o.input }], outputOptions: out, output: o.output };
}

/** Audio only: AAC in MP4 (.m4a); several audio tracks (participants) are mixed. */
export function audioArgs(src: SourceInfo, o: { input: string; output: string }): FfmpegInvocation {
  if (src.audio.length === 0) throw new RangeError('the source has no audio stream');
  const out: string[] = [];
  if (src.audio.length === 1) {
    out.push('-map', `0:${src.audio[0]!.index}`, ...aacAudio(src.audio[0]!));
  } else {
    out.push('-filter_complex', audioMixFilter(src.audio, 'aout'), '-map', '[aout]', '-c:a', 'aac', '-b:a', '128k');
  }
  out.push('-vn', '-movflags', '+faststart', '-f', 'mp4');
  return { globalOptions: GLOBALS, inputs: [{ options: [], path: o.input }], outputOptions: out, output: o.output };
}

/** Mixes audio streams aligned on the file's timeline (each delayed by its start). */
function audioMixFilter(audio: readonly SourceAudio[], label: string): string {
  const t0 = Math.min(...audio.map((a) => a.start));
  const parts = audio.map((a, i) => {
    const delayMs = Math.max(0, Math.round((a.start - t0) * 1000));
    return `[0:${a.index}]asetpts=PTS-STARTPTS,adelay=${delayMs}:all=1,aresample=48000[a${i}]`;
  });
  return `${parts.join(';')};${audio.map((_, i) => `[a${i}]`).join('')}amix=inputs=${audio.length}:duration=longest:dropout_transition=0:normalize=0[${label}]`;
}

/** When the poster is taken: a quarter in (past black first frames and fades), at most 30 s. */
export function posterTime(durationS: number): number {
  if (!(durationS > 1)) return 0;
  return Math.min(durationS * 0.25, 30);
}

/**
 * A JPEG poster: from `posterTime`, ffmpeg's `thumbnail` filter picks the most representative
 * frame of the next 50 (the one closest to their average: not a black or a transition frame).
 */
export function posterArgs(src: SourceInfo, o: { input: string; output: string; maxWidth?: number }): FfmpegInvocation {
  const v = src.video[0];
  if (!v) throw new RangeError('the source has no video stream');
  const w = Math.min(even(v.width), o.maxWidth ?? 1280);
  return {
    globalOptions: GLOBALS,
    inputs: [{ options: ['-ss', posterTime(src.durationS).toFixed(3)], path: o.input }],
    // prettier-ignore
    outputOptions: [
      '-map', `0:${v.index}`,
      '-vf', `thumbnail=50,scale=${w}:-2`,
      '-frames:v', '1', '-q:v', '3', '-update', '1', '-f', 'image2',
    ],
    output: o.output,
  };
}

export interface SpritePlan {
  /** Seconds between thumbnails. */
  interval: number;
  /** Thumbnails (one per interval). */
  count: number;
  cols: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

/** A thumbnail every `interval` seconds (≥ 1 s, ≤ maxTiles in all), 160 px wide, 10 per row. */
export function spritePlan(
  durationS: number,
  width: number,
  height: number,
  o: { maxTiles?: number; tileWidth?: number } = {},
): SpritePlan {
  const maxTiles = o.maxTiles ?? 100;
  const interval = Math.max(1, Math.ceil(durationS / maxTiles));
  const count = Math.max(1, Math.min(maxTiles, Math.ceil(durationS / interval)));
  const cols = Math.min(10, count);
  const rows = Math.ceil(count / cols);
  const tileWidth = o.tileWidth ?? 160;
  const tileHeight = even((tileWidth * height) / Math.max(1, width));
  return { interval, count, cols, rows, tileWidth, tileHeight };
}

/** One JPEG holding every thumbnail of the plan, row by row. */
export function spriteArgs(src: SourceInfo, plan: SpritePlan, o: { input: string; output: string }): FfmpegInvocation {
  const v = src.video[0];
  if (!v) throw new RangeError('the source has no video stream');
  return {
    globalOptions: GLOBALS,
    inputs: [{ options: [], path: o.input }],
    // prettier-ignore
    outputOptions: [
      '-map', `0:${v.index}`,
      '-vf', `setpts=PTS-STARTPTS,fps=1/${plan.interval}:round=down,scale=${plan.tileWidth}:${plan.tileHeight},tile=${plan.cols}x${plan.rows}`,
      '-frames:v', '1', '-q:v', '4', '-update', '1', '-f', 'image2',
    ],
    output: o.output,
  };
}

const vttTime = (s: number): string => {
  const ms = Math.round(s * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
};

/** The WebVTT index of a sprite: one cue per thumbnail pointing at its tile (`#xywh=`). */
export function spriteVtt(plan: SpritePlan, durationS: number, image: string): string {
  const lines = ['WEBVTT', ''];
  for (let i = 0; i < plan.count; i++) {
    const start = i * plan.interval;
    const end = Math.min((i + 1) * plan.interval, Math.max(durationS, start + 0.001));
    const x = (i % plan.cols) * plan.tileWidth;
    const y = Math.floor(i / plan.cols) * plan.tileHeight;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${image}#xywh=${x},${y},${plan.tileWidth},${plan.tileHeight}`, '');
  }
  return lines.join('\n');
}

export interface Rendition {
  width: number;
  height: number;
  /** Peak video bitrate, bits/s (also what the master playlist advertises). */
  maxBitrate: number;
}

const RUNGS = [1080, 720, 360];

/** Typical peak bitrate of H.264 at a height (30 fps), bits/s. */
function bitrateFor(height: number): number {
  const table: [number, number][] = [
    [1080, 5_000_000],
    [720, 2_800_000],
    [480, 1_400_000],
    [360, 800_000],
    [240, 400_000],
  ];
  for (const [h, b] of table) if (height >= h) return b;
  return 300_000;
}

/**
 * Up to three renditions, never larger than the source: the source's height (capped at
 * 1080) on top, then the standard rungs (720, 360) below it.
 */
export function hlsLadder(width: number, height: number, max = 3): Rendition[] {
  if (!(width > 0 && height > 0)) throw new RangeError(`bad source size ${width}x${height}`);
  const top = Math.min(even(height), 1080);
  const heights = [top, ...RUNGS.filter((h) => h < top && h <= top * 0.8)].slice(0, max);
  return heights.map((h) => ({ height: h, width: even((width * h) / height), maxBitrate: bitrateFor(h) }));
}

/** Names inside the HLS directory (flat: every URI in the playlists is a bare file name). */
export const HLS_MASTER = 'master.m3u8';

/**
 * A VOD HLS ladder in one ffmpeg run: the video decoded once, split and scaled per rendition,
 * x264 with keyframes forced on the same 2 s grid for every rendition (so segments line up
 * across renditions), MPEG-TS segments of `segmentSeconds`, a master playlist.
 */
export function hlsArgs(
  src: SourceInfo,
  ladder: readonly Rendition[],
  o: { input: string; dir: string; segmentSeconds?: number; keyframeSeconds?: number } & EncodeTuning,
): FfmpegInvocation {
  const v = src.video[0];
  const a = src.audio[0];
  if (!v && !a) throw new RangeError('the source has no audio or video stream');
  const gop = o.keyframeSeconds ?? 2;
  const out: string[] = [];
  const variants: string[] = [];
  if (v && ladder.length > 0) {
    const split = `[0:${v.index}]split=${ladder.length}${ladder.map((_, i) => `[s${i}]`).join('')}`;
    const scales = ladder.map((r, i) => `[s${i}]scale=${r.width}:${r.height}[v${i}]`);
    out.push('-filter_complex', [split, ...scales].join(';'));
    ladder.forEach((r, i) => {
      // prettier-ignore
      out.push(
        '-map', `[v${i}]`,
        `-c:v:${i}`, 'libx264', `-crf:v:${i}`, String(o.crf ?? 23),
        `-maxrate:v:${i}`, String(r.maxBitrate), `-bufsize:v:${i}`, String(r.maxBitrate * 2),
      );
      if (a) out.push('-map', `0:${a.index}`);
      variants.push(a ? `v:${i},a:${i}` : `v:${i}`);
    });
    // prettier-ignore
    out.push(
      ...x264Opts(o, false), '-pix_fmt', 'yuv420p',
      '-force_key_frames', `expr:gte(t,n_forced*${gop})`, '-sc_threshold', '0',
      '-fps_mode', 'passthrough',
    );
  } else if (a) {
    out.push('-map', `0:${a.index}`);
    variants.push('a:0');
  }
  if (a) out.push('-c:a', 'aac', '-b:a', '128k', '-ac', '2');
  // prettier-ignore
  out.push(
    '-f', 'hls',
    '-hls_time', String(o.segmentSeconds ?? 4),
    '-hls_playlist_type', 'vod',
    '-hls_flags', 'independent_segments',
    '-hls_segment_type', 'mpegts',
    '-hls_segment_filename', join(o.dir, 'stream_%v_%03d.ts'),
    '-master_pl_name', HLS_MASTER,
    '-var_stream_map', variants.join(' '),
  );
  return { globalOptions: GLOBALS, inputs: [{ options: [], path: o.input }], outputOptions: out, output: join(o.dir, 'stream_%v.m3u8') };
}

export interface CompositePlan {
  cols: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

/** A near-square grid of `n` tiles on a canvas (default 1280×720). */
export function compositePlan(n: number, canvas = { width: 1280, height: 720 }): CompositePlan {
  if (!(n >= 1)) throw new RangeError('a composite needs at least one video');
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const floorEven = (x: number): number => Math.max(2, 2 * Math.floor(x / 2));
  return { cols, rows, tileWidth: floorEven(canvas.width / cols), tileHeight: floorEven(canvas.height / rows) };
}

/**
 * Every video in a grid (letterboxed into its tile, black until the participant's first frame)
 * with every audio mixed, all aligned by their start on the file's timeline; 30 fps H.264 + AAC.
 */
export function compositeArgs(
  src: SourceInfo,
  plan: CompositePlan,
  o: { input: string; output: string; fps?: number } & EncodeTuning,
): FfmpegInvocation {
  if (src.video.length === 0) throw new RangeError('the source has no video stream');
  const fps = o.fps ?? 30;
  const t0 = Math.min(...src.video.map((v) => v.start), ...src.audio.map((a) => a.start));
  const { tileWidth: w, tileHeight: h } = plan;
  const tiles = src.video.map((v, i) => {
    const offset = Math.max(0, v.start - t0).toFixed(3);
    return (
      `[0:${v.index}]setpts=PTS-STARTPTS,tpad=start_duration=${offset}:color=black,fps=${fps},` +
      `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1[t${i}]`
    );
  });
  const layout = src.video.map((_, i) => `${(i % plan.cols) * w}_${Math.floor(i / plan.cols) * h}`).join('|');
  const stack =
    src.video.length === 1
      ? `[t0]null[vout]`
      : `${src.video.map((_, i) => `[t${i}]`).join('')}xstack=inputs=${src.video.length}:layout=${layout}:fill=black[vout]`;
  const graph = [...tiles, stack];
  if (src.audio.length > 0) graph.push(audioMixFilter(src.audio, 'aout'));
  // prettier-ignore
  const out = [
    '-filter_complex', graph.join(';'),
    '-map', '[vout]',
    '-c:v', 'libx264', ...x264Opts(o), '-pix_fmt', 'yuv420p',
  ];
  if (src.audio.length > 0) out.push('-map', '[aout]', '-c:a', 'aac', '-b:a', '128k');
  out.push('-movflags', '+faststart', '-f', 'mp4');
  return { globalOptions: GLOBALS, inputs: [{ options: [], path: o.input }], outputOptions: out, output: o.output };
}

/** Media time ffmpeg has written (seconds) from one `-progress` line, or null for other lines. */
export function parseProgress(line: string): number | null {
  // out_time_ms is in microseconds too (an old ffmpeg misnomer); out_time_us is the honest one.
  const m = /^out_time_(?:us|ms)=(\d+)\s*$/.exec(line.trim());
  return m ? Number(m[1]) / 1e6 : null;
}

/** Fraction done (0–1) and seconds left at the rate so far; eta is null until progress starts. */
export function estimate(doneS: number, totalS: number, elapsedMs: number): { progress: number; etaSeconds: number | null } {
  const progress = totalS > 0 ? Math.min(1, Math.max(0, doneS / totalS)) : 0;
  if (progress <= 0 || elapsedMs <= 0) return { progress, etaSeconds: null };
  const eta = ((elapsedMs / 1000) * (1 - progress)) / progress;
  return { progress, etaSeconds: Math.round(eta * 10) / 10 };
}

/**
 * Rough CPU cost of making an output, in cores while it runs: transcodes are admitted against a
 * budget. `videoCodec` is the recording's (first) video codec, known before the raw is fetched.
 */
export function outputCost(output: string, videoCodec: string | undefined): number {
  switch (output) {
    case 'mp4':
      return videoCodec === 'h264' ? 0.25 : 1;
    case 'hls':
      return 2;
    case 'composite':
      return 2;
    case 'sprite':
      return 0.5;
    default:
      return 0.25;
  }
}
