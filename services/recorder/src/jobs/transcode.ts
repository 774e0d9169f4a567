// TranscodeRecording: make one output (mp4, hls, poster, sprite, audio, composite) of a ready
// recording from its raw file. ffmpeg reads the raw where it lies (a local path, or S3 over a
// presigned URL) and runs at lower priority once the job's CPU cost fits the recorder's
// budget; a job that does not fit gives its worker slot back (delayed, no attempt used) unless
// it is an mp4 or a poster, which wait at the gate ahead of the others. Progress and ETA go to
// the output's entry in the manifest (at most once a second), the files are uploaded (a
// playlist after its segments, so a reader never sees a playlist naming missing files) and
// the entry becomes `ready`. A failure marks only this output `failed` (on the last attempt),
// never the recording, its raw or the other outputs.
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DelayedError,
  inSpanUnder,
  OUTPUT_SPECS,
  recordingKeys,
  UnrecoverableError,
  updateOutput,
  type JobHandler,
  type Logger,
  type Recording,
  type RecordingOutput,
  type TranscodeOutputName,
  type TranscodeRecording,
  type WebhookEmitter,
} from '@live-webrtc/shared';
import { ffprobe } from '../ffmpeg/probe.js';
import { runFfmpeg } from '../ffmpeg/runner.js';
import type { FfmpegInvocation } from '../ffmpeg/args.js';
import {
  audioArgs,
  compositeArgs,
  compositePlan,
  estimate,
  HLS_MASTER,
  hlsArgs,
  hlsLadder,
  mp4Args,
  outputCost,
  parseProgress,
  posterArgs,
  spriteArgs,
  spritePlan,
  spriteVtt,
  type EncodeTuning,
  type SourceInfo,
} from '../transcode/args.js';
import type { CostGate } from '../transcode/gate.js';
import type { TranscodeMetrics } from '../transcode/metrics.js';
import { placeParticipants } from '../transcode/participants.js';
import { openRaw, probeSource, type RawInput } from '../transcode/source.js';
import type { RecorderDeps } from './deps.js';
import { retry } from './retry.js';

export interface TranscodeSettings extends EncodeTuning {
  /**
   * Niceness of the mp4 and poster ffmpeg processes (captures keep the recorder's); the other
   * outputs run 5 steps nicer, so an mp4 sharing the CPU with an HLS ladder gets ~3× its share.
   */
  niceness: number;
  /** How often progress is written to the manifest, ms. Default 1000. */
  progressIntervalMs?: number;
}

export interface TranscodeDeps extends RecorderDeps {
  transcode: TranscodeSettings;
  gate: CostGate;
  webhooks: WebhookEmitter;
  transcodeMetrics: TranscodeMetrics;
}

/** A failure with a stable code, shown as the output's error. */
export class TranscodeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TranscodeError';
  }
}
/** A failure no retry can fix (no such stream, no raw file). */
class PermanentTranscodeError extends UnrecoverableError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TranscodeResult {
  outcome: 'ready' | 'skipped';
  size?: number;
  seconds?: number;
}

/** Queue priorities at or below this wait at the CPU gate instead of giving their slot back. */
const EXPRESS_PRIORITY = 1;

/**
 * Admits the job against the CPU budget. Express outputs (mp4, poster) wait, ahead of the
 * others; any other job that does not fit now goes back to the queue for a second (without
 * using an attempt), so waiting ladders never hold the worker slots a new mp4 needs.
 */
async function admit(
  d: TranscodeDeps,
  data: TranscodeRecording,
  job: Parameters<JobHandler<'TranscodeRecording'>>[1],
): Promise<() => void> {
  const rec = await d.store.get(data.recordingId).catch(() => null);
  const cost = outputCost(data.output, rec?.tracks.find((t) => t.kind === 'video')?.codec);
  const priority = job.opts.priority ?? 0;
  if (priority <= EXPRESS_PRIORITY) return d.gate.acquire(cost, priority);
  const release = d.gate.tryAcquire(cost, priority);
  if (release) return release;
  await job.moveToDelayed(Date.now() + 1000, job.token);
  throw new DelayedError();
}

/**
 * A recorder is finishing the mp4 it encoded during the recording (transcode/liveMp4.ts): this
 * job waits (delayed, no attempt used) until that is done, then finds the output ready, or, if
 * it was dropped or its recorder died (the key expires), encodes from the raw.
 */
async function waitForLiveMp4(
  d: TranscodeDeps,
  data: TranscodeRecording,
  job: Parameters<JobHandler<'TranscodeRecording'>>[1],
): Promise<void> {
  if (data.output !== 'mp4') return;
  if ((await d.redis.exists(d.keys.liveMp4(data.recordingId))) === 0) return;
  await job.moveToDelayed(Date.now() + 500, job.token);
  throw new DelayedError();
}

export function transcodeHandler(d: TranscodeDeps): JobHandler<'TranscodeRecording'> {
  return async (data, job, signal) => {
    await waitForLiveMp4(d, data, job);
    const release = await admit(d, data, job);
    d.transcodeMetrics.transcodeCpuUsed.set(d.gate.used);
    return inSpanUnder(
      data.traceparent,
      'recorder',
      `transcode ${data.output}`,
      { 'recording.id': data.recordingId, 'transcode.output': data.output },
      async () => {
        const log = d.logger.child({ recordingId: data.recordingId, output: data.output, jobId: job.id });
        try {
          return await transcode(d, data, log, signal, job.timestamp, release);
        } catch (err) {
          const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          const code = err instanceof TranscodeError || err instanceof PermanentTranscodeError ? err.code : 'transcode_failed';
          const message = err instanceof Error ? err.message : String(err);
          log.error({ err, attempt: job.attemptsMade + 1, last }, 'transcode failed');
          const patch: Partial<RecordingOutput> = last
            ? { status: 'failed', error: { code, message }, etaSeconds: null }
            : { status: 'pending', progress: 0, etaSeconds: null, error: { code, message } };
          const out = await updateOutput(d.store, data.recordingId, data.output, patch, (o) => o.status !== 'ready').catch(() => null);
          if (last) d.transcodeMetrics.transcodeFailures.inc({ output: data.output, code });
          if (last && out?.status === 'failed') {
            const rec = await d.store.get(data.recordingId).catch(() => null);
            if (rec)
              await d.webhooks
                .emit('output.failed', rec, data.output)
                .catch((e: unknown) => log.warn({ err: e }, 'output.failed not queued'));
          }
          throw err;
        } finally {
          release();
          d.transcodeMetrics.transcodeCpuUsed.set(d.gate.used);
        }
      },
    );
  };
}

async function transcode(
  d: TranscodeDeps,
  data: TranscodeRecording,
  log: Logger,
  signal: AbortSignal,
  queuedAt: number,
  release: () => void,
): Promise<TranscodeResult> {
  const id = data.recordingId;
  const phases: Record<string, number> = { queuedMs: Date.now() - queuedAt };
  let mark = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round(now - mark);
    mark = now;
  };
  const rec = await d.store.get(id);
  if (!rec) throw new PermanentTranscodeError('recording_not_found', `recording ${id} does not exist`);
  const entry = rec.outputs.find((o) => o.name === data.output);
  if (!entry) throw new PermanentTranscodeError('output_not_requested', `recording ${id} has no output ${data.output}`);
  if (entry.status === 'ready') return { outcome: 'skipped' };
  const raw = rec.outputs.find((o) => o.name === 'raw' && o.status === 'ready');
  if (rec.status !== 'ready' || !raw)
    throw new PermanentTranscodeError('raw_not_ready', `recording ${id} is ${rec.status}; its raw file is not ready`);

  const dir = join(d.settings.workDir, 'transcode', `${id}-${data.output}`);
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const rawKey = recordingKeys.output(id, raw.file);
    const { input, probed } = await openAndProbe(d, rawKey, join(dir, raw.file), log);
    lap('openMs'); // opening and probing
    // Several participants: each placed at the start offset the manifest gives them.
    const src = placeParticipants(probed, rec.participants);
    const t0 = performance.now();
    await updateOutput(
      d.store,
      id,
      data.output,
      { status: 'processing', progress: 0, etaSeconds: null, error: null },
      (o) => o.status !== 'ready',
    );
    const made = await makeOutput(d, rec, data.output, src, input, join(dir, 'out'), log, signal);
    release();
    d.transcodeMetrics.transcodeCpuUsed.set(d.gate.used);
    lap('ffmpegMs');
    const seconds = (performance.now() - t0) / 1000;
    d.transcodeMetrics.transcodeSeconds.observe({ output: data.output }, seconds);
    await uploadFiles(d, id, made.files, log);
    lap('uploadMs');
    const done = await updateOutput(
      d.store,
      id,
      data.output,
      { status: 'ready', progress: 1, etaSeconds: 0, size: made.size, durationMs: made.durationMs, error: null },
      (o) => o.status !== 'ready',
    ).catch(async (err: unknown) => {
      // Deleted while this ran (DELETE or retention): what was just uploaded must go too.
      if ((await d.store.get(id).catch(() => undefined)) === null) {
        await Promise.all(made.files.map((f) => d.storage.delete(recordingKeys.output(id, f.file)).catch(() => {})));
        throw new PermanentTranscodeError('recording_deleted', `recording ${id} was deleted while its ${data.output} was made`);
      }
      throw err;
    });
    lap('manifestMs');
    log.info(
      { size: made.size, via: input.via, ...phases, realtime: Math.round((src.durationS / Math.max(seconds, 1e-3)) * 10) / 10 },
      'output ready',
    );
    const after = await d.store.get(id);
    if (after?.stoppedAt)
      d.transcodeMetrics.stopToOutputReadySeconds.observe(
        { output: data.output },
        Math.max(0, Date.now() - Date.parse(after.stoppedAt)) / 1000,
      );
    if (after && done?.status === 'ready')
      await d.webhooks.emit('output.ready', after, data.output).catch((e: unknown) => log.warn({ err: e }, 'output.ready not queued'));
    return { outcome: 'ready', size: made.size, seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A message without the presigned URL of the raw (it would open the raw to whoever reads the error). */
/**
 * The raw file opened (a presigned URL, or a local path) and probed. The storage down for a
 * while (an S3 outage: a soak saw 3 outputs fail on a 30-second one) must not fail the output,
 * so an unreachable raw is retried for ~3 minutes; a raw the storage has but ffprobe cannot read
 * fails at once.
 */
async function openAndProbe(
  d: TranscodeDeps,
  rawKey: string,
  localPath: string,
  log: Logger,
): Promise<{ input: RawInput; probed: Awaited<ReturnType<typeof probeSource>> }> {
  const attempt = async (): Promise<{ input: RawInput; probed: Awaited<ReturnType<typeof probeSource>> }> => {
    const input = await openRaw(d.storage, rawKey, localPath);
    try {
      return { input, probed: await probeSource(input.input, d.settings.ffprobePath) };
    } catch (err) {
      const message = redact(err instanceof Error ? err.message : String(err), input);
      const present = await d.storage.stat(rawKey).then(
        (st) => st !== null,
        () => false,
      );
      if (present) throw new PermanentTranscodeError('raw_unreadable', `the raw file is not readable: ${message}`);
      // Not the caught error as the cause: its message holds the presigned URL, redacted here.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(message);
    }
  };
  return retry(attempt, {
    attempts: 60,
    maxDelayMs: 3000,
    retryIf: (err) => !(err instanceof PermanentTranscodeError),
    onRetry: (err, n) => log.warn({ err, attempt: n }, 'the raw file cannot be reached; retrying'),
  }).catch((err: unknown) => {
    if (err instanceof PermanentTranscodeError) throw err;
    throw new TranscodeError('raw_unreadable', `the raw file could not be read: ${err instanceof Error ? err.message : String(err)}`);
  });
}

function redact(message: string, raw: RawInput): string {
  return raw.via === 'url' ? message.split(raw.input).join('<raw>') : message;
}

/** The invocation reading the raw with the raw's input options (HTTP reconnects) in front. */
function fromRaw(inv: FfmpegInvocation, raw: RawInput): FfmpegInvocation {
  return { ...inv, inputs: inv.inputs.map((i) => (i.path === raw.input ? { ...i, options: [...raw.options, ...i.options] } : i)) };
}

interface Made {
  /** Local file → key relative to the recording's prefix, in upload order. */
  files: { path: string; file: string; contentType: string }[];
  size: number;
  durationMs: number | null;
}

async function makeOutput(
  d: TranscodeDeps,
  rec: Recording,
  name: TranscodeOutputName,
  src: SourceInfo,
  raw: RawInput,
  outDir: string,
  log: Logger,
  signal: AbortSignal,
): Promise<Made> {
  const input = raw.input;
  const niceness = name === 'mp4' || name === 'poster' ? d.transcode.niceness : Math.min(19, d.transcode.niceness + 5);
  await mkdir(outDir, { recursive: true });
  const spec = OUTPUT_SPECS[name];
  const needVideo = (): void => {
    if (src.video.length === 0) throw new PermanentTranscodeError('no_video', 'the recording has no video stream');
  };
  const single = async (inv: FfmpegInvocation, path: string): Promise<Made> => {
    await runTracked(d, rec.id, name, fromRaw(inv, raw), src.durationS, log, signal, niceness, raw);
    const size = await sizeOf(path);
    if (!size) throw new TranscodeError('empty_output', `ffmpeg wrote no ${name} file`);
    const probe = await ffprobe(path, d.settings.ffprobePath).catch(() => null);
    if (!probe) throw new TranscodeError('unreadable_output', `the ${name} file ffmpeg wrote is not readable`);
    const durationMs =
      probe.format.duration !== undefined && spec.contentType.startsWith('image/') === false
        ? Math.round(probe.format.duration * 1000)
        : null;
    return { files: [{ path, file: spec.file, contentType: spec.contentType }], size, durationMs };
  };
  const tuning: EncodeTuning = {
    ...(d.transcode.preset ? { preset: d.transcode.preset } : {}),
    ...(d.transcode.crf ? { crf: d.transcode.crf } : {}),
    ...(d.transcode.threads ? { threads: d.transcode.threads } : {}),
    ...(d.transcode.mp4Audio ? { mp4Audio: d.transcode.mp4Audio } : {}),
  };
  switch (name) {
    case 'mp4': {
      const path = join(outDir, spec.file);
      return single(mp4Args(src, { input, output: path, ...tuning }), path);
    }
    case 'audio': {
      if (src.audio.length === 0) throw new PermanentTranscodeError('no_audio', 'the recording has no audio stream');
      const path = join(outDir, spec.file);
      return single(audioArgs(src, { input, output: path }), path);
    }
    case 'composite': {
      needVideo();
      const path = join(outDir, spec.file);
      return single(compositeArgs(src, compositePlan(src.video.length), { input, output: path, ...tuning }), path);
    }
    case 'poster': {
      needVideo();
      const path = join(outDir, spec.file);
      return single(posterArgs(src, { input, output: path }), path);
    }
    case 'sprite': {
      needVideo();
      const v = src.video[0]!;
      const plan = spritePlan(src.durationS, v.width, v.height);
      const image = join(outDir, 'sprite.jpg');
      const made = await single(spriteArgs(src, plan, { input, output: image }), image);
      const vttPath = join(outDir, 'sprite.vtt');
      await writeFile(vttPath, spriteVtt(plan, src.durationS, 'sprite.jpg'));
      return {
        files: [...made.files, { path: vttPath, file: 'sprite/sprite.vtt', contentType: 'text/vtt; charset=utf-8' }],
        size: made.size + ((await sizeOf(vttPath)) ?? 0),
        durationMs: Math.round(src.durationS * 1000),
      };
    }
    case 'hls': {
      const v = src.video[0];
      const ladder = v ? hlsLadder(v.width, v.height) : [];
      await runTracked(
        d,
        rec.id,
        name,
        fromRaw(hlsArgs(src, ladder, { input, dir: outDir, ...tuning }), raw),
        src.durationS,
        log,
        signal,
        niceness,
        raw,
      );
      const names = (await readdir(outDir)).sort();
      if (!names.includes(HLS_MASTER)) throw new TranscodeError('empty_output', 'ffmpeg wrote no HLS master playlist');
      // Segments first, then the renditions' playlists, the master last.
      const rank = (f: string): number => (f === HLS_MASTER ? 2 : f.endsWith('.m3u8') ? 1 : 0);
      names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      const files: Made['files'] = [];
      let size = 0;
      for (const f of names) {
        const path = join(outDir, f);
        size += (await sizeOf(path)) ?? 0;
        files.push({ path, file: `hls/${f}`, contentType: f.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' });
      }
      return { files, size, durationMs: Math.round(src.durationS * 1000) };
    }
  }
}

/** Runs ffmpeg, turning its -progress lines into throttled progress/ETA updates of the output. */
async function runTracked(
  d: TranscodeDeps,
  id: string,
  name: string,
  inv: FfmpegInvocation,
  totalS: number,
  log: Logger,
  signal: AbortSignal,
  niceness: number,
  raw: RawInput,
): Promise<void> {
  const started = Date.now();
  const every = d.transcode.progressIntervalMs ?? 1000;
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const ff = runFfmpeg(inv, {
    ffmpegPath: d.settings.ffmpegPath,
    logger: log,
    niceness,
    onLine: (line) => {
      const doneS = parseProgress(line);
      if (doneS === null || Date.now() - lastWrite < every) return;
      lastWrite = Date.now();
      const { progress, etaSeconds } = estimate(doneS, totalS, Date.now() - started);
      const p = Math.min(0.99, Math.round(progress * 1000) / 1000);
      writing = writing
        .then(() => updateOutput(d.store, id, name, { progress: p, etaSeconds }, (o) => o.status === 'processing'))
        .catch((err: unknown) => log.warn({ err }, 'progress not recorded'));
    },
  });
  const onAbort = (): void => void ff.stop({ killAfterMs: 2000 });
  signal.addEventListener('abort', onAbort, { once: true });
  const exit = await ff.exited;
  signal.removeEventListener('abort', onAbort);
  await writing;
  if (exit.stopped) throw new TranscodeError('transcode_aborted', 'the recorder stopped while transcoding');
  if (exit.code !== 0) {
    throw new TranscodeError(
      'ffmpeg_failed',
      redact(
        `ffmpeg ${exit.error ?? `exited with ${exit.code ?? exit.signal}`}: ${exit.stderrTail
          .filter((l) => !/^\w+=/.test(l))
          .slice(-3)
          .join(' | ')}`,
        raw,
      ),
    );
  }
}

async function uploadFiles(d: TranscodeDeps, id: string, files: Made['files'], log: Logger): Promise<void> {
  for (const f of files) {
    // Storage down for a while must not fail the output (as above): ~3 minutes.
    await retry(() => d.storage.putFile(recordingKeys.output(id, f.file), f.path, f.contentType), {
      attempts: 60,
      maxDelayMs: 3000,
      onRetry: (err, attempt) => log.warn({ err, attempt, file: f.file }, 'output upload failed; retrying'),
    }).catch((err: unknown) => {
      throw new TranscodeError('upload_failed', `uploading ${f.file} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}
