// The mp4 output encoded while the recording is made. A re-encoded mp4 (VP8/VP9 publishers)
// made from the raw after the stop takes the encode of the whole recording (15 s for 60 s of
// 720p on two cores), an H.264 remux its Opus → AAC encode (2.4 s); made during the recording,
// only the last seconds are left at stop.
//
// For a run whose continuous file will be the raw output (the recording's first run, one
// participant; jobs/continuous.ts), an ffmpeg at the mp4 job's niceness reads that file as it
// grows (GrowingFileReader → stdin) with the mp4 job's own arguments (args.ts mp4Args). When
// the run ends and its continuous file is stored, the reader runs to the file's end; once the
// recording is ready with that very file as its raw, the mp4 is checked, uploaded and made the
// `mp4` output here. A Redis key (keys.liveMp4, refreshed) tells the mp4 job, on any recorder,
// to wait meanwhile; if anything goes wrong (a second run, a pause, a crash, a bad file) this
// is dropped, the key goes (or expires) and the job encodes from the raw as before.
//
// Flow: source (the growing continuous file) → process (ffmpeg) → sink (storage + manifest).
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Counter,
  OUTPUT_SPECS,
  loadRecordingOptions,
  recordingKeys,
  updateOutput,
  type CaptureTrack,
  type Logger,
  type Recording,
  type RecordingStore,
  type Redis,
  type RedisKeys,
  type Registry,
  type Storage,
  type TranscodeOutputName,
  type WebhookEmitter,
} from '@live-webrtc/shared';
import { ffprobe } from '../ffmpeg/probe.js';
import { runFfmpeg, type FfmpegProcess } from '../ffmpeg/runner.js';
import { codecName } from '../jobs/capture.js';
import { retry } from '../jobs/retry.js';
import { mp4Args, outputCost, parseProgress, type EncodeTuning, type SourceInfo } from './args.js';
import type { CostGate } from './gate.js';
import { GrowingFileReader } from './growingReader.js';
import type { TranscodeMetrics } from './metrics.js';
import { probeSource } from './source.js';

export interface LiveMp4Deps {
  recorderId: string;
  store: RecordingStore;
  storage: Storage;
  redis: Redis;
  keys: RedisKeys;
  webhooks: WebhookEmitter;
  metrics: TranscodeMetrics;
  gate: CostGate;
  logger: Logger;
  ffmpegPath: string;
  ffprobePath: string;
  /** The recorder's scratch directory; live mp4s go to `live-mp4/<recorder id>/` in it. */
  workDir: string;
  /** Niceness of the encode (the mp4 job's). */
  niceness: number;
  tuning: EncodeTuning;
  /** Outputs made when the recording chose none (TRANSCODE_OUTPUTS). */
  defaults: readonly TranscodeOutputName[];
  /** Live encodes at once on this recorder (TRANSCODE_LIVE_MAX); 0 = none. */
  max: number;
  /** How long the source may take to show its streams, ms. Default 20000. */
  probeTimeoutMs?: number;
  /** How long a finished encode waits for its recording to be ready with an mp4 entry, ms. Default 60000. */
  readyWaitMs?: number;
}

/** Why a live mp4 was not used (lw_recorder_live_mp4_total{outcome}). */
export type LiveMp4Drop =
  | 'not_requested'
  | 'no_streams'
  | 'run_not_raw'
  | 'encode_failed'
  | 'raw_differs'
  | 'recording_gone'
  | 'not_ready'
  | 'bad_output'
  | 'upload_failed'
  | 'recorder_closing';

const HEARTBEAT_TTL_MS = 10_000;
const HEARTBEAT_EVERY_MS = 3_000;
/** How far the mp4's duration may sit from the raw's, s (the job's mp4 is checked to 0.2 s by tests). */
const MAX_DURATION_ERROR_S = 0.5;

export function createLiveMp4Metrics(registry: Registry): Counter<'outcome'> {
  return new Counter({
    name: 'lw_recorder_live_mp4_total',
    help: 'mp4 outputs encoded during the recording, by outcome: used, or why they were dropped (the mp4 job then encodes from the raw)',
    labelNames: ['outcome'],
    registers: [registry],
  });
}

/** This recorder's live mp4s, by recording. */
export class LiveMp4s {
  readonly #d: LiveMp4Deps;
  readonly #outcomes: Counter<'outcome'>;
  readonly #live = new Map<string, LiveMp4>();
  readonly #dir: string;

  constructor(d: LiveMp4Deps, outcomes: Counter<'outcome'>) {
    this.#d = d;
    this.#outcomes = outcomes;
    this.#dir = join(d.workDir, 'live-mp4', d.recorderId);
  }

  /** Removes what dead recorders left (their encodes ended with them). */
  async init(isAlive: (recorderId: string) => Promise<boolean>): Promise<void> {
    const root = join(this.#d.workDir, 'live-mp4');
    for (const name of await readdir(root).catch(() => [] as string[])) {
      if (name !== this.#d.recorderId && !(await isAlive(name).catch(() => true)))
        await rm(join(root, name), { recursive: true, force: true });
    }
  }

  get running(): number {
    return this.#live.size;
  }

  /**
   * A live mp4 for a run writing a continuous file at `source`, when it can serve: a slot is
   * free, the run is one participant's with one video, and the CPU gate has room for an mp4
   * (a re-encode for VP8/VP9; for H.264 a remux, whose AAC encode is then done by the stop too).
   * Null otherwise.
   */
  start(recordingId: string, source: string, tracks: readonly CaptureTrack[], logger: Logger): LiveMp4 | null {
    if (this.#d.max <= 0 || this.#live.size >= this.#d.max || this.#live.has(recordingId)) return null;
    const videos = tracks.filter((t) => t.kind === 'video');
    if (videos.length !== 1 || new Set(tracks.map((t) => t.participant)).size !== 1) return null;
    const codec = codecName(videos[0]!.codec.mimeType);
    const release = this.#d.gate.tryAcquire(outputCost('mp4', codec), 1);
    if (!release) return null;
    const live = new LiveMp4(this.#d, recordingId, source, join(this.#dir, `${recordingId}.mp4`), logger, release, (outcome) => {
      this.#outcomes.inc({ outcome });
      if (this.#live.get(recordingId) === live) this.#live.delete(recordingId);
    });
    this.#live.set(recordingId, live);
    live.begin();
    return live;
  }

  /** Recorder closing: every live mp4 is dropped (the jobs encode from the raws). */
  async close(): Promise<void> {
    await Promise.all([...this.#live.values()].map((l) => l.drop('recorder_closing')));
  }
}

/** One recording's mp4, encoded from its growing continuous file. */
export class LiveMp4 {
  readonly #d: LiveMp4Deps;
  readonly #id: string;
  readonly #source: string;
  readonly #output: string;
  readonly #log: Logger;
  readonly #reader: GrowingFileReader;
  readonly #releaseCpu: () => void;
  readonly #ended: (outcome: 'used' | LiveMp4Drop) => void;
  #ffmpeg: FfmpegProcess | undefined;
  #encodedS = 0;
  #src: SourceInfo | undefined;
  #done = false;
  /** sourceComplete() was called: ffmpeg's end is awaited there. */
  #completing = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #work: Promise<void> = Promise.resolve();

  constructor(
    d: LiveMp4Deps,
    id: string,
    source: string,
    output: string,
    log: Logger,
    releaseCpu: () => void,
    ended: (outcome: 'used' | LiveMp4Drop) => void,
  ) {
    this.#d = d;
    this.#id = id;
    this.#source = source;
    this.#output = output;
    this.#log = log.child({ liveMp4: true });
    this.#reader = new GrowingFileReader(source, { pollMs: 200 });
    this.#releaseCpu = releaseCpu;
    this.#ended = ended;
  }

  /** Starts: checks the mp4 is wanted, waits for the source's streams, starts ffmpeg. */
  begin(): void {
    this.#work = this.#start().catch((err: unknown) => {
      this.#log.warn({ err }, 'live mp4 could not start');
      void this.drop('encode_failed');
    });
  }

  async #start(): Promise<void> {
    const options = await loadRecordingOptions(this.#d.storage, this.#id).catch(() => null);
    if (!(options?.outputs ?? this.#d.defaults).includes('mp4')) return this.drop('not_requested');
    const src = await this.#probe();
    if (this.#done) return;
    if (!src) return this.drop('no_streams');
    this.#src = src;
    await mkdir(join(this.#output, '..'), { recursive: true });
    await rm(this.#output, { force: true });
    const inv = mp4Args(src, { input: 'pipe:0', output: this.#output, ...this.#d.tuning });
    this.#ffmpeg = runFfmpeg(
      // The reader is Matroska/WebM; ffmpeg needs no probing of a pipe beyond the header.
      { ...inv, inputs: [{ options: ['-f', 'matroska'], path: 'pipe:0' }] },
      {
        ffmpegPath: this.#d.ffmpegPath,
        logger: this.#log,
        niceness: this.#d.niceness,
        stdin: this.#reader,
        onLine: (line) => {
          const s = parseProgress(line);
          if (s !== null) this.#encodedS = s;
        },
      },
    );
    // An encode that dies while the recording goes on frees its slot and CPU share at once.
    void this.#ffmpeg.exited.then((e) => {
      if (!this.#completing && !this.#done) {
        this.#log.warn({ code: e.code, signal: e.signal, stderr: e.stderrTail.slice(-3) }, 'live mp4: ffmpeg ended during the recording');
        void this.drop('encode_failed');
      }
    });
    this.#log.info({ width: src.video[0]?.width, height: src.video[0]?.height }, 'live mp4 encoding');
  }

  /** The source's streams, once its header shows a sized video (and the audio, if any). */
  async #probe(): Promise<SourceInfo | null> {
    const until = Date.now() + (this.#d.probeTimeoutMs ?? 20_000);
    while (!this.#done && Date.now() < until) {
      const size = await stat(this.#source).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0) {
        const src = await probeSource(this.#source, this.#d.ffprobePath).catch(() => null);
        if (src && src.video.length === 1) return src;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return null;
  }

  /**
   * The run ended and its continuous file is complete and stored: the mp4 job waits for this
   * one from now on (the key), the reader runs to the file's end, and once the recording is
   * ready the mp4 becomes its output. Resolves once the key is set (before `ready`).
   */
  async sourceComplete(): Promise<void> {
    if (this.#done) return;
    this.#completing = true;
    try {
      await this.#d.redis.set(this.#d.keys.liveMp4(this.#id), this.#d.recorderId, 'PX', HEARTBEAT_TTL_MS);
    } catch (err) {
      this.#log.warn({ err }, 'live mp4: the mp4 job could not be told to wait; dropping it');
      return this.drop('encode_failed');
    }
    this.#heartbeat = setInterval(() => {
      void this.#d.redis.pexpire(this.#d.keys.liveMp4(this.#id), HEARTBEAT_TTL_MS).catch(() => {});
    }, HEARTBEAT_EVERY_MS);
    this.#heartbeat.unref();
    const started = this.#work;
    this.#work = (async () => {
      await started;
      if (this.#done) return;
      this.#reader.finish();
      await this.#publish();
    })().catch(async (err: unknown) => {
      this.#log.warn({ err }, 'live mp4 failed');
      await this.drop('encode_failed');
    });
  }

  async #publish(): Promise<void> {
    const ff = this.#ffmpeg;
    if (!ff) return this.drop('no_streams');
    const fed = (): number => this.#reader.position;
    const exit = await this.#withProgress(ff.exited);
    this.#releaseCpu();
    if (this.#done) return;
    if (exit.code !== 0) {
      this.#log.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-3) }, 'live mp4: ffmpeg failed');
      return this.drop('encode_failed');
    }
    // The recording's raw must be the very file that was read (one run, stored whole).
    const rec = await this.#readyRecording();
    if (!rec) return;
    const raw = rec.outputs.find((o) => o.name === 'raw');
    if (!raw || raw.size !== fed()) {
      this.#log.info({ raw: raw?.size, fed: fed() }, 'live mp4: the raw is not the file it was made from');
      return this.drop('raw_differs');
    }
    const probe = await ffprobe(this.#output, this.#d.ffprobePath).catch(() => null);
    const size = await stat(this.#output).then(
      (s) => s.size,
      () => 0,
    );
    const durationS = probe?.format.duration;
    const rawS = raw.durationMs !== null ? raw.durationMs / 1000 : null;
    if (!probe || !size || durationS === undefined || (rawS !== null && Math.abs(durationS - rawS) > MAX_DURATION_ERROR_S)) {
      this.#log.warn({ size, durationS, rawS }, 'live mp4: the encoded file does not match the raw');
      return this.drop('bad_output');
    }
    const spec = OUTPUT_SPECS.mp4;
    try {
      await retry(() => this.#d.storage.putFile(recordingKeys.output(this.#id, spec.file), this.#output, spec.contentType), {
        attempts: 4,
      });
    } catch (err) {
      this.#log.warn({ err }, 'live mp4: upload failed');
      return this.drop('upload_failed');
    }
    const durationMs = Math.round(durationS * 1000);
    const done = await updateOutput(
      this.#d.store,
      this.#id,
      'mp4',
      { status: 'ready', progress: 1, etaSeconds: 0, size, durationMs, error: null },
      (o) => o.status !== 'ready',
    );
    if (done?.status !== 'ready') return this.drop('recording_gone');
    await this.#end('used');
    const after = await this.#d.store.get(this.#id).catch(() => null);
    if (after?.stoppedAt)
      this.#d.metrics.stopToOutputReadySeconds.observe({ output: 'mp4' }, Math.max(0, Date.now() - Date.parse(after.stoppedAt)) / 1000);
    this.#log.info({ size, durationMs, fed: fed() }, 'output ready (mp4 encoded while recording)');
    if (after)
      await this.#d.webhooks.emit('output.ready', after, 'mp4').catch((err: unknown) => this.#log.warn({ err }, 'output.ready not queued'));
  }

  /** Waits for ffmpeg; meanwhile the mp4 entry (once listed) shows the encode's progress. */
  async #withProgress<T>(exited: Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      const total = this.#src?.durationS;
      void this.#d.store
        .get(this.#id)
        .then((rec) => {
          const rawMs = rec?.outputs.find((o) => o.name === 'raw' && o.status === 'ready')?.durationMs;
          const totalS = rawMs ? rawMs / 1000 : total;
          if (!rec?.outputs.some((o) => o.name === 'mp4') || !totalS) return;
          const progress = Math.min(0.99, Math.round((this.#encodedS / totalS) * 1000) / 1000);
          return updateOutput(this.#d.store, this.#id, 'mp4', { status: 'processing', progress, error: null }, (o) => o.status !== 'ready');
        })
        .catch(() => {});
    }, 1000);
    try {
      return await exited;
    } finally {
      clearInterval(timer);
    }
  }

  /** The recording once ready with an mp4 entry; null (dropped) when it fails, goes, or wants none. */
  async #readyRecording(): Promise<Recording | null> {
    const until = Date.now() + (this.#d.readyWaitMs ?? 60_000);
    let readySince = 0;
    while (!this.#done && Date.now() < until) {
      const rec = await this.#d.store.get(this.#id).catch(() => undefined);
      if (rec === null || rec?.status === 'failed') {
        await this.drop('recording_gone');
        return null;
      }
      if (rec?.status === 'ready') {
        if (rec.outputs.some((o) => o.name === 'mp4')) return rec;
        // Its outputs are listed right after `ready`; none after a while means no mp4 wanted.
        readySince ||= Date.now();
        if (Date.now() - readySince > 5000) {
          await this.drop('not_requested');
          return null;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.drop('not_ready');
    return null;
  }

  /** Gives up: the mp4 job encodes from the raw (its wait ends with the key). Idempotent. */
  async drop(reason: LiveMp4Drop): Promise<void> {
    if (this.#done) return;
    this.#log.info({ reason }, 'live mp4 dropped; the mp4 job encodes from the raw');
    this.#reader.destroy();
    if (this.#ffmpeg?.running) await this.#ffmpeg.stop({ killAfterMs: 2000 });
    await this.#end(reason);
  }

  async #end(outcome: 'used' | LiveMp4Drop): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#heartbeat);
    this.#releaseCpu();
    this.#ended(outcome);
    await this.#d.redis.del(this.#d.keys.liveMp4(this.#id)).catch(() => {});
    await rm(this.#output, { force: true });
  }
}
