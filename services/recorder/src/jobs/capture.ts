// CaptureRecording: RTP from the SFU → ffmpeg → Matroska segments uploaded while recording.
//
// The protocol with the SFU (over the recording's pub/sub channel; the store's status is the
// truth, the channel only the fast path):
//   1. bind: allocate an even RTP port (+1 for RTCP) per track, write the SDP to a file, start
//      ffmpeg, wait until /proc/net/udp shows its ports bound;
//   2. publish `listening` {host, tracks:[{trackId, rtpPort, rtcpPort}]}: the SFU connects its
//      PlainTransports, resumes its paused consumers and requests keyframes;
//   3. when ffmpeg prints "Input #0" (codec parameters found = a decodable frame arrived),
//      publish `first-frame`, record firstFrameAt and move starting → active. No first frame
//      within FIRST_FRAME_TIMEOUT_MS → ffmpeg is stopped and the recording fails (no_media);
//   4. segments are uploaded as ffmpeg completes them;
//   5. stop = a `stop` message, or the status `stopping` seen by a 1 s poll (messages can be
//      lost), or worker shutdown: one SIGINT to ffmpeg, remaining segments uploaded,
//      stopping → processing, `capture-ended`, FinalizeRecording enqueued.
// ffmpeg dying after the first frame is treated like a stop: what it wrote is kept and
// finalized (a truncated recording beats none), and the failure is logged and counted.
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeMessage,
  encodeMessage,
  isLive,
  jobIds,
  transition,
  type CaptureRecording,
  type JobHandler,
  type Logger,
  type Recording,
  type RecordingMessage,
} from '@live-webrtc/shared';
import type { Job } from 'bullmq';
import { captureArgs } from '../ffmpeg/args.js';
import { runFfmpeg, type FfmpegExit, type FfmpegProcess } from '../ffmpeg/runner.js';
import { buildCaptureSdp } from '../ffmpeg/sdp.js';
import { waitUntilBound, type PortPair } from '../ports.js';
import { sendRtcpBye } from '../rtcp.js';
import { RtpRelay } from '../rtp/relay.js';
import { toFfmpegVp9Packet } from '../rtp/vp9.js';
import { recordingWorkDir, type RecorderDeps } from './deps.js';
import { SegmentUploader } from './segments.js';

/** Why a capture ended; also the `reason` of its `capture-ended` message. */
export type CaptureEndReason = 'stopped' | 'recorder_shutdown' | 'no_media' | 'media_timeout' | 'ffmpeg_exited' | 'recording_gone';

export interface CaptureResult {
  outcome: 'processing' | 'failed' | 'skipped';
  reason: CaptureEndReason | 'not_live' | 'capture_failed';
  run: number;
  segments: number;
}

/** Lower-case codec name of a MIME type ("video/VP8" → "vp8"). */
export const codecName = (mimeType: string): string => mimeType.slice(mimeType.indexOf('/') + 1).toLowerCase();

/** First segment index a run writes: after every segment already stored (a run that takes over continues numbering). */
export const runStart = (rec: Pick<Recording, 'segments'>, firstSegment: number): number =>
  rec.segments.reduce((n, s) => Math.max(n, s.index + 1), firstSegment);

/** The CaptureRecording handler. `shutdown` aborts every capture (service close), like the job's own signal. */
export function captureHandler(d: RecorderDeps, shutdown: AbortSignal): JobHandler<'CaptureRecording'> {
  return async (data, job, signal) => {
    const log = d.logger.child({ recordingId: data.recordingId, room: data.room, jobId: job.id });
    const rec = await d.store.get(data.recordingId);
    if (!rec || !isLive(rec.status)) {
      log.info({ status: rec?.status ?? 'missing' }, 'recording is not live; nothing to capture');
      return { outcome: 'skipped', reason: 'not_live', run: data.firstSegment, segments: 0 } satisfies CaptureResult;
    }
    const run = runStart(rec, data.firstSegment);
    if (rec.status === 'stopping') {
      // Stopped before this job ran (or a run died while stopping): nothing left to capture.
      return endWithoutCapture(d, rec, run, log);
    }
    d.metrics.activeCaptures.inc();
    d.metrics.captureCapacity.dec();
    try {
      return await new Capture(d, data, run, log, AbortSignal.any([signal, shutdown]), job).run();
    } finally {
      d.metrics.activeCaptures.dec();
      d.metrics.captureCapacity.inc();
    }
  };
}

async function publish(d: RecorderDeps, id: string, m: RecordingMessage): Promise<void> {
  await d.redis.publish(d.keys.recordingChannel(id), encodeMessage(m));
}

/** starting/active/stopping → processing (via stopping), with stop time and duration; null for other statuses. */
export function toProcessing(rec: Recording, stopAt: Date, now: Date): Recording | null {
  let r = rec;
  if (r.status === 'starting' || r.status === 'active')
    r = transition(r, 'stopping', now, { stoppedAt: r.stoppedAt ?? stopAt.toISOString() });
  if (r.status !== 'stopping') return null;
  const first = r.firstFrameAt ? Date.parse(r.firstFrameAt) : null;
  return transition(r, 'processing', now, {
    stoppedAt: r.stoppedAt ?? stopAt.toISOString(),
    durationMs: first !== null ? Math.max(0, stopAt.getTime() - first) : r.durationMs,
  });
}

async function enqueueFinalize(d: RecorderDeps, id: string): Promise<void> {
  await d.queues.enqueue('FinalizeRecording', { v: 1, recordingId: id }, { jobId: jobIds.finalize(id) });
}

/** A recording already `stopping` when its capture starts: finalize what exists, or fail. */
async function endWithoutCapture(d: RecorderDeps, rec: Recording, run: number, log: Logger): Promise<CaptureResult> {
  if (rec.segments.length > 0) {
    await d.store.update(rec.id, (r) => toProcessing(r, new Date(), new Date()));
    await enqueueFinalize(d, rec.id);
    log.info({ segments: rec.segments.length }, 'recording was stopping; finalizing its stored segments');
  } else {
    await d.store.fail(rec.id, 'no_media', 'the recording was stopped before any media arrived');
    d.metrics.captureFailures.inc({ code: 'no_media' });
  }
  await publish(d, rec.id, { type: 'capture-ended', recordingId: rec.id, firstSegment: run, reason: 'stopped' });
  return { outcome: rec.segments.length > 0 ? 'processing' : 'failed', reason: 'stopped', run, segments: rec.segments.length };
}

/**
 * Salvages a recording whose capture job was lost (stalled past BullMQ's limit: its recorder
 * died twice or hung): finalize the segments stored so far, or fail it. No-op when not live.
 */
export async function salvageCapture(d: RecorderDeps, recordingId: string, firstSegment: number): Promise<void> {
  const rec = await d.store.get(recordingId);
  if (!rec || !isLive(rec.status)) return;
  if (rec.segments.length > 0) {
    await d.store.update(recordingId, (r) => toProcessing(r, new Date(), new Date()));
    await enqueueFinalize(d, recordingId);
  } else {
    await d.store.fail(recordingId, 'capture_lost', 'the capture was lost (its recorder stopped responding) before any segment was stored');
    d.metrics.captureFailures.inc({ code: 'capture_lost' });
  }
  await publish(d, recordingId, { type: 'capture-ended', recordingId, firstSegment, reason: 'capture_lost' });
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
  readonly #run: number;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  readonly #job: Job;
  readonly #id: string;
  readonly #dir: string;
  readonly #stop = deferred<CaptureEndReason>();
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
  #unsubscribe: (() => void) | undefined;

  constructor(d: RecorderDeps, data: CaptureRecording, run: number, log: Logger, signal: AbortSignal, job: Job) {
    this.#d = d;
    this.#data = data;
    this.#run = run;
    this.#log = log.child({ run });
    this.#signal = signal;
    this.#job = job;
    this.#id = data.recordingId;
    this.#dir = recordingWorkDir(d.settings, data.recordingId);
  }

  async run(): Promise<CaptureResult> {
    const d = this.#d;
    const listPath = join(this.#dir, `run-${this.#run}.csv`);
    let ffmpeg: FfmpegProcess | undefined;
    let uploader: SegmentUploader | undefined;
    try {
      await mkdir(this.#dir, { recursive: true });
      // Listen for a stop before announcing anything, so an immediate stop is not missed.
      await this.#watchForStop();
      ffmpeg = await this.#startFfmpeg(listPath);
      uploader = new SegmentUploader({
        recordingId: this.#id,
        run: this.#run,
        dir: this.#dir,
        listPath,
        storage: d.storage,
        store: d.store,
        metrics: d.metrics,
        logger: this.#log,
      });
      uploader.start();
      await d.store.update(this.#id, (r) => {
        const tracks = this.#data.tracks.map((t) => ({ kind: t.kind, codec: codecName(t.codec.mimeType), participant: t.participant }));
        return JSON.stringify(r.tracks) === JSON.stringify(tracks) ? null : { ...r, tracks };
      });
      await publish(d, this.#id, {
        type: 'listening',
        recordingId: this.#id,
        firstSegment: this.#run,
        host: d.settings.host,
        tracks: this.#data.tracks.map((t, i) => ({
          trackId: t.trackId,
          rtpPort: this.#announced[i]!.rtpPort,
          rtcpPort: this.#announced[i]!.rtcpPort,
        })),
      });
      this.#listeningAt = Date.now();
      this.#log.info({ ports: this.#announced.map((p) => p.rtpPort), host: d.settings.host }, 'capture listening');
      this.#firstFrameTimer = setTimeout(() => {
        if (!this.#sawFirstFrame) this.#stop.resolve('no_media');
      }, d.settings.firstFrameTimeoutMs);
      await this.#job.updateProgress({ phase: 'listening', run: this.#run }).catch(() => {});

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
      const stopAt = new Date();
      let exit: FfmpegExit;
      if (running.running) {
        const t0 = performance.now();
        exit = await this.#stopFfmpeg(running);
        d.metrics.ffmpegStopSeconds.observe((performance.now() - t0) / 1000);
      } else {
        exit = await running.exited;
      }
      this.#endWatching();
      this.#releasePorts();
      const { uploaded, failed } = await uploader.finish();
      await this.#firstFrameSaved;
      this.#log.info({ reason, exit: { code: exit.code, signal: exit.signal, killed: exit.killed }, uploaded, failed }, 'capture ended');
      return await this.#conclude(reason, exit, stopAt, uploaded + failed);
    } catch (err) {
      // Our own failure (ports, ffmpeg would not start, Redis/storage errors): fail the
      // recording clearly rather than leave it `starting` forever.
      this.#endWatching();
      if (ffmpeg?.running) await this.#stopFfmpeg(ffmpeg);
      this.#releasePorts();
      if (uploader) await uploader.finish().catch(() => ({ uploaded: 0, failed: 0 }));
      const message = err instanceof Error ? err.message : String(err);
      const code = this.#signal.aborted && !this.#sawFirstFrame ? 'recorder_shutdown' : 'capture_failed';
      this.#log.error({ err, code }, 'capture failed');
      d.metrics.captureFailures.inc({ code });
      await d.store.fail(this.#id, code, `capture failed: ${message}`).catch(() => {});
      await publish(d, this.#id, { type: 'capture-ended', recordingId: this.#id, firstSegment: this.#run, reason: 'capture_failed' }).catch(
        () => {},
      );
      throw err;
    }
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
    });
    const poll = async (): Promise<void> => {
      try {
        const rec = await d.store.get(this.#id);
        if (!rec || !isLive(rec.status)) this.#stop.resolve('recording_gone');
        else if (rec.status === 'stopping') this.#stop.resolve('stopped');
      } catch (err) {
        this.#log.debug({ err }, 'status poll failed');
      }
    };
    this.#pollTimer = setInterval(() => void poll(), d.settings.statusPollMs ?? 1000);
  }

  #endWatching(): void {
    clearInterval(this.#pollTimer);
    clearTimeout(this.#firstFrameTimer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Allocates ports and starts ffmpeg until it holds them (3 tries: another process may win a port). */
  async #startFfmpeg(listPath: string): Promise<FfmpegProcess> {
    const d = this.#d;
    const sdpPath = join(this.#dir, `run-${this.#run}.sdp`);
    let lastErr: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.#ports = await d.ports.allocate(this.#data.tracks.length);
      const sdp = buildCaptureSdp({
        host: d.settings.host,
        sessionName: `live-webrtc ${this.#id} run ${this.#run}`,
        tracks: this.#data.tracks.map((t, i) => ({ kind: t.kind, codec: t.codec, rtpPort: this.#ports[i]!.rtpPort })),
      });
      // A file, not stdin: ffmpeg may exit before reading a pipe (EPIPE) and a file is
      // there to look at afterwards.
      await writeFile(sdpPath, sdp);
      await rm(listPath, { force: true }); // a list left by an earlier try would be re-read
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
        }),
        { ffmpegPath: d.settings.ffmpegPath, logger: this.#log, onLine: (line) => this.#onLine(line) },
      );
      const exitedEarly = new AbortController();
      void ff.exited.then((e) =>
        exitedEarly.abort(new Error(`ffmpeg exited (${e.error ?? e.code ?? e.signal}): ${e.stderrTail.slice(-3).join(' | ')}`)),
      );
      try {
        const ports = this.#ports.flatMap((p) => [p.rtpPort, p.rtcpPort]);
        await waitUntilBound(ports, { timeoutMs: 5000, signal: AbortSignal.any([exitedEarly.signal, this.#signal]) });
        await this.#startRelays();
        return ff;
      } catch (err) {
        lastErr = err;
        this.#log.warn({ err, attempt }, 'ffmpeg did not bind its ports');
        await ff.stop({ killAfterMs: 1000 });
        this.#releasePorts();
        if (this.#signal.aborted) break;
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  /**
   * Puts a relay in front of ffmpeg for tracks it cannot read as the SFU sends them (VP9: see
   * rtp/vp9.ts); the SFU is told the relay's ports. Other tracks go to ffmpeg directly.
   */
  async #startRelays(): Promise<void> {
    const d = this.#d;
    this.#announced = [...this.#ports];
    for (const [i, t] of this.#data.tracks.entries()) {
      if (codecName(t.codec.mimeType) !== 'vp9') continue;
      const [listen] = await d.ports.allocate(1);
      this.#relayPorts.push(listen!);
      const pt = t.codec.payloadType;
      this.#relays.push(
        await RtpRelay.start({ host: d.settings.host, listen: listen!, target: this.#ports[i]!, rewrite: (m) => toFfmpegVp9Packet(m, pt) }),
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
    // ffmpeg prints "Input #0" also when its probe gave up (after this warning): that is no frame.
    if (!this.#sawFirstFrame && NO_KEYFRAME_RE.test(line)) this.#probeFailed = true;
    if (this.#sawFirstFrame || this.#ending || this.#probeFailed || !line.startsWith('Input #0')) return;
    this.#sawFirstFrame = true;
    clearTimeout(this.#firstFrameTimer);
    const at = new Date();
    if (this.#listeningAt > 0) this.#d.metrics.firstFrameSeconds.observe((at.getTime() - this.#listeningAt) / 1000);
    this.#log.info({ afterListeningMs: this.#listeningAt > 0 ? at.getTime() - this.#listeningAt : null }, 'first decodable frame');
    this.#firstFrameSaved = this.#saveFirstFrame(at).catch((err: unknown) => this.#log.error({ err }, 'could not record the first frame'));
  }

  async #saveFirstFrame(at: Date): Promise<void> {
    const d = this.#d;
    // Tell the SFU first: it keeps requesting keyframes until it hears this.
    await publish(d, this.#id, { type: 'first-frame', recordingId: this.#id, firstSegment: this.#run });
    await d.store.update(this.#id, (r) => {
      const firstFrameAt = r.firstFrameAt ?? at.toISOString(); // a takeover run keeps the first one
      if (r.status === 'starting') return transition(r, 'active', at, { firstFrameAt });
      return r.firstFrameAt ? null : { ...r, firstFrameAt };
    });
  }

  async #conclude(reason: CaptureEndReason, exit: FfmpegExit, stopAt: Date, segments: number): Promise<CaptureResult> {
    const d = this.#d;
    const id = this.#id;
    const base = { run: this.#run, segments };
    let outcome: CaptureResult['outcome'] = 'processing';
    let endReason: CaptureEndReason = reason;
    if (reason === 'recording_gone') {
      outcome = 'skipped'; // failed or finished by someone else: leave it as it is
    } else if (!this.#sawFirstFrame) {
      const { code, message } = this.#noFirstFrameError(reason, exit);
      await d.store.fail(id, code, message);
      d.metrics.captureFailures.inc({ code });
      outcome = 'failed';
      await this.#removeRunFiles();
      if (reason === 'ffmpeg_exited' || reason === 'media_timeout') endReason = 'no_media';
    } else {
      if (reason === 'media_timeout') {
        this.#log.warn({ seconds: d.settings.mediaTimeoutS }, 'no media for the media timeout; ending the recording');
      } else if (reason === 'ffmpeg_exited' && exit.stderrTail.some((l) => /received signal \d+/.test(l))) {
        // Interrupted from outside (Ctrl-C reaches the whole process group): it finalized its files.
        this.#log.warn('ffmpeg was interrupted by a signal from outside; finalizing what it wrote');
      } else if (reason === 'ffmpeg_exited') {
        this.#log.error(
          { code: exit.code, signal: exit.signal, stderr: exit.stderrTail.slice(-5) },
          'ffmpeg exited during the capture; finalizing what it wrote',
        );
        d.metrics.captureFailures.inc({ code: 'ffmpeg_exited' });
      }
      const rec = await d.store.update(id, (r) => toProcessing(r, stopAt, new Date()));
      if (rec.status === 'processing') await enqueueFinalize(d, id);
      else outcome = 'skipped';
    }
    await publish(d, id, { type: 'capture-ended', recordingId: id, firstSegment: this.#run, reason: endReason });
    return { outcome, reason: endReason, ...base };
  }

  /** After a run that recorded nothing: its SDP and list go, and the directory if now empty. */
  async #removeRunFiles(): Promise<void> {
    await rm(join(this.#dir, `run-${this.#run}.sdp`), { force: true });
    await rm(join(this.#dir, `run-${this.#run}.csv`), { force: true });
    await rmdir(this.#dir).catch(() => {}); // not empty: another run's segments stay
  }

  #noFirstFrameError(reason: CaptureEndReason, exit: FfmpegExit): { code: string; message: string } {
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
