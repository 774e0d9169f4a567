// CaptureRecording: one capture *run* of a recording — RTP from the SFU → ffmpeg → Matroska
// segments uploaded while recording. A recording is captured in runs: the first, and one more
// after every recorder crash (takeover), handover (SIGTERM with another recorder up), ffmpeg
// crash or stall, lost tap (SFU restart) or publisher rejoin. Every run:
//   1. takes the recording's claim for its attempt (CaptureRuns; a stale job exits);
//   2. asks the SFU instance that owns the room for its own tap (fresh PlainTransports, paused
//      consumers) and gets the tracks; while the publisher is away or the SFU is restarting it
//      keeps asking, for up to RECORD_REJOIN_GRACE_SECONDS;
//   3. binds an even RTP port (+1 RTCP) per track, writes the SDP, starts ffmpeg, waits until
//      its ports are bound, then tells the SFU to connect, resume and request keyframes;
//   4. on "Input #0" (a decodable frame) publishes `first-frame` (the SFU stops asking for
//      keyframes) and marks the recording active; asks for a keyframe before every segment
//      boundary so each segment starts on one;
//   5. uploads segments as ffmpeg completes them, stamped with the run's wall-clock start so
//      finalize puts runs on one timeline (a gap stays a gap);
//   6. ends on stop (message, or `stopping` seen by a 1 s poll), worker shutdown, ffmpeg exit,
//      ffmpeg stalled (its progress file stops growing), tap lost, `restart-run` or pause. Then it
//      ends without finalizing (pause: resume queues the next run), finalizes (stop, last
//      recorder shutting down, publisher gone past the grace) or hands the recording on to a
//      new run (everything else).
import { mkdir, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeMessage,
  encodeMessage,
  isLive,
  jobIds,
  recordingKeys,
  type CaptureRecording,
  type CaptureTrack,
  type FailureCode,
  type JobHandler,
  type Logger,
  type Recording,
  type RecordingMessage,
  type RunFile,
  type RunRetry,
  type SharedUploadSlot,
  type TapSource,
  withoutPauses,
} from '@live-webrtc/shared';
import type { Job } from 'bullmq';
import { captureArgs, rawContainerFor, segmentIndexOf } from '../ffmpeg/args.js';
import { runFfmpeg, type FfmpegExit, type FfmpegProcess } from '../ffmpeg/runner.js';
import { buildCaptureSdp } from '../ffmpeg/sdp.js';
import { ProgressWatch } from '../ffmpeg/progressWatch.js';
import { StallDetector } from '../ffmpeg/stall.js';
import { waitUntilBound, type PortPair } from '../ports.js';
import { sendRtcpBye } from '../rtcp.js';
import { RtpRelay } from '../rtp/relay.js';
import { toFfmpegVp9Packet } from '../rtp/vp9.js';
import { acceptedSenders, relaySource } from '../rtp/sources.js';
import { TapError } from '../sfu/tapClient.js';
import type { LiveMp4 } from '../transcode/liveMp4.js';
import { readRunLayout, type RunLayout } from '../mkv/layout.js';
import { looseFileName } from '../mkv/parked.js';
import { ContinuousFile } from './continuous.js';
import { RtpLossCounter } from './rtpLoss.js';
import { recordingWorkDir, type RecorderDeps, type RecorderSettings } from './deps.js';
import { readyFromContinuousFile } from './finalize.js';
import { forgetPid, rememberPid } from './leftovers.js';
import { endPausedRun } from './pause.js';
import { aloneInRawUpload, forgetRawUpload, joinRawUpload, leaveRawUpload } from './rawUpload.js';
import { localRunsIn, runFilesCovering } from './runFiles.js';
import { retry } from './retry.js';
import { recordRunTracks } from './runTracks.js';
import { SegmentUploader } from './segments.js';

/** Why a capture run ended; also the `reason` of its `capture-ended` message. */
export type CaptureEndReason =
  | 'stopped'
  | 'recorder_shutdown'
  | 'no_media'
  | 'media_timeout'
  | 'ffmpeg_exited'
  | 'ffmpeg_stuck'
  | 'tap_lost'
  | 'publisher_rejoined'
  | 'publisher_gone'
  | 'recording_gone'
  | 'paused';

export interface CaptureResult {
  outcome: 'processing' | 'failed' | 'skipped' | 'continued' | 'paused';
  reason: CaptureEndReason | 'not_live' | 'stale_run' | 'capture_failed' | 'start_failed';
  run: number;
  segments: number;
}

/** Lower-case codec name of a MIME type ("video/VP8" → "vp8"). */
export const codecName = (mimeType: string): string => mimeType.slice(mimeType.indexOf('/') + 1).toLowerCase();

/** How long an ending run records on until the next run is fed, by default, ms. */
const HANDOVER_WAIT_MS = 8000;

/**
 * Segment indices an ending run may still open after the next run has started on the same
 * recorder: its handover lasts at most handoverWaitMs, one segment per segmentSeconds.
 */
export const handoverReserve = (s: Pick<RecorderSettings, 'handoverWaitMs' | 'segmentSeconds'>): number =>
  Math.ceil((s.handoverWaitMs ?? HANDOVER_WAIT_MS) / (s.segmentSeconds * 1000)) + 2;

/** First segment index a run writes: after every segment already stored (a run that takes over continues numbering). */
export const runStart = (rec: Pick<Recording, 'segments'>, firstSegment: number): number =>
  rec.segments.reduce((n, s) => Math.max(n, s.index + 1), firstSegment);

/**
 * A run that could not start recording: its ffmpeg did not bind its ports (or no port was free),
 * or its tap was gone when it connected (the publisher left, a participant's producer closed,
 * the SFU dropped the tap). The recording is continued as a new run, within a bound.
 */
export class RunStartError extends Error {
  constructor(
    readonly kind: 'ffmpeg' | 'tap',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunStartError';
  }
}

/** Wait before the next run after `tries` failed starts: 1, 2, 4, 8 s, then 8 s. */
export const startRetryDelayMs = (tries: number): number => Math.min(1000 * 2 ** Math.max(0, tries - 1), 8000);

/** Reasons after which the recording continues as a new run rather than being finalized. */
const CONTINUES: ReadonlySet<CaptureEndReason> = new Set(['ffmpeg_exited', 'ffmpeg_stuck', 'tap_lost', 'publisher_rejoined']);

/** The CaptureRecording handler. `shutdown` aborts every capture (service close), like the job's own signal. */
export function captureHandler(d: RecorderDeps, shutdown: AbortSignal): JobHandler<'CaptureRecording'> {
  return async (data, job, signal) => {
    const log = d.logger.child({ recordingId: data.recordingId, room: data.room, jobId: job.id, attempt: data.attempt });
    const rec = await d.store.get(data.recordingId);
    if (!rec || !isLive(rec.status)) {
      log.info({ status: rec?.status ?? 'missing' }, 'recording is not live; nothing to capture');
      await d.runs.release(data.recordingId, data.attempt).catch(() => {});
      return { outcome: 'skipped', reason: 'not_live', run: data.firstSegment, segments: 0 } satisfies CaptureResult;
    }
    const prev = await d.runs.claim(data.recordingId);
    // Runs before this one that failed to start (carried by the claim): they bound the retries.
    const retry = prev && prev.attempt === data.attempt ? prev.retry : undefined;
    if (!(await d.runs.take(data.recordingId, data.room, data.attempt, d.recorderId, prev?.cause ?? 'first'))) {
      log.info('a newer run of this recording exists; this job is stale');
      return { outcome: 'skipped', reason: 'stale_run', run: data.firstSegment, segments: 0 } satisfies CaptureResult;
    }
    // After every stored segment and every segment file here (a dead run's last, unlisted
    // segment must not be overwritten). A run whose files are here may still be writing (a
    // handover on this recorder: it records until this run is fed), so this run starts past
    // the indices it can reach meanwhile: two ffmpegs never write one file, and the ending
    // run's uploader never takes this run's files for its own (segments.ts, finish).
    const local = await readdir(recordingWorkDir(d.settings, data.recordingId)).catch(() => [] as string[]);
    const localMax = local.map(segmentIndexOf).reduce<number>((n, i) => (i !== null && i > n ? i : n), -1);
    const run = Math.max(runStart(rec, data.firstSegment), localMax < 0 ? 0 : localMax + 1 + handoverReserve(d.settings));
    if (rec.status === 'paused') {
      // Paused before this run began: resume queues a newer one.
      await endPausedRun(d, rec.id, data.attempt, run, log);
      return { outcome: 'paused', reason: 'paused', run, segments: 0 } satisfies CaptureResult;
    }
    if (rec.status === 'stopping') {
      // Stopped before this run began (or a run died while stopping): nothing left to capture.
      return endWithoutCapture(d, rec, data.attempt, run, log, retry);
    }
    d.metrics.activeCaptures.inc();
    d.metrics.captureCapacity.dec();
    d.costs.add(data.recordingId, d.costs.costOf(rec.tracks));
    try {
      // Every run writes a continuous file beside its segments. The first run with media writes
      // it as the raw output itself (the fast path to `ready`); a later one as a run file on the
      // same timeline, joined with the others by byte range at the end (mkv/join.ts).
      const first = rec.firstFrameAt === null;
      return await new Capture(d, data, run, log, AbortSignal.any([signal, shutdown]), job, first, retry).run();
    } finally {
      d.costs.remove(data.recordingId);
      d.metrics.activeCaptures.dec();
      d.metrics.captureCapacity.inc();
    }
  };
}

async function publish(d: RecorderDeps, id: string, m: RecordingMessage): Promise<void> {
  await d.redis.publish(d.keys.recordingChannel(id), encodeMessage(m));
}

async function enqueueFinalize(d: RecorderDeps, id: string): Promise<void> {
  await d.queues.enqueue('FinalizeRecording', { v: 1, recordingId: id }, { jobId: jobIds.finalize(id) });
}

/** Finalizes what storage holds (stored segments), or fails the recording with `code` when there is nothing. */
export async function finalizeOrFail(
  d: RecorderDeps,
  id: string,
  code: FailureCode,
  message: string,
  log: Logger,
): Promise<'processing' | 'failed'> {
  let rec = await d.store.get(id);
  // A recording that had media but no stored segment yet: an earlier run may still be
  // uploading its last segments (runs hand on before they upload). Give it time.
  const until = Date.now() + (d.settings.earlierRunWaitMs ?? 30_000);
  while (rec && rec.firstFrameAt !== null && rec.segments.length === 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    rec = await d.store.get(id);
  }
  if (rec && rec.segments.length > 0) {
    const r = await d.lifecycle.markProcessing(id);
    if (r.status === 'processing') await enqueueFinalize(d, id);
    log.info({ segments: rec.segments.length }, 'finalizing the stored segments');
    return 'processing';
  }
  await d.lifecycle.fail(id, code, message);
  d.metrics.captureFailures.inc({ code });
  await forgetRawUpload(d, id).catch((err: unknown) => log.warn({ err }, "could not drop the raw output's shared upload"));
  // Final: nothing will read this recording's work files again (segments, lists, SDPs).
  await rm(recordingWorkDir(d.settings, id), { recursive: true, force: true }).catch((err: unknown) =>
    log.warn({ err }, 'could not remove the work directory of a failed recording'),
  );
  return 'failed';
}

/**
 * Hands the recording on to a new run (attempt + 1), queued for any live recorder. Returns
 * false when someone else already moved the claim on.
 */
export async function continueAsNewRun(
  d: RecorderDeps,
  data: Pick<CaptureRecording, 'recordingId' | 'room' | 'sfuInstance'>,
  attempt: number,
  cause: string,
  o: { retry?: RunRetry; delayMs?: number } = {},
): Promise<boolean> {
  const claim = (await d.runs.claim(data.recordingId)) ?? {
    recordingId: data.recordingId,
    room: data.room,
    attempt,
    recorderId: d.recorderId,
    since: Date.now(),
    cause,
  };
  if (claim.attempt !== attempt) return false;
  const next = await d.runs.advance(claim, cause, o.retry);
  if (next === null) return false;
  await d.queues.enqueue(
    'CaptureRecording',
    { v: 1, recordingId: data.recordingId, room: data.room, sfuInstance: data.sfuInstance, firstSegment: 0, tracks: [], attempt: next },
    { jobId: jobIds.captureRun(data.recordingId, next), attempts: 1, ...(o.delayMs ? { delay: o.delayMs } : {}) },
  );
  return true;
}

/** A recording already `stopping` when its run starts: finalize what exists, or fail. */
async function endWithoutCapture(
  d: RecorderDeps,
  rec: Recording,
  attempt: number,
  run: number,
  log: Logger,
  retry?: RunRetry,
): Promise<CaptureResult> {
  // Stopped while its runs kept failing to start: that failure is the reason, not missing media.
  const outcome = retry
    ? await finalizeOrFail(
        d,
        rec.id,
        'capture_failed',
        `stopped while the capture kept failing to start (${retry.tries} runs): ${retry.error}`,
        log,
      )
    : await finalizeOrFail(d, rec.id, 'no_media', 'the recording was stopped before any media arrived', log);
  await d.runs.release(rec.id, attempt);
  await publish(d, rec.id, { type: 'capture-ended', recordingId: rec.id, firstSegment: run, reason: 'stopped' });
  return { outcome, reason: 'stopped', run, segments: rec.segments.length };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** ffmpeg lines that explain a probe that gave up: turned into a clearer failure. */
const NO_KEYFRAME_RE = /Could not find codec parameters|unspecified size|Could not write header/;
/** What ffmpeg prints when its RTP input saw no packet for -listen_timeout. */
const MEDIA_TIMEOUT_RE = /Connection timed out/;

/** One capture run. */
class Capture {
  readonly #d: RecorderDeps;
  readonly #data: CaptureRecording;
  readonly #attempt: number;
  readonly #run: number;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  readonly #job: Job;
  readonly #id: string;
  readonly #dir: string;
  readonly #stop = deferred<CaptureEndReason>();
  /** Tracks of this run's tap, as the SFU consumes them. */
  #tracks: CaptureTrack[] = [];
  /** Where the SFU sends each track from (absent from an older SFU). */
  #sources: TapSource[] = [];
  /** SFU instance serving this run's tap. */
  #sfu = '';
  #tapOpen = false;
  /** The pairs ffmpeg reads. */
  #ports: PortPair[] = [];
  /** What the SFU is told, per track: ffmpeg's pair, or a relay's. */
  #announced: PortPair[] = [];
  #relays: RtpRelay[] = [];
  #relayPorts: PortPair[] = [];
  #sawFirstFrame = false;
  #ending = false;
  #probeFailed = false;
  #firstFrameSaved: Promise<void> = Promise.resolve();
  #listeningAt = 0;
  #firstFrameTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #uploader: SegmentUploader | undefined;
  #stall: StallDetector | undefined;
  #stallStarted = false;
  /** No earlier run recorded media: this run's continuous file is the raw output. */
  readonly #first: boolean;
  /** Where this run's continuous file sits on the recording's timeline (ms), or null: it writes none. */
  #continuousOffsetMs: number | null = null;
  readonly #rtpLoss: RtpLossCounter;
  #continuous: ContinuousFile | undefined;
  /** Parked with its loose bytes on this machine only: its segments must all be uploaded. */
  #looseLocalOnly = false;
  /** This run's block of the raw output's shared upload (asked for once, while ffmpeg binds). */
  #slot: Promise<SharedUploadSlot | null> | undefined;
  #liveMp4: LiveMp4 | undefined;
  /** Earlier runs of this recording that failed to start, in a row (none: undefined). */
  readonly #retry: RunRetry | undefined;
  readonly #startedAt = Date.now();

  constructor(
    d: RecorderDeps,
    data: CaptureRecording,
    run: number,
    log: Logger,
    signal: AbortSignal,
    job: Job,
    first: boolean,
    retry?: RunRetry,
  ) {
    this.#d = d;
    this.#data = data;
    this.#attempt = data.attempt;
    this.#run = run;
    this.#log = log.child({ run });
    this.#signal = signal;
    this.#job = job;
    this.#id = data.recordingId;
    this.#dir = recordingWorkDir(d.settings, data.recordingId);
    this.#first = first;
    this.#rtpLoss = new RtpLossCounter(d.metrics);
    this.#retry = retry;
  }

  async run(): Promise<CaptureResult> {
    const d = this.#d;
    const listPath = join(this.#dir, `run-${this.#run}.csv`);
    const progressPath = join(this.#dir, `run-${this.#run}.progress`);
    let ffmpeg: FfmpegProcess | undefined;
    try {
      await mkdir(this.#dir, { recursive: true });
      // Listen for a stop before asking for anything, so an immediate stop is not missed.
      await this.#watchForStop();
      const t0 = Date.now();
      const waited = await this.#openTap();
      if (waited !== null) return await this.#endBeforeMedia(waited);
      const tapMs = Date.now() - t0;
      d.costs.add(this.#id, d.costs.costOf(this.#tracks));
      ffmpeg = await this.#startFfmpeg(listPath, progressPath);
      const ffmpegMs = Date.now() - t0 - tapMs;
      this.#uploader = new SegmentUploader({
        recordingId: this.#id,
        run: this.#run,
        dir: this.#dir,
        listPath,
        storage: d.storage,
        store: d.store,
        metrics: d.metrics,
        logger: this.#log,
      });
      this.#uploader.start();
      this.#continuous?.start();
      // Its mp4 encoded from the continuous file as it grows (transcode/liveMp4.ts), when wanted.
      if (this.#continuous && this.#first)
        this.#liveMp4 = d.liveMp4?.start(this.#id, this.#planContinuous()!.path, this.#tracks, this.#log) ?? undefined;
      await this.#connectTap();
      this.#listeningAt = Date.now();
      // After connecting, not before: every millisecond before it is media lost in a takeover.
      await recordRunTracks(d.store, this.#id, this.#run, this.#tracks);
      this.#log.info(
        {
          ports: this.#announced.map((p) => p.rtpPort),
          host: d.settings.host,
          sfu: this.#sfu,
          tapMs,
          ffmpegMs,
          connectedMs: Date.now() - t0,
        },
        'capture listening',
      );
      this.#firstFrameTimer = setTimeout(() => {
        if (!this.#sawFirstFrame) this.#stop.resolve('no_media');
      }, d.settings.firstFrameTimeoutMs);
      this.#watchRun(ffmpeg, progressPath);
      await this.#job.updateProgress({ phase: 'listening', run: this.#run, attempt: this.#attempt }).catch(() => {});

      const running = ffmpeg;
      const reason = await Promise.race([
        this.#stop.promise,
        // ffmpeg ends by itself only when its input timed out (no packet for mediaTimeoutS) or it failed.
        running.exited.then((e): CaptureEndReason =>
          e.stderrTail.some((l) => MEDIA_TIMEOUT_RE.test(l)) ? 'media_timeout' : 'ffmpeg_exited',
        ),
      ]);
      // From here on "Input #0" means nothing: ffmpeg interrupted mid-probe prints it too.
      this.#ending = true;
      this.#continuous?.hold();
      const stopAt = new Date();
      const stopT0 = performance.now();
      let continued = false;
      if ((reason === 'recorder_shutdown' || reason === 'publisher_rejoined') && this.#sawFirstFrame) {
        // Rolling deploy, or someone joined or left the room: queue the next run first and keep
        // recording until the SFU has fed it (it closes our tap then), so the handover loses
        // (almost) nothing for those who stay.
        continued = await this.#handOnIfNeeded(reason);
        if (continued) await this.#waitTapReplaced(d.settings.handoverWaitMs ?? HANDOVER_WAIT_MS);
      } else if (CONTINUES.has(reason)) {
        // The next run starts while this one's ffmpeg is being stopped.
        continued = await this.#handOnIfNeeded(reason);
      }
      let exit: FfmpegExit;
      if (running.running) {
        const t0 = performance.now();
        exit = reason === 'ffmpeg_stuck' ? await running.stop({ killAfterMs: 0 }) : await this.#stopFfmpeg(running);
        d.metrics.ffmpegStopSeconds.observe((performance.now() - t0) / 1000);
      } else {
        exit = await running.exited;
      }
      await forgetPid(this.#dir, this.#run);
      this.#endWatching();
      this.#releasePorts();
      void this.#closeTap();
      // Hand on first, upload after: the next run starts while this one's last segments go up.
      if (!continued) continued = await this.#handOnIfNeeded(reason);
      // A run's continuous file is stored when its ffmpeg closed it (not killed) after media.
      const finalizing = !continued && reason !== 'recording_gone' && this.#sawFirstFrame;
      const closed = !exit.killed && exit.signal === null && exit.error === null;
      const ffmpegDoneMs = Math.round(performance.now() - stopT0);
      // The continuous file first: once the run files cover the recording, the segments still
      // queued for upload are not needed (they are the crash-safe copy) and are skipped, so a
      // backlog never delays `ready`. Otherwise every segment is uploaded for finalize to join.
      // A pause is not the end: the run parks in the shared upload for the runs after the resume.
      const stored = await this.#finishContinuous({
        media: this.#sawFirstFrame && reason !== 'recording_gone',
        closed,
        endsRecording: finalizing && reason !== 'paused',
      });
      // Before `ready` (below): from here the mp4 job waits for the live mp4 (first run only).
      const mine = stored?.runFiles.find((f) => f.output === 'raw' && f.run === this.#run);
      const isRaw = mine !== undefined && mine.key === recordingKeys.output(this.#id, mine.file);
      if (isRaw && finalizing && this.#first) await this.#liveMp4?.sourceComplete();
      else await this.#liveMp4?.drop('run_not_raw');
      const covered =
        stored !== null && finalizing && !this.#looseLocalOnly && runFilesCovering(stored, await localRunsIn(this.#dir)) !== null;
      const { uploaded, failed, skipped } = covered
        ? await this.#uploader.drop().then((r) => ({ uploaded: r.uploaded, failed: 0, skipped: r.skipped }))
        : await this.#uploader.finish().then((r) => ({ ...r, skipped: 0 }));
      const uploadsDoneMs = Math.round(performance.now() - stopT0);
      await this.#firstFrameSaved;
      this.#log.info(
        {
          reason,
          // The stop path, ms from the stop: ffmpeg closed its files, then uploads done.
          ffmpegDoneMs,
          uploadsDoneMs,
          exit: { code: exit.code, signal: exit.signal, killed: exit.killed },
          uploaded,
          failed,
          skipped,
          continued,
          longestUndrainedMs: this.#stall?.longestUndrainedMs,
          rtp: this.#rtpLoss.totals,
        },
        'capture run ended',
      );
      if (continued) return this.#ended('continued', reason, uploaded + failed);
      if (reason === 'paused') {
        await endPausedRun(d, this.#id, this.#attempt, this.#run, this.#log);
        return this.#ended('paused', reason, uploaded + failed);
      }
      return await this.#conclude(reason, exit, stopAt, uploaded + failed);
    } catch (err) {
      // Our own failure (ports, ffmpeg would not start, Redis/storage errors) or the tap gone
      // before it connected. A run that could not start is retried as a new run (with backoff)
      // while the recording is live, within a bound; anything else, or past the bound, finalizes
      // what is stored or fails the recording clearly rather than leave it `starting` forever.
      this.#endWatching();
      if (ffmpeg?.running) await this.#stopFfmpeg(ffmpeg);
      await forgetPid(this.#dir, this.#run).catch(() => {});
      this.#releasePorts();
      void this.#closeTap();
      if (this.#uploader) await this.#uploader.finish().catch(() => ({ uploaded: 0, failed: 0 }));
      await this.#dropContinuous();
      await this.#liveMp4?.drop('run_not_raw');
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof TapError && (err.code === 'stale_run' || err.code === 'not_live')) {
        // Replaced by a newer run, or the recording ended meanwhile: nothing of ours to fail.
        this.#log.info({ err: message }, 'the recording moved on while this run started');
        await d.runs.release(this.#id, this.#attempt).catch(() => {});
        return this.#ended('skipped', 'recording_gone', 0);
      }
      if (err instanceof RunStartError && !this.#signal.aborted && (await this.#retryAsNewRun(err))) {
        await this.#removeRunFiles().catch(() => {});
        return this.#ended('continued', 'start_failed', 0);
      }
      const code: FailureCode =
        this.#signal.aborted && !this.#sawFirstFrame
          ? 'recorder_shutdown'
          : err instanceof RunStartError && err.kind === 'tap'
            ? 'tap_failed'
            : 'capture_failed';
      this.#log.error({ err, code }, 'capture run failed');
      d.metrics.captureFailures.inc({ code });
      await finalizeOrFail(d, this.#id, code, `capture failed: ${message}`, this.#log).catch(() => {});
      await d.runs.release(this.#id, this.#attempt).catch(() => {});
      await publish(d, this.#id, { type: 'capture-ended', recordingId: this.#id, firstSegment: this.#run, reason: 'capture_failed' }).catch(
        () => {},
      );
      throw err;
    }
  }

  /**
   * Tells the SFU where ffmpeg listens. A tap gone by now (the publisher left, a producer closed,
   * the SFU dropped it) is a RunStartError('tap'): the recording asks for a new tap as a new run.
   */
  async #connectTap(): Promise<void> {
    const d = this.#d;
    try {
      await d.tap.connect(this.#sfu, this.#id, this.#attempt, {
        host: d.settings.host,
        tracks: this.#tracks.map((t, i) => ({
          trackId: t.trackId,
          rtpPort: this.#announced[i]!.rtpPort,
          rtcpPort: this.#announced[i]!.rtcpPort,
        })),
      });
    } catch (err) {
      if (err instanceof TapError && (err.code === 'stale_run' || err.code === 'not_live')) throw err;
      throw new RunStartError('tap', `the run's tap could not be connected: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Continues the recording as a new run after this one failed to start, after a backoff, while
   * the recording is live and the failures in a row have lasted less than their bound (the
   * rejoin grace for a lost tap, RECORDER_START_RETRY_SECONDS for ffmpeg). False: give up.
   */
  async #retryAsNewRun(err: RunStartError): Promise<boolean> {
    const d = this.#d;
    const since = this.#retry?.since ?? this.#startedAt;
    const tries = (this.#retry?.tries ?? 0) + 1;
    const boundMs = (err.kind === 'tap' ? d.settings.rejoinGraceS : (d.settings.startRetryS ?? 60)) * 1000;
    const failingMs = Date.now() - since;
    if (failingMs >= boundMs) {
      this.#log.error({ err: err.message, tries, failingMs, boundMs }, 'capture runs kept failing to start; giving up');
      return false;
    }
    const rec = await d.store.get(this.#id).catch(() => null);
    if (!rec || (rec.status !== 'starting' && rec.status !== 'active')) return false;
    const delayMs = Math.min(startRetryDelayMs(tries), Math.max(0, boundMs - failingMs));
    const cause = err.kind === 'tap' ? 'tap_lost' : 'start_failed';
    const ok = await continueAsNewRun(d, this.#data, this.#attempt, cause, {
      retry: { since, tries, error: err.message.slice(0, 500) },
      delayMs,
    }).catch((e: unknown) => {
      this.#log.error({ err: e }, 'could not queue the next run');
      return false;
    });
    if (!ok) {
      const claim = await d.runs.claim(this.#id).catch(() => null);
      return claim !== null && claim.attempt > this.#attempt;
    }
    d.metrics.runRestarts.inc({ cause });
    this.#log.warn({ err: err.message, tries, delayMs, nextAttempt: this.#attempt + 1 }, 'run failed to start; continuing as a new run');
    return true;
  }

  /**
   * Asks the room's SFU for this run's tap, retrying while the publisher is away or the SFU is
   * restarting, up to the rejoin grace. Null when the tap is open, else why the run ends.
   */
  async #openTap(): Promise<CaptureEndReason | null> {
    const d = this.#d;
    const until = Date.now() + d.settings.rejoinGraceS * 1000;
    let last: unknown;
    for (;;) {
      const stopped = await Promise.race([this.#stop.promise, Promise.resolve(null)]);
      if (stopped) return stopped;
      try {
        this.#sfu = await d.tap.ownerOf(this.#data.room);
        const tap = await d.tap.open(this.#sfu, this.#id, this.#attempt, {
          room: this.#data.room,
          recorderId: d.recorderId,
          firstSegment: this.#run,
        });
        this.#tracks = tap.tracks;
        this.#sources = tap.sources ?? [];
        this.#tapOpen = true;
        return null;
      } catch (err) {
        if (!(err instanceof TapError)) throw err;
        if (err.code === 'stale_run') return 'recording_gone';
        if (err.code === 'not_live') return 'recording_gone';
        if (!err.retry) throw err;
        if (last === undefined) this.#log.info({ err: err.message }, 'no media to tap yet; waiting for the publisher');
        last = err;
      }
      if (Date.now() >= until) {
        this.#log.warn(
          { graceSeconds: d.settings.rejoinGraceS, err: last instanceof Error ? last.message : last },
          'publisher did not come back',
        );
        return 'publisher_gone';
      }
      await Promise.race([this.#stop.promise, new Promise((r) => setTimeout(r, 250))]);
    }
  }

  /** The run ended before it had a tap: finalize what is stored, or fail. */
  async #endBeforeMedia(reason: CaptureEndReason): Promise<CaptureResult> {
    const d = this.#d;
    this.#endWatching();
    if (reason === 'recording_gone') {
      await d.runs.release(this.#id, this.#attempt);
      return this.#ended('skipped', reason, 0);
    }
    if (reason === 'paused') {
      await endPausedRun(d, this.#id, this.#attempt, this.#run, this.#log);
      return this.#ended('paused', reason, 0);
    }
    if (reason === 'recorder_shutdown' && (await this.#handOnIfNeeded(reason))) return this.#ended('continued', reason, 0);
    const outcome = await finalizeOrFail(
      d,
      this.#id,
      reason === 'recorder_shutdown' ? 'recorder_shutdown' : 'no_media',
      reason === 'recorder_shutdown'
        ? 'the recorder shut down before any media arrived'
        : 'no media to record: the publisher left and did not come back',
      this.#log,
    );
    await d.runs.release(this.#id, this.#attempt);
    await publish(d, this.#id, { type: 'capture-ended', recordingId: this.#id, firstSegment: this.#run, reason });
    return this.#ended(outcome, reason, 0);
  }

  #ended(outcome: CaptureResult['outcome'], reason: CaptureResult['reason'], segments: number): CaptureResult {
    return { outcome, reason, run: this.#run, segments };
  }

  /** Continues the recording as a new run when `reason` calls for it. True when handed on. */
  async #handOnIfNeeded(reason: CaptureEndReason): Promise<boolean> {
    const d = this.#d;
    // ffmpeg failing before any frame would fail again: only a run that recorded continues.
    const failedEarly = !this.#sawFirstFrame && (reason === 'ffmpeg_exited' || reason === 'ffmpeg_stuck');
    let cause: string | null = CONTINUES.has(reason) && !failedEarly ? reason : null;
    if (reason === 'recorder_shutdown') {
      // A rolling deploy: another live recorder takes over; the last one finalizes.
      const others = (await d.runs.liveRecorders().catch(() => [])).filter((r) => r !== d.recorderId);
      if (others.length > 0) cause = 'handover';
    }
    if (!cause) return false;
    const rec = await d.store.get(this.#id).catch(() => null);
    if (!rec || (rec.status !== 'starting' && rec.status !== 'active')) return false;
    const ok = await continueAsNewRun(d, this.#data, this.#attempt, cause).catch((err: unknown) => {
      this.#log.error({ err }, 'could not queue the next run');
      return false;
    });
    if (ok) {
      d.metrics.runRestarts.inc({ cause });
      this.#log.info({ cause, nextAttempt: this.#attempt + 1 }, 'recording continues as a new run');
      return true;
    }
    // Someone else already moved the recording on (a takeover while we were presumed dead).
    const claim = await d.runs.claim(this.#id).catch(() => null);
    return claim !== null && claim.attempt > this.#attempt;
  }

  /** Waits until the SFU closed this run's tap (a newer run is fed), up to `ms`. */
  async #waitTapReplaced(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      try {
        await this.#d.tap.status(this.#sfu, this.#id, this.#attempt);
      } catch (err) {
        if (err instanceof TapError && err.code === 'tap_not_found') {
          this.#tapOpen = false;
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.#log.warn({ waitedMs: ms }, 'the next run did not take over in time; ending this run anyway');
  }

  async #closeTap(): Promise<void> {
    if (!this.#tapOpen) return;
    this.#tapOpen = false;
    await this.#d.tap.close(this.#sfu, this.#id, this.#attempt).catch(() => {});
  }

  /** Subscribes to the channel, polls the status and watches the abort signal; any of them resolves #stop. */
  async #watchForStop(): Promise<void> {
    const d = this.#d;
    const onAbort = (): void => this.#stop.resolve('recorder_shutdown');
    if (this.#signal.aborted) onAbort();
    else this.#signal.addEventListener('abort', onAbort, { once: true });
    this.#unsubscribe = await d.hub.subscribe(d.keys.recordingChannel(this.#id), (raw) => {
      const m = decodeMessage(raw);
      if (m?.type === 'stop' && m.recordingId === this.#id) this.#stop.resolve('stopped');
      if (m?.type === 'pause' && m.recordingId === this.#id) this.#stop.resolve('paused');
      if (m?.type === 'restart-run' && m.recordingId === this.#id && this.#tapOpen) this.#stop.resolve('publisher_rejoined');
    });
    const poll = async (): Promise<void> => {
      try {
        const rec = await d.store.get(this.#id);
        if (!rec || !isLive(rec.status)) this.#stop.resolve('recording_gone');
        else if (rec.status === 'stopping') this.#stop.resolve('stopped');
        else if (rec.status === 'paused') this.#stop.resolve('paused');
        const claim = await d.runs.claim(this.#id);
        if (claim && claim.attempt > this.#attempt) this.#stop.resolve('recording_gone'); // replaced (we were presumed dead)
      } catch (err) {
        this.#log.debug({ err }, 'status poll failed');
      }
    };
    this.#pollTimer = setInterval(() => void poll(), d.settings.statusPollMs ?? 1000);
  }

  /**
   * While the run records: ffmpeg stalled (packets wait unread in its sockets, see
   * ffmpeg/stall.ts; or, where that cannot be seen, its progress file stops growing) → new run;
   * the tap gone (SFU restarted, or it closed our tap) → new run; a keyframe asked for before
   * each segment boundary.
   */
  #watchRun(ff: FfmpegProcess, progressPath: string): void {
    const d = this.#d;
    const stall = new StallDetector({
      ports: this.#ports.flatMap((p) => [p.rtpPort, p.rtcpPort]),
      stuckMs: d.settings.stuckMs,
      pid: ff.pid,
      // An IPv4 address: its sockets are all in /proc/net/udp (one table walk per sample, not two).
      ...(/^\d+\.\d+\.\d+\.\d+$/.test(d.settings.host) ? { tables: ['net/udp'] as const } : {}),
      onStuck: (undrainedMs) => {
        if (this.#ending || !ff.running) return;
        this.#log.warn({ undrainedMs }, 'ffmpeg stopped reading its input; restarting the run');
        this.#stop.resolve('ffmpeg_stuck');
      },
    });
    this.#stall = stall;
    // The progress file is the fallback: slower (ffmpeg reports every half second).
    const progress = new ProgressWatch({ stuckMs: Math.max(3 * d.settings.stuckMs, 1500), now: Date.now() });
    let tapMisses = 0;
    let lastTapCheck = 0;
    let checking = false;
    /** No progress for a while (ProgressWatch.quiet): checks at 4 Hz. */
    let quiet = false;
    const check = async (): Promise<void> => {
      if (checking || this.#ending) return;
      checking = true;
      try {
        const size = await stat(progressPath).then(
          (s) => s.size,
          () => 0,
        );
        // ffmpeg reports progress only once its probe found a frame: stalls count from then on.
        // ffmpeg's queues are watched from its first frame on (before, it is probing).
        if (this.#sawFirstFrame && stall.available && !this.#stallStarted) {
          this.#stallStarted = true;
          stall.start();
        }
        const now = Date.now();
        if (!this.#sawFirstFrame) progress.probing(now);
        else progress.size(size, now);
        const stalledMs = progress.stuck(now);
        if (ff.running && stalledMs !== null) {
          this.#log.warn({ stalledMs }, 'ffmpeg stopped making progress; restarting the run');
          this.#stop.resolve('ffmpeg_stuck');
        }
        // The tap's status: is it still there (an SFU restart, a closed tap) and how much it sent
        // (the progress fallback's witness). Every 2 s while the socket queues tell stalls
        // and ffmpeg makes progress (a lost tap only waits for a publisher or an SFU coming back,
        // seconds either way); every 0.5 s where the progress fallback is the only detector;
        // every check once progress went quiet (the witness must postdate the last progress).
        // It was the recorder's largest per-capture cost at 0.5 s (bench/record.mjs, CPU profile).
        quiet = this.#sawFirstFrame && progress.quiet(now);
        const tapCheckMs = quiet ? 0 : this.#stallStarted ? 2000 : 500;
        if (Date.now() - lastTapCheck >= tapCheckMs) {
          lastTapCheck = Date.now();
          try {
            progress.sent((await d.tap.status(this.#sfu, this.#id, this.#attempt)).bytesSent);
            tapMisses = 0;
          } catch (err) {
            // One miss can be a slow answer; two in a row (or a clear "no such tap") is a lost tap.
            tapMisses += err instanceof TapError && err.code === 'tap_not_found' ? 2 : 1;
            if (tapMisses >= 2) {
              this.#log.warn({ err: err instanceof Error ? err.message : err }, 'tap lost; continuing as a new run');
              this.#stop.resolve('tap_lost');
            }
          }
        }
      } finally {
        checking = false;
      }
    };
    // 4 Hz while the progress file is the only witness or has gone quiet; 1 Hz while ffmpeg
    // makes progress and the socket queues are watched (the faster detector, ffmpeg/stall.ts):
    // a stat less three times a second per capture (bench/record.mjs).
    const tick = (): void => {
      void check();
      this.#watchTimer = setTimeout(tick, this.#stallStarted && !quiet ? 1000 : 250);
    };
    this.#watchTimer = setTimeout(tick, 250);
  }

  /** Asks for a keyframe shortly before every segment boundary of this run's timeline. */
  #scheduleKeyframes(firstFrameAt: number): void {
    const d = this.#d;
    const segMs = d.settings.segmentSeconds * 1000;
    const tick = (): void => {
      if (this.#ending) return;
      d.metrics.keyframeRequests.inc();
      void d.tap.keyframe(this.#sfu, this.#id, this.#attempt).catch(() => {});
      const elapsed = Date.now() - firstFrameAt;
      const next = segMs - (elapsed % segMs) - 150;
      this.#keyframeTimer = setTimeout(tick, next > 100 ? next : next + segMs);
    };
    this.#keyframeTimer = setTimeout(tick, Math.max(100, segMs - 150));
  }

  #endWatching(): void {
    clearInterval(this.#pollTimer);
    clearTimeout(this.#watchTimer);
    this.#stall?.stop();
    clearTimeout(this.#firstFrameTimer);
    clearTimeout(this.#keyframeTimer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /**
   * Allocates ports and starts ffmpeg until it holds them. ffmpeg that exits at once (another
   * process won a port) is tried again with other ports, 3 tries; ffmpeg still starting after
   * RECORDER_BIND_TIMEOUT_MS (a loaded host) is not: starting another would only add load. Any
   * failure is a RunStartError('ffmpeg'), which continues the recording as a new run.
   */
  async #startFfmpeg(listPath: string, progressPath: string): Promise<FfmpegProcess> {
    try {
      return await this.#tryStartFfmpeg(listPath, progressPath);
    } catch (err) {
      if (this.#signal.aborted) throw err;
      throw new RunStartError('ffmpeg', err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  async #tryStartFfmpeg(listPath: string, progressPath: string): Promise<FfmpegProcess> {
    const d = this.#d;
    const sdpPath = join(this.#dir, `run-${this.#run}.sdp`);
    const bindTimeoutMs = d.settings.bindTimeoutMs ?? 15_000;
    let lastErr: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.#ports = await d.ports.allocate(this.#tracks.length);
      const sdp = buildCaptureSdp({
        host: d.settings.host,
        sessionName: `live-webrtc ${this.#id} run ${this.#run}`,
        tracks: this.#tracks.map((t, i) => ({ kind: t.kind, codec: t.codec, rtpPort: this.#ports[i]!.rtpPort })),
        sources: acceptedSenders(this.#sources, d.settings.host),
      });
      // A file, not stdin: ffmpeg may exit before reading a pipe (EPIPE) and a file is
      // there to look at afterwards.
      await writeFile(sdpPath, sdp);
      await rm(listPath, { force: true }); // a list left by an earlier try would be re-read
      await rm(progressPath, { force: true });
      const continuous = this.#planContinuous();
      if (continuous) await rm(continuous.path, { force: true });
      const offsetMs = await this.#placeContinuous();
      const rawKey = continuous ? recordingKeys.output(this.#id, continuous.file) : null;
      // Asked for while ffmpeg binds its ports, so it costs the start nothing.
      if (continuous && rawKey && offsetMs !== null)
        this.#slot ??= joinRawUpload(d, this.#id, rawKey, continuous.contentType, this.#run).catch((err: unknown) => {
          this.#log.warn({ err }, "could not join the raw output's shared upload; this run uploads its own file");
          return null;
        });
      const ff = runFfmpeg(
        captureArgs({
          sdpPath,
          localAddress: d.settings.host,
          dir: this.#dir,
          segmentListPath: listPath,
          segmentSeconds: d.settings.segmentSeconds,
          firstSegment: this.#run,
          probeMs: d.settings.firstFrameTimeoutMs,
          mediaTimeoutS: d.settings.mediaTimeoutS,
          progressPath,
          ...(continuous && offsetMs !== null
            ? { continuous: { path: continuous.path, format: continuous.format, offsetS: offsetMs / 1000 } }
            : {}),
        }),
        { ffmpegPath: d.settings.ffmpegPath, logger: this.#log, onLine: (line) => this.#onLine(line) },
      );
      const exitedEarly = new AbortController();
      void ff.exited.then((e) =>
        exitedEarly.abort(new Error(`ffmpeg exited (${e.error ?? e.code ?? e.signal}): ${e.stderrTail.slice(-3).join(' | ')}`)),
      );
      try {
        const ports = this.#ports.flatMap((p) => [p.rtpPort, p.rtcpPort]);
        const t0 = Date.now();
        await waitUntilBound(ports, { timeoutMs: bindTimeoutMs, signal: AbortSignal.any([exitedEarly.signal, this.#signal]) });
        d.metrics.ffmpegBindSeconds.observe((Date.now() - t0) / 1000);
        // A recorder killed with its children gone astray: the next start ends this pid.
        if (ff.pid !== undefined) await rememberPid(this.#dir, this.#run, ff.pid, d.recorderId);
        await this.#startRelays();
        if (continuous && rawKey && offsetMs !== null) {
          this.#continuousOffsetMs = offsetMs;
          const shared = (await this.#slot) ?? null;
          this.#continuous = new ContinuousFile({
            path: continuous.path,
            key: shared || this.#first ? rawKey : recordingKeys.runFile(this.#id, this.#run, continuous.format === 'webm' ? 'webm' : 'mkv'),
            shared,
            contentType: continuous.contentType,
            storage: d.storage,
            metrics: d.metrics,
            logger: this.#log,
          });
        }
        return ff;
      } catch (err) {
        lastErr = err;
        const exited = exitedEarly.signal.aborted;
        this.#log.warn({ err, attempt, exited }, 'ffmpeg did not bind its ports');
        await ff.stop({ killAfterMs: 1000 });
        this.#releasePorts();
        if (this.#signal.aborted || !exited) break;
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  /**
   * Where this run's continuous file starts on the recording's timeline, ms, taken just before
   * its ffmpeg starts: 0 for the first run (which notes the time), else the distance from the
   * first run's start with the paused spans cut out. Both are ffmpeg start times, so the delay
   * to the first packet cancels out. Null when there is nothing to place it against.
   */
  async #placeContinuous(): Promise<number | null> {
    const now = Date.now();
    if (this.#first) {
      await this.#d.store.update(this.#id, (r) => ({ ...r, timelineAt: now }));
      return 0;
    }
    const rec = await this.#d.store.get(this.#id);
    if (rec?.timelineAt == null) return null;
    return Math.max(0, withoutPauses(now, rec.pauses) - rec.timelineAt);
  }

  /** Where and how this run writes its continuous file. */
  #planContinuous(): { path: string; format: 'webm' | 'matroska'; file: string; contentType: string } | null {
    const c = rawContainerFor(this.#tracks.map((t) => codecName(t.codec.mimeType)));
    return { ...c, path: join(this.#dir, `run-${this.#run}.continuous.${c.format === 'webm' ? 'webm' : 'mkv'}`) };
  }

  /**
   * Completes the continuous file when it holds media and ffmpeg closed it, stores its layout
   * and lists both in the manifest; else drops it (finalize joins segments). In the raw output's
   * shared upload it completes it only when it `endsRecording` alone; otherwise, or when ffmpeg
   * did not close it (salvaged), it parks. The recording as updated, or null when nothing was
   * stored.
   */
  async #finishContinuous(o: { media: boolean; closed: boolean; endsRecording: boolean }): Promise<Recording | null> {
    const { endsRecording } = o;
    const c = this.#continuous;
    if (!c) return null;
    // A file ffmpeg did not close (killed, crashed) is kept only in a shared upload, salvaged:
    // most of it is there already, and finalize writes a new head for it anyway.
    if (!o.media || (!o.closed && !c.shared)) {
      await this.#dropContinuous();
      return null;
    }
    const d = this.#d;
    const plan = this.#planContinuous()!;
    // Read before completing: local storage moves the file into place.
    const layout = await readRunLayout(plan.path, { salvage: !o.closed }).catch((err: unknown) => {
      this.#log.warn({ err }, "could not read the continuous file's layout; it cannot be joined with other runs");
      return null;
    });
    if (!o.closed) {
      this.#log.info(
        { clusters: layout?.clusters.length, durationMs: layout?.durationMs },
        'ffmpeg did not close its continuous file: parking what it wrote whole',
      );
      return this.#parkContinuous(c, plan, layout, !endsRecording);
    }
    // In the shared upload with other runs (or more to come): park; finalize completes it.
    const parks = c.shared !== null && !(endsRecording && (await aloneInRawUpload(d, this.#id, this.#run).catch(() => false)));
    // Ending the recording, it completes the upload itself right after: no need to store its loose bytes.
    if (parks) return this.#parkContinuous(c, plan, layout, !endsRecording);
    const done = await c.complete();
    if (!done) {
      await this.#leaveRawUpload(c);
      return null;
    }
    let layoutKey: string | null = null;
    if (layout) {
      const key = recordingKeys.runLayout(this.#id, this.#run);
      await d.storage
        .putBytes(key, JSON.stringify(layout), 'application/json')
        .then(() => (layoutKey = key))
        .catch((err: unknown) => this.#log.warn({ err }, "could not store the continuous file's layout"));
    }
    const rec = await this.#listRunFile(plan, { key: done.key, size: done.size, durationMs: done.durationMs, layout: layoutKey });
    this.#log.info(
      {
        size: done.size,
        durationMs: done.durationMs,
        offsetMs: this.#continuousOffsetMs,
        bytesAtEnd: done.bytesAtEnd,
        completeMs: Math.round(done.completeMs),
        clusters: layout?.clusters.length,
      },
      'continuous file completed',
    );
    return rec;
  }

  /**
   * Leaves the run's parts in the shared upload and lists the run with its loose bytes and its
   * layout (which says where the parts are): finalize completes the upload from every run's.
   */
  async #parkContinuous(
    c: ContinuousFile,
    plan: { file: string; contentType: string },
    layout: RunLayout | null,
    store: boolean,
  ): Promise<Recording | null> {
    if (!layout) {
      await this.#dropContinuous();
      return null;
    }
    const parked = await c.park({
      clustersStart: layout.clusters[0]![0],
      clustersEnd: layout.clustersEnd,
      looseKey: recordingKeys.runFile(this.#id, this.#run, 'loose'),
      localCopy: join(this.#dir, looseFileName(this.#run)),
      store,
    });
    this.#looseLocalOnly = parked !== null && !store;
    const layoutKey = recordingKeys.runLayout(this.#id, this.#run);
    const stored =
      parked !== null &&
      (await retry(() => this.#d.storage.putBytes(layoutKey, JSON.stringify({ ...layout, parked }), 'application/json'), { attempts: 4 })
        .then(() => true)
        .catch((err: unknown) => {
          this.#log.warn({ err }, "could not store the parked file's layout; finalize will join segments");
          return false;
        }));
    if (!stored) {
      await this.#leaveRawUpload(c);
      return null;
    }
    return this.#listRunFile(plan, {
      key: parked.looseKey,
      size: layout.size,
      durationMs: Math.round(layout.durationMs),
      layout: layoutKey,
    });
  }

  /** Lists this run's continuous file in the manifest's `runFiles` (replacing an earlier entry). */
  #listRunFile(
    plan: { file: string; contentType: string },
    f: Pick<RunFile, 'key' | 'size' | 'durationMs' | 'layout'>,
  ): Promise<Recording> {
    return this.#d.store.update(this.#id, (r) => ({
      ...r,
      runFiles: [
        ...r.runFiles.filter((x) => !(x.output === 'raw' && x.run === this.#run)),
        {
          output: 'raw',
          run: this.#run,
          offsetMs: this.#continuousOffsetMs ?? 0,
          file: plan.file,
          contentType: plan.contentType,
          ...f,
        },
      ],
    }));
  }

  /** Drops the continuous file; a run in the shared upload leaves it (its parts are not used). */
  async #dropContinuous(): Promise<void> {
    const c = this.#continuous;
    if (!c) return;
    await c.abort();
    await this.#leaveRawUpload(c);
  }

  /** A run whose file is not used leaves the shared upload: it does not count as another run. */
  async #leaveRawUpload(c: ContinuousFile): Promise<void> {
    if (c.shared) await leaveRawUpload(this.#d, this.#id, this.#run).catch(() => {});
  }

  /**
   * Puts a relay in front of ffmpeg for tracks it cannot read as the SFU sends them (VP9: see
   * rtp/vp9.ts); the SFU is told the relay's ports. Other tracks go to ffmpeg directly.
   * Relays accept packets from the SFU's address only.
   */
  async #startRelays(): Promise<void> {
    const d = this.#d;
    this.#announced = [...this.#ports];
    for (const [i, t] of this.#tracks.entries()) {
      if (codecName(t.codec.mimeType) !== 'vp9') continue;
      const [listen] = await d.ports.allocate(1);
      this.#relayPorts.push(listen!);
      const pt = t.codec.payloadType;
      this.#relays.push(
        await RtpRelay.start({
          host: d.settings.host,
          listen: listen!,
          target: this.#ports[i]!,
          rewrite: (m) => toFfmpegVp9Packet(m, pt),
          ...relaySource(this.#sources, t.trackId),
        }),
      );
      this.#announced[i] = listen!;
    }
  }

  /** Closes the relays and returns every port pair of this run. Safe to call twice. */
  #releasePorts(): void {
    for (const r of this.#relays.splice(0)) r.close();
    this.#d.ports.release([...this.#ports, ...this.#relayPorts]);
    this.#ports = [];
    this.#relayPorts = [];
  }

  /**
   * Ends ffmpeg so that its last segment is finalized: an RTCP BYE per stream ends its input
   * (works when no packet is flowing, where a signal alone would wait for one), then, if it
   * is still running after a second, one SIGINT, then SIGKILL after stopTimeoutMs.
   */
  async #stopFfmpeg(ff: FfmpegProcess): Promise<FfmpegExit> {
    const d = this.#d;
    await sendRtcpBye(
      d.settings.host,
      this.#ports.map((p) => p.rtcpPort),
    ).catch((err: unknown) => this.#log.warn({ err }, 'could not send RTCP BYE to ffmpeg; falling back to SIGINT'));
    return ff.stop({ graceMs: 1000, killAfterMs: d.settings.stopTimeoutMs ?? 5000 });
  }

  #onLine(line: string): void {
    if (this.#rtpLoss.count(line)) return;
    // ffmpeg prints "Input #0" also when its probe gave up (after this warning): that is no frame.
    if (!this.#sawFirstFrame && NO_KEYFRAME_RE.test(line)) this.#probeFailed = true;
    if (this.#sawFirstFrame || this.#ending || this.#probeFailed || !line.startsWith('Input #0')) return;
    this.#sawFirstFrame = true;
    clearTimeout(this.#firstFrameTimer);
    const at = new Date();
    // The run's timeline starts at its first packet, about when the probe began.
    this.#uploader?.setRunAt(this.#listeningAt > 0 ? Math.min(at.getTime(), this.#listeningAt + 50) : at.getTime());
    this.#scheduleKeyframes(at.getTime());
    if (this.#listeningAt > 0) this.#d.metrics.firstFrameSeconds.observe((at.getTime() - this.#listeningAt) / 1000);
    this.#log.info({ afterListeningMs: this.#listeningAt > 0 ? at.getTime() - this.#listeningAt : null }, 'first decodable frame');
    this.#firstFrameSaved = this.#saveFirstFrame(at).catch((err: unknown) => this.#log.error({ err }, 'could not record the first frame'));
  }

  async #saveFirstFrame(at: Date): Promise<void> {
    const d = this.#d;
    // Tell the SFU first: it keeps requesting keyframes until it hears this.
    await publish(d, this.#id, { type: 'first-frame', recordingId: this.#id, firstSegment: this.#run });
    const rec = await d.lifecycle.markActive(this.#id, at);
    // A start request waiting for the first frame reads the status once, on this.
    if (rec.status === 'active') await publish(d, this.#id, { type: 'active', recordingId: this.#id, firstSegment: this.#run });
  }

  async #conclude(reason: CaptureEndReason, exit: FfmpegExit, stopAt: Date, segments: number): Promise<CaptureResult> {
    const d = this.#d;
    const id = this.#id;
    let outcome: CaptureResult['outcome'] = 'processing';
    let endReason: CaptureEndReason = reason;
    let processing: Recording | null = null;
    if (reason === 'recording_gone') {
      outcome = 'skipped'; // failed, finished or taken over by someone else: leave it as it is
    } else if (!this.#sawFirstFrame) {
      const { code, message } = this.#noFirstFrameError(reason, exit);
      outcome = await finalizeOrFail(d, id, code, message, this.#log);
      if (outcome === 'failed') await this.#removeRunFiles();
      if (reason === 'ffmpeg_exited' || reason === 'media_timeout') endReason = 'no_media';
    } else {
      if (reason === 'media_timeout') {
        this.#log.warn({ seconds: d.settings.mediaTimeoutS }, 'no media for the media timeout; ending the recording');
      } else if (reason === 'ffmpeg_exited') {
        this.#log.error(
          { code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-5) },
          'ffmpeg exited; finalizing what it wrote',
        );
        d.metrics.captureFailures.inc({ code: 'ffmpeg_exited' });
      }
      const rec = await d.lifecycle.markProcessing(id, stopAt);
      if (rec.status === 'processing') processing = rec;
      else outcome = 'skipped';
    }
    if (outcome !== 'skipped' || reason !== 'recording_gone') await d.runs.release(id, this.#attempt);
    await publish(d, id, { type: 'capture-ended', recordingId: id, firstSegment: this.#run, reason: endReason });
    // After capture-ended, as with a finalize job: a continuous file that covers the recording
    // is the raw output already, ready now without a trip through the finalize queue. Anything
    // else is finalize's job.
    if (processing && !(await readyFromContinuousFile(d, processing, this.#log))) await enqueueFinalize(d, id);
    return this.#ended(outcome, endReason, segments);
  }

  /** After a run that recorded nothing: its SDP, list and progress go, and the directory if now empty. */
  async #removeRunFiles(): Promise<void> {
    for (const ext of ['sdp', 'csv', 'progress']) await rm(join(this.#dir, `run-${this.#run}.${ext}`), { force: true });
    await rmdir(this.#dir).catch(() => {}); // not empty: another run's segments stay
  }

  #noFirstFrameError(reason: CaptureEndReason, exit: FfmpegExit): { code: FailureCode; message: string } {
    const waited = this.#listeningAt > 0 ? Date.now() - this.#listeningAt : 0;
    switch (reason) {
      case 'no_media':
        return {
          code: 'no_media',
          message: `no decodable media reached the recorder within ${this.#d.settings.firstFrameTimeoutMs} ms of listening (no RTP, or no keyframe)`,
        };
      case 'stopped':
        return {
          code: 'no_media',
          message: `the recording was stopped ${waited} ms after the recorder was listening, before any decodable media arrived`,
        };
      case 'recorder_shutdown':
        return { code: 'recorder_shutdown', message: 'the recorder shut down before any media arrived' };
      case 'media_timeout':
        return { code: 'no_media', message: `no packet reached the recorder for ${this.#d.settings.mediaTimeoutS} s after listening` };
      case 'publisher_gone':
        return { code: 'no_media', message: 'the publisher left and did not come back' };
      default: {
        const tail = exit.stderrTail
          .filter((l) => l.trim() !== '')
          .slice(-3)
          .join(' | ');
        if (exit.stderrTail.some((l) => NO_KEYFRAME_RE.test(l))) {
          return { code: 'no_media', message: `ffmpeg gave up before a decodable frame arrived (no keyframe?): ${tail}` };
        }
        return { code: 'ffmpeg_failed', message: `ffmpeg exited (${exit.error ?? `code ${exit.code}`}) before any media arrived: ${tail}` };
      }
    }
  }
}
