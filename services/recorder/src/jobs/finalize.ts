// FinalizeRecording: join a stopped recording's segments into its raw output (raw.webm for
// VP8/VP9/AV1 + Opus, raw.mkv otherwise) with ffmpeg's concat demuxer and no re-encoding,
// upload it, and move processing → ready. Segments come from this machine's work directory
// when they are still there, else from storage. The work directory is deleted only after the
// output is uploaded and the manifest says `ready`.
//
// Idempotent: a recording already `ready` is left alone; a retry starts from a clean
// finalize directory; the output key is overwritten whole (storage writes are atomic).
// The recording is marked failed only when the last attempt fails.
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  recordingKeys,
  UnrecoverableError,
  withoutPauses,
  type FailureCode,
  type FinalizeRecording,
  type JobHandler,
  type Logger,
  type Recording,
  type RecordingOutput,
  type RunFile,
} from '@live-webrtc/shared';
import {
  buildConcatList,
  finalizeArgs,
  rawContainerFor,
  segmentFileName,
  segmentIndexOf,
  type ConcatSegment,
  type RawContainer,
} from '../ffmpeg/args.js';
import { ffprobe, probeTimeline } from '../ffmpeg/probe.js';
import { runFfmpeg } from '../ffmpeg/runner.js';
import { recordingWorkDir, type RecorderDeps } from './deps.js';
import { finalizeParticipants, planParticipants, saveParticipants } from './participants.js';
import { JoinError, planJoin, type JoinPlan, type JoinRun } from '../mkv/join.js';
import type { RunLayout } from '../mkv/layout.js';
import { looseFileName, looseSlice, sharedPiecesFor, type ParkedRun } from '../mkv/parked.js';
import { underJoinLock } from './joinLock.js';
import { forgetRawUpload, rawUploadOf } from './rawUpload.js';
import { retry } from './retry.js';
import { localRunsIn, runFilesCovering } from './runFiles.js';

export interface FinalizeResult {
  outcome: 'ready' | 'skipped';
  file?: string;
  size?: number;
  durationMs?: number;
  segments?: number;
}

/** A failure with a stable code for the recording's error. */
class FinalizeError extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'FinalizeError';
  }
}

/** Nothing to join: retrying cannot help. */
class NoSegmentsError extends UnrecoverableError {
  readonly code: FailureCode = 'no_segments';
}

/** Finalize ran before its recording reached `processing`: retry, but never fail the recording for it. */
class NotProcessingError extends Error {
  override name = 'NotProcessingError';
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** The FinalizeRecording handler. */
export function finalizeHandler(d: RecorderDeps): JobHandler<'FinalizeRecording'> {
  return async (data, job) => {
    const log = d.logger.child({ recordingId: data.recordingId, jobId: job.id });
    const t0 = performance.now();
    try {
      const result = await finalize(d, data, log);
      if (result.outcome === 'ready') d.metrics.finalizeSeconds.observe((performance.now() - t0) / 1000);
      return result;
    } catch (err) {
      const code: FailureCode = err instanceof FinalizeError || err instanceof NoSegmentsError ? err.code : 'finalize_failed';
      const message = err instanceof Error ? err.message : String(err);
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.error({ err, attempt: job.attemptsMade + 1, last }, 'finalize failed');
      if (last && !(err instanceof NotProcessingError)) {
        await d.lifecycle
          .fail(data.recordingId, code, message)
          .catch((e: unknown) => log.error({ err: e }, 'could not mark the recording failed'));
        await forgetRawUpload(d, data.recordingId).catch(() => {});
        d.metrics.captureFailures.inc({ code });
      }
      throw err;
    }
  };
}

async function finalize(d: RecorderDeps, data: FinalizeRecording, log: Logger): Promise<FinalizeResult> {
  const id = data.recordingId;
  const rec = await d.store.get(id);
  if (!rec) throw new UnrecoverableError(`recording ${id} does not exist`);
  if (rec.status === 'ready' || rec.status === 'failed') {
    log.info({ status: rec.status }, 'recording already finalized; nothing to do');
    return { outcome: 'skipped' };
  }
  if (rec.status !== 'processing') throw new NotProcessingError(`recording ${id} is ${rec.status}, not processing yet (retrying later)`);

  const workDir = recordingWorkDir(d.settings, id);
  const fast = await continuousFileFor(rec, workDir);
  if ('file' in fast) return readyFromRunFile(d, rec, fast.file, workDir, log);
  let reason: JoinReason = 'reason' in fast ? fast.reason : 'runs_not_joinable';
  if ('runs' in fast) {
    try {
      // Under the join lock: the stopping capture may be joining them right now (joinLock.ts).
      const joined = await underJoinLock(d, id, () => readyFromRunFiles(d, rec, fast.runs, workDir, log));
      return joined ?? { outcome: 'skipped' };
    } catch (err) {
      // Files that cannot be joined as they are (a layout lost, tracks that differ after all):
      // the segments hold the same media, so this is slower, not fatal.
      if (!(err instanceof RunJoinError)) throw err;
      log.warn({ err }, 'the run files cannot be joined; joining segments instead');
      reason = 'runs_not_joinable';
    }
  }
  d.metrics.finalizePath.inc({ path: 'join', reason });
  log.info({ reason }, 'joining segments (no continuous file covers the recording)');
  const dir = join(workDir, 'finalize');
  await rm(dir, { recursive: true, force: true }); // a retry starts clean
  await mkdir(dir, { recursive: true });

  const segments = await gatherSegments(d, rec, workDir, dir, log);
  if (segments.length === 0) throw new NoSegmentsError('no segments were recorded (nothing to finalize)');
  // Several participants at once: an output each, and a raw file combining them (participants.ts).
  const plan = planParticipants(rec.runTracks, segments);
  let container: RawContainer;
  let output: string;
  if (plan?.multi) {
    ({ container, output } = await finalizeParticipants(d, id, plan, dir, log));
    await setRawOutput(d, id, {
      file: container.file,
      contentType: container.contentType,
      size: null,
      status: 'processing',
      progress: 0,
      durationMs: null,
    });
  } else {
    container = rawContainerFor(rec.tracks.length > 0 ? rec.tracks.map((t) => t.codec) : await probeCodecs(d, segments[0]!.path));
    await setRawOutput(d, id, {
      file: container.file,
      contentType: container.contentType,
      size: null,
      status: 'processing',
      progress: 0,
      durationMs: null,
    });
    output = join(dir, container.file);
    await concatSegments(d, segments, dir, output, container, log);
    if (plan) await saveParticipants(d, id, plan);
  }
  const probe = await ffprobe(output, d.settings.ffprobePath).catch((err: unknown) => {
    throw new FinalizeError('finalize_failed', `the joined file is not readable: ${err instanceof Error ? err.message : String(err)}`);
  });
  const durationMs = probe.format.duration !== undefined ? Math.round(probe.format.duration * 1000) : null;
  const size = (await fileSize(output)) ?? 0;
  const uploadAt = performance.now();
  await retry(() => d.storage.putFile(recordingKeys.output(id, container.file), output, container.contentType), {
    // Storage down for a while (an S3 outage) must not fail the recording: ~3 minutes.
    attempts: 60,
    maxDelayMs: 3000,
    onRetry: (err, attempt) => log.warn({ err, attempt }, 'output upload failed; retrying'),
  }).catch((err: unknown) => {
    throw new FinalizeError('upload_failed', `uploading ${container.file} failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  d.metrics.uploadSeconds.observe({ kind: 'output' }, (performance.now() - uploadAt) / 1000);
  d.metrics.stopUploadBytes.observe(size);

  const raw: RecordingOutput = {
    name: 'raw',
    file: container.file,
    contentType: container.contentType,
    size,
    status: 'ready',
    progress: 1,
    durationMs,
  };
  const done = await d.lifecycle.markReady(id, raw);
  if (done.status !== 'ready') throw new Error(`recording ${id} became ${done.status} while finalizing`);
  if (done.stoppedAt) d.metrics.stopToReadySeconds.observe(Math.max(0, Date.now() - Date.parse(done.stoppedAt)) / 1000);
  // Only now is every byte safe in storage and recorded in the manifest.
  await rm(workDir, { recursive: true, force: true });
  await forgetRawUpload(d, id).catch((err: unknown) => log.warn({ err }, "could not drop the raw output's shared upload"));
  log.info(
    { file: container.file, size, durationMs, segments: segments.length, streams: probe.streams.map((s) => s.codec_name) },
    'recording ready',
  );
  return { outcome: 'ready', file: container.file, size, durationMs: durationMs ?? undefined, segments: segments.length };
}

/** Why finalize cannot use continuous files (it joins segments instead). */
type JoinReason = 'no_run_file' | 'several_runs' | 'several_participants' | 'runs_not_joinable';

/** Run files that cannot be joined by byte range (finalize joins segments instead). */
class RunJoinError extends Error {
  override name = 'RunJoinError';
}

/**
 * The continuous files that hold the whole recording (runFiles.ts): one that *is* the raw
 * output already, or several to join by byte range (a rejoin, pause, handover: each run that
 * ended well stored its own). A run whose ffmpeg was killed or crashed, or several people,
 * mean joining segments.
 */
async function continuousFileFor(
  rec: Recording,
  workDir: string,
): Promise<{ file: RunFile } | { runs: RunFile[] } | { reason: JoinReason }> {
  // A run that left only local files here (its upload failed) counts too.
  const files = runFilesCovering(rec, await localRunsIn(workDir));
  if (!files) {
    if (!rec.runFiles.some((f) => f.output === 'raw')) return { reason: 'no_run_file' };
    const people = new Set(rec.runTracks.flatMap((l) => l.tracks.map((t) => t.participant)));
    return { reason: people.size > 1 ? 'several_participants' : 'several_runs' };
  }
  const [only] = files;
  if (files.length === 1 && only!.key === recordingKeys.output(rec.id, only!.file)) return { file: only! };
  return { runs: files };
}

/**
 * Called by the capture run that ended the recording (already `processing`): makes it ready from
 * its continuous file when that covers the recording. False when it does not (finalize joins
 * segments) or on any error (finalize then decides again).
 */
export async function readyFromContinuousFile(d: RecorderDeps, rec: Recording, log: Logger): Promise<boolean> {
  const workDir = recordingWorkDir(d.settings, rec.id);
  try {
    const t0 = performance.now();
    const fast = await continuousFileFor(rec, workDir);
    if ('reason' in fast) return false;
    if ('file' in fast) await readyFromRunFile(d, rec, fast.file, workDir, log);
    else await underJoinLock(d, rec.id, () => readyFromRunFiles(d, rec, fast.runs, workDir, log));
    d.metrics.finalizeSeconds.observe((performance.now() - t0) / 1000);
    return true;
  } catch (err) {
    log.warn({ err }, 'could not make the recording ready from its continuous file; queueing finalize');
    return false;
  }
}

/** Fast path: the run's continuous file is already the complete object in storage. */
async function readyFromRunFile(d: RecorderDeps, rec: Recording, file: RunFile, workDir: string, log: Logger): Promise<FinalizeResult> {
  const id = rec.id;
  const info = await d.storage.stat(file.key);
  if (!info) throw new FinalizeError('finalize_failed', `the continuous file ${file.key} is missing from storage`);
  const raw: RecordingOutput = {
    name: 'raw',
    file: file.file,
    contentType: file.contentType,
    size: info.size,
    status: 'ready',
    progress: 1,
    durationMs: file.durationMs,
  };
  await listOneParticipant(d, rec, file.run, file.durationMs);
  // Counted before the transition: whoever sees `ready` sees the path that made it.
  d.metrics.finalizePath.inc({ path: 'fast', reason: 'one_run' });
  const done = await d.lifecycle.markReady(id, raw);
  if (done.status !== 'ready') throw new Error(`recording ${id} became ${done.status} while finalizing`);
  if (done.stoppedAt) d.metrics.stopToReadySeconds.observe(Math.max(0, Date.now() - Date.parse(done.stoppedAt)) / 1000);
  await rm(workDir, { recursive: true, force: true });
  await forgetRawUpload(d, id).catch((err: unknown) => log.warn({ err }, "could not drop the raw output's shared upload"));
  log.info(
    { file: file.file, size: info.size, durationMs: file.durationMs, segments: rec.segments.length },
    'recording ready (continuous file)',
  );
  return { outcome: 'ready', file: file.file, size: info.size, durationMs: file.durationMs, segments: rec.segments.length };
}

/** The one participant, listed as the joined path lists them (the whole raw output is theirs). */
async function listOneParticipant(d: RecorderDeps, rec: Recording, run: number, durationMs: number): Promise<void> {
  const tracks = rec.runTracks.find((l) => l.run === run)?.tracks ?? rec.tracks;
  const who = tracks[0]?.participant;
  if (who === undefined || rec.participants.length > 0) return;
  const participant = {
    id: who,
    output: 'raw',
    startOffsetMs: 0,
    endOffsetMs: durationMs,
    tracks: tracks.map(({ kind, codec }) => ({ kind, codec })),
  };
  await d.store.update(rec.id, (r) => ({ ...r, participants: [participant] }));
}

/**
 * Several runs' files joined into the raw output by byte range (mkv/join.ts): a new head, the
 * runs' clusters, and cues. Parked runs (S3, mkv/parked.ts): the raw output's shared upload is
 * completed from their parts and loose bytes. Otherwise the clusters are copied inside the
 * storage (Storage.compose), over the first run's file, the raw output's own object. Either
 * way a retry first checks whether an earlier attempt already did it.
 */
async function readyFromRunFiles(d: RecorderDeps, rec: Recording, files: RunFile[], workDir: string, log: Logger): Promise<FinalizeResult> {
  const id = rec.id;
  const t0 = performance.now();
  const first = files[0]!;
  const key = recordingKeys.output(id, first.file);
  const runs: StoredRun[] = await Promise.all(
    files.map(async (f) => {
      const raw = f.layout ? await d.storage.getBytes(f.layout) : null;
      if (!raw) throw new RunJoinError(`the layout of run ${f.run} is missing from storage`);
      return { run: f.run, key: f.key, layout: JSON.parse(raw.toString('utf8')) as RunLayout };
    }),
  );
  const parked = runs.filter((r) => r.layout.parked).length;
  if (parked > 0 && parked < runs.length) throw new RunJoinError('some runs are parked in the shared upload, some are files of their own');
  const path = parked > 0 ? 'join_parked' : 'join_runs';
  let size: number;
  let durationMs: number;
  if (await alreadyJoined(d, key)) {
    size = (await d.storage.stat(key))?.size ?? 0;
    durationMs = runs[runs.length - 1]!.layout.durationMs;
    log.info('the raw output was joined by an earlier attempt');
  } else {
    const join = parked > 0 ? await parkedJoin(d, id, key, runs, workDir) : await composeJoin(d, key, runs);
    let tries = 0;
    const write = async (): Promise<void> => {
      // A failed attempt may have completed after all: a retry must not redo it.
      if (tries++ > 0 && (await alreadyJoined(d, key))) return;
      await join.write(first.contentType);
    };
    // Storage down for a while (an S3 outage) must not fail the recording: ~3 minutes. An upload
    // that cannot be completed stays so: the segments hold the same media.
    await retry(write, {
      attempts: 60,
      maxDelayMs: 3000,
      retryIf: (err) => !cannotComplete(err),
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'joining the run files failed; retrying'),
    }).catch((err: unknown) => {
      if (cannotComplete(err)) throw new RunJoinError(`the raw output's shared upload cannot be completed (${(err as Error).name})`);
      throw new FinalizeError('upload_failed', `joining the run files failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    size = join.plan.size;
    durationMs = join.plan.durationMs;
  }
  durationMs = Math.round(durationMs);
  const raw: RecordingOutput = {
    name: 'raw',
    file: first.file,
    contentType: first.contentType,
    size,
    status: 'ready',
    progress: 1,
    durationMs,
  };
  await listOneParticipant(d, rec, first.run, durationMs);
  d.metrics.finalizePath.inc({ path, reason: 'several_runs' });
  const done = await d.lifecycle.markReady(id, raw);
  if (done.status !== 'ready') throw new Error(`recording ${id} became ${done.status} while finalizing`);
  if (done.stoppedAt) d.metrics.stopToReadySeconds.observe(Math.max(0, Date.now() - Date.parse(done.stoppedAt)) / 1000);
  await rm(workDir, { recursive: true, force: true });
  await forgetRawUpload(d, id).catch((err: unknown) => log.warn({ err }, "could not drop the raw output's shared upload"));
  // The run files live on inside the raw output; their own objects are not needed any more.
  await d.storage.deletePrefix(recordingKeys.runsPrefix(id)).catch((err: unknown) => log.warn({ err }, 'could not delete the run files'));
  log.info(
    { file: first.file, size, durationMs, path, runs: files.map((f) => f.run), ms: Math.round(performance.now() - t0) },
    'recording ready (run files joined)',
  );
  return { outcome: 'ready', file: first.file, size, durationMs, segments: rec.segments.length };
}

/**
 * The shared upload cannot be completed, ever: it is gone (aborted), or it holds parts the plan
 * leaves out (a run dropped after it sent parts: Ceph refuses those; AWS and MinIO drop them).
 */
const cannotComplete = (err: unknown): boolean =>
  ['NoSuchUpload', 'InvalidPart', 'SharedUploadError'].includes((err as Error | undefined)?.name ?? '');

/** A run file with its layout, as stored. */
type StoredRun = JoinRun & { run: number };

/** A join planned and ready to write (retried as a whole). */
interface PlannedJoin {
  plan: JoinPlan;
  write(contentType: string): Promise<void>;
}

const asRunJoinError = (err: unknown): never => {
  throw new RunJoinError(`the runs cannot be joined: ${err instanceof Error ? err.message : String(err)}`);
};

/** Runs that are files of their own: their clusters copied inside the storage. */
async function composeJoin(d: RecorderDeps, key: string, runs: readonly StoredRun[]): Promise<PlannedJoin> {
  const plan = await planJoin(runs, (k, start, end) => readRange(d, k, start, end)).catch(asRunJoinError);
  return {
    plan,
    write: async (contentType) => {
      await d.storage.compose(key, plan.pieces, contentType);
    },
  };
}

/**
 * Parked runs: the shared upload completed from their parts, with their loose bytes (this
 * machine's copy when it has one) between them, a new head before and cues after.
 */
async function parkedJoin(d: RecorderDeps, id: string, key: string, runs: readonly StoredRun[], workDir: string): Promise<PlannedJoin> {
  const uploads = d.storage.sharedUploads;
  const upload = await rawUploadOf(d, id);
  if (!uploads || !upload || upload.key !== key) throw new RunJoinError("the raw output's shared upload is not known");
  if (runs.some((r) => r.layout.parked!.uploadId !== upload.uploadId)) throw new RunJoinError('a run parked in another upload');
  const byKey = new Map<string, { parked: ParkedRun; loose: Buffer }>();
  await Promise.all(
    runs.map(async (r) => {
      const parked = r.layout.parked!;
      const local = await readFile(join(workDir, looseFileName(r.run))).catch(() => null);
      const loose = local ?? (await d.storage.getBytes(parked.looseKey));
      if (!loose) throw new RunJoinError(`the loose bytes of ${parked.looseKey} are missing`);
      byKey.set(parked.looseKey, { parked, loose });
    }),
  );
  const fetch = async (k: string, start: number, end: number): Promise<Buffer> => {
    const r = byKey.get(k);
    if (!r) throw new JoinError(`no parked run ${k}`);
    return looseSlice(r.parked, r.loose, start, end);
  };
  const plan = await planJoin(
    runs.map((r) => ({ key: r.layout.parked!.looseKey, layout: r.layout })),
    fetch,
  ).catch(asRunJoinError);
  // Pieces a completion cannot take (a short part inside) fail the write as SharedUploadError.
  let parts: ReturnType<typeof sharedPiecesFor>;
  try {
    parts = sharedPiecesFor(plan.pieces, byKey);
  } catch (err) {
    return asRunJoinError(err);
  }
  return {
    plan,
    write: async () => {
      await uploads.complete(key, upload.uploadId, parts);
    },
  };
}

/** Whether the object at `key` is a file mkv/join.ts wrote (its Info names us as the muxer). */
async function alreadyJoined(d: RecorderDeps, key: string): Promise<boolean> {
  const head = await readRange(d, key, 0, 4096).catch(() => null);
  return head !== null && head.includes(JOINED_MARK);
}
const JOINED_MARK = Buffer.concat([Buffer.from([0x4d, 0x80, 0x80 | 'live-webrtc'.length]), Buffer.from('live-webrtc')]);

async function readRange(d: RecorderDeps, key: string, start: number, end: number): Promise<Buffer> {
  const s = await d.storage.getStream(key, { start, end: end - 1 });
  if (!s) throw new Error(`no such object: ${key}`);
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const withOutput = (outputs: RecordingOutput[], o: RecordingOutput): RecordingOutput[] => [...outputs.filter((x) => x.name !== o.name), o];

async function setRawOutput(d: RecorderDeps, id: string, o: Omit<RecordingOutput, 'name'>): Promise<void> {
  await d.store.update(id, (r) => ({ ...r, outputs: withOutput(r.outputs, { name: 'raw', ...o }) }));
}

/**
 * Every segment with a local path and timing: the manifest's (stored) plus any local segment
 * file the manifest lacks (its upload failed); local files are preferred to downloads.
 */
async function gatherSegments(d: RecorderDeps, rec: Recording, workDir: string, dir: string, log: Logger): Promise<ConcatSegment[]> {
  let localFiles: string[] = [];
  try {
    localFiles = await readdir(workDir);
  } catch {
    // another machine captured it: everything comes from storage
  }
  const runs = [...new Set(rec.segments.map((s) => s.run))].sort((a, b) => a - b);
  const runOf = (index: number): number => runs.filter((r) => r <= index).pop() ?? 0;
  const byIndex = new Map<
    number,
    { index: number; run: number; start: number | null; end: number | null; key: string | null; runAt: number | null }
  >();
  for (const s of rec.segments)
    byIndex.set(s.index, { index: s.index, run: s.run, start: s.start, end: s.end, key: s.key, runAt: s.runAt });
  const runAtOf = (run: number): number | null => rec.segments.find((s) => s.run === run && s.runAt !== null)?.runAt ?? null;
  for (const f of localFiles) {
    const index = segmentIndexOf(f);
    if (index === null || byIndex.has(index)) continue;
    log.warn({ segment: index }, 'segment missing from the manifest (upload failed?); using the local copy');
    byIndex.set(index, { index, run: runOf(index), start: null, end: null, key: null, runAt: runAtOf(runOf(index)) });
  }
  const sorted = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const out: ConcatSegment[] = [];
  for (const s of sorted) {
    const local = join(workDir, segmentFileName(s.index));
    let path = local;
    if (!((await fileSize(local)) ?? 0)) {
      if (!s.key) continue;
      path = join(dir, segmentFileName(s.index));
      const key = s.key;
      await retry(() => d.storage.download(key, path), { attempts: 3 }).catch((err: unknown) => {
        throw new FinalizeError(
          'segment_missing',
          `segment ${s.index} could not be read from storage: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }
    let { start, end } = s;
    if (start === null || end === null) {
      // Cut short by a crash or never listed: read its timing from the file itself.
      const t = await probeTimeline(path, d.settings.ffprobePath).catch(() => null);
      if (!t) {
        log.warn({ segment: s.index }, 'segment holds no readable packets; left out');
        continue;
      }
      start ??= t.start;
      end ??= t.end;
    }
    // Runs after a resume are placed as if the paused span never happened: it is left out.
    const runAt = s.runAt ?? runAtOf(s.run);
    out.push({ path, run: s.run, start, end, runAt: runAt === null ? null : withoutPauses(runAt, rec.pauses) });
  }
  return out;
}

async function probeCodecs(d: RecorderDeps, path: string): Promise<string[]> {
  const p = await ffprobe(path, d.settings.ffprobePath);
  return p.streams.map((s) => s.codec_name);
}

async function concatSegments(
  d: RecorderDeps,
  segments: ConcatSegment[],
  dir: string,
  output: string,
  container: RawContainer,
  log: Logger,
): Promise<void> {
  const listPath = join(dir, 'segments.ffconcat');
  await writeFile(listPath, buildConcatList(segments));
  const ff = runFfmpeg(finalizeArgs({ listPath, outputPath: output, format: container.format }), {
    ffmpegPath: d.settings.ffmpegPath,
    logger: log,
  });
  const exit = await ff.exited;
  if (exit.code !== 0 || !(await fileSize(output))) {
    throw new FinalizeError(
      'finalize_failed',
      `joining ${segments.length} segments failed (${exit.error ?? `exit ${exit.code ?? exit.signal}`}): ${exit.stderrTail.slice(-3).join(' | ')}`,
    );
  }
}
