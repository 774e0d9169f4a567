// Known content for measuring what a recording kept: a clip that flashes white and beeps at the
// start of every second. Chromium publishes it as its fake camera and microphone
// (`launchBrowser({ fakeVideo, fakeAudio })`); afterwards the flash and beep onsets found in any
// media file tell which seconds are present (media lost) and how far audio sits from video
// (A/V offset). Compare an offset with the browser's own MediaRecorder copy of the same capture
// (`startReferenceRecording`): Chromium's fake capture has an offset of its own.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';

const run = promisify(execFile);

export interface FlashBeepClip {
  /** Raw video for `--use-file-for-fake-video-capture` (Chromium loops it). */
  y4m: string;
  /** 48 kHz mono PCM for `--use-file-for-fake-audio-capture` (Chromium loops it). */
  wav: string;
  seconds: number;
  fps: number;
}

/** Length of each flash and beep, seconds. */
const PULSE_S = 0.1;

/**
 * Writes the clip into `dir`: black frames with a small grey square moving (so every frame
 * differs, as a camera's would) and a white frame for the first 100 ms of every second; silence
 * with a 1 kHz beep for the first 100 ms of every second, sample-exact. Defaults: 10 s, 320×180,
 * 30 fps (a 10 s y4m is ~26 MB).
 */
export async function makeFlashBeepClip(
  dir: string,
  opts: { seconds?: number; width?: number; height?: number; fps?: number } = {},
): Promise<FlashBeepClip> {
  const seconds = opts.seconds ?? 10;
  const width = opts.width ?? 320;
  const height = opts.height ?? 180;
  const fps = opts.fps ?? 30;
  const y4m = join(dir, 'flashbeep.y4m');
  const wav = join(dir, 'flashbeep.wav');
  const box = Math.max(8, Math.round(height / 8));
  const video =
    `color=c=black:s=${width}x${height}:r=${fps}:d=${seconds},` +
    `drawbox=x='mod(t*120,${width - box})':y=${Math.round(height / 2 - box / 2)}:w=${box}:h=${box}:c=gray:t=fill,` +
    `drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='lt(mod(t,1),${PULSE_S})'`;
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', video, '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', y4m]);
  const audio = `aevalsrc='if(lt(mod(t,1),${PULSE_S}),0.7*sin(2*PI*1000*t),0)':s=48000:d=${seconds}`;
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', audio, '-ac', '1', '-c:a', 'pcm_s16le', wav]);
  return { y4m, wav, seconds, fps };
}

export interface FlashBeepAnalysis {
  /** Media times (s, the file's own timestamps) of flash onsets: first bright frame of each. */
  flashes: number[];
  /** Media times (s) of beep onsets, to within 2 ms. */
  beeps: number[];
  /** For each flash with a beep within 0.5 s: beep − flash, ms (positive: audio late). */
  offsetsMs: number[];
  /** Median of offsetsMs, ms; null when no flash had a beep. */
  avOffsetMs: number | null;
}

/** Lines of ffmpeg's `metadata=print` / `ametadata=print` output → [time, value] pairs. */
function parsePrinted(text: string, key: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let t: number | undefined;
  for (const line of text.split('\n')) {
    const frame = /pts_time:\s*(-?[\d.]+)/.exec(line);
    if (frame) {
      t = Number(frame[1]);
      continue;
    }
    const i = line.indexOf(`${key}=`);
    if (i >= 0 && t !== undefined) {
      const v = Number(line.slice(i + key.length + 1));
      out.push([t, Number.isFinite(v) ? v : -Infinity]);
    }
  }
  return out;
}

/** Times at which `series` rises above `threshold` after having been at or below it. */
function onsets(series: Array<[number, number]>, threshold: number, minGapS: number): number[] {
  const out: number[] = [];
  let above = true; // a file that starts mid-pulse: that pulse's onset is unknown, skip it
  for (const [t, v] of series) {
    if (v > threshold) {
      if (!above && (out.length === 0 || t - out[out.length - 1]! >= minGapS)) out.push(t);
      above = true;
    } else above = false;
  }
  return out;
}

async function ffmpegStderr(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out + err) : reject(new Error(`ffmpeg exited ${code}: ${err.slice(-500)}`))));
  });
}

/**
 * Finds the flashes and beeps in `file` (any container ffmpeg reads, e.g. our raw WebM or a
 * MediaRecorder blob), on the file's own timeline (`-copyts`, so audio and video keep their
 * relative position and gaps stay gaps). Audio is decoded with `skip_manual`: ffmpeg's Opus
 * decoder otherwise drops the encoder's pre-skip without moving the timestamps, which would put
 * every beep 6.5 ms early.
 */
export async function analyzeFlashBeep(file: string): Promise<FlashBeepAnalysis> {
  const video = await ffmpegStderr([
    '-hide_banner',
    '-copyts',
    '-i',
    file,
    '-map',
    '0:v:0',
    '-fps_mode',
    'passthrough',
    '-vf',
    'scale=64:36,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-',
    '-f',
    'null',
    '-',
  ]);
  // Luma 16..235: the flash is near 235, the background near 16.
  const flashes = onsets(parsePrinted(video, 'lavfi.signalstats.YAVG'), 128, 0.5);
  const audio = await ffmpegStderr([
    '-hide_banner',
    '-copyts',
    '-flags2',
    '+skip_manual',
    '-i',
    file,
    '-map',
    '0:a:0',
    '-af',
    'aresample=48000,asetnsamples=n=96:p=0,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-',
    '-f',
    'null',
    '-',
  ]);
  // RMS in dBFS: the beep is about -6 dBFS, silence (after Opus) below -50.
  const beeps = onsets(parsePrinted(audio, 'lavfi.astats.Overall.RMS_level'), -30, 0.5);
  const offsetsMs: number[] = [];
  for (const f of flashes) {
    let best: number | undefined;
    for (const b of beeps) if (Math.abs(b - f) < 0.5 && (best === undefined || Math.abs(b - f) < Math.abs(best - f))) best = b;
    if (best !== undefined) offsetsMs.push(Math.round((best - f) * 10_000) / 10);
  }
  return { flashes, beeps, offsetsMs, avOffsetMs: median(offsetsMs) };
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Seconds missing between consecutive onsets of a once-a-second signal: each interval longer
 * than 1.5 s counts as (interval − 1) s lost. Media lost before the first or after the last
 * onset is the caller's to judge (it knows the span it expected).
 */
export function secondsMissing(onsetTimes: number[]): number {
  let lost = 0;
  for (let i = 1; i < onsetTimes.length; i++) {
    const d = onsetTimes[i]! - onsetTimes[i - 1]!;
    if (d > 1.5) lost += d - 1;
  }
  return Math.round(lost * 1000) / 1000;
}

/**
 * Audio of the browser's own recording. Chromium (checked on 156) timestamps the two differently,
 * so a reference's A/V offset depends on it:
 * - `opus`: 60 ms Opus frames, each stamped with the capture time of the *last* 10 ms buffer it
 *   contains minus one buffer, i.e. 40 ms after its first sample was captured; its decoded beep
 *   also carries the encoder's 6.5 ms lookahead. The copy's audio sits ~56 ms late.
 * - `pcm`: every 10 ms capture buffer as it is, stamped one buffer before its capture time: the
 *   copy's audio sits one buffer early (`pcmBufferMs`), with no codec delay.
 * (blink's AudioTrackOpusEncoder / AudioTrackPcmEncoder compute "capture_time_of_first_sample"
 * as the time of the buffer they were just given minus its length.)
 */
export type ReferenceAudio = 'opus' | 'pcm';

/**
 * Starts the browser's own recording (MediaRecorder, WebM VP8 + `audio`) of the tracks of the
 * in-page peer connection `window[pcGlobal]` — what it sends (`__pub`) or what it receives
 * (`__view`) — as the reference an A/V offset is compared with. Several references (one per
 * `audio`) can run at once on one page.
 */
export async function startReferenceRecording(page: Page, pcGlobal = '__pub', audio: ReferenceAudio = 'opus'): Promise<void> {
  await page.evaluate(
    ([g, codec]) => {
      const w = window as unknown as Record<string, unknown>;
      const pc = w[g] as RTCPeerConnection | undefined;
      if (!pc) throw new Error(`no peer connection at window.${g}`);
      const tracks = [...pc.getSenders(), ...pc.getReceivers()]
        .map((x) => x.track)
        .filter((t): t is MediaStreamTrack => t !== null && t.readyState === 'live');
      const kinds = new Set(tracks.map((t) => t.kind));
      const stream = new MediaStream([...kinds].map((k) => tracks.find((t) => t.kind === k)!));
      const rec = new MediaRecorder(stream, { mimeType: `video/webm;codecs=vp8,${codec}` });
      const chunks: Blob[] = [];
      rec.ondataavailable = (e) => chunks.push(e.data);
      rec.start(500);
      w[`__refRecorder_${codec}`] = rec;
      w[`__refChunks_${codec}`] = chunks;
    },
    [pcGlobal, audio] as const,
  );
}

/** Stops the reference recording with `audio` and returns the WebM bytes. */
export async function stopReferenceRecording(page: Page, audio: ReferenceAudio = 'opus'): Promise<Buffer> {
  const b64 = await page.evaluate(async (codec) => {
    const w = window as unknown as Record<string, unknown>;
    const rec = w[`__refRecorder_${codec}`] as MediaRecorder;
    const chunks = w[`__refChunks_${codec}`] as Blob[];
    await new Promise<void>((resolve) => {
      rec.onstop = () => resolve();
      rec.stop();
    });
    const buf = new Uint8Array(await new Blob(chunks, { type: 'video/webm' }).arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    return btoa(s);
  }, audio);
  return Buffer.from(b64, 'base64');
}

/**
 * Median duration (ms) of the audio packets in `file`: for a `pcm` reference, the capture
 * buffer its audio is stamped early by.
 */
export async function audioPacketMs(file: string): Promise<number | null> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=duration_time', '-of', 'csv=p=0', file],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffprobe exited ${code}`))));
  });
  const ms = out
    .split('\n')
    .map((l) => Number(l) * 1000)
    .filter((x) => Number.isFinite(x) && x > 0);
  return median(ms);
}
