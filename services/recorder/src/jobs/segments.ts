// Uploads a capture run's segments while it records: ffmpeg appends a line to its csv segment
// list when a segment file is complete; each new one is uploaded (with retries, the local file
// kept) and then added to the manifest. When the run ends, whatever is left is uploaded too,
// including a last segment a crashed ffmpeg never listed (Matroska stays readable).
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordingKeys, type Logger, type RecordingSegment, type RecordingStore, type Storage } from '@live-webrtc/shared';
import { parseSegmentList, segmentFileName, segmentIndexOf } from '../ffmpeg/args.js';
import type { RecorderMetrics } from '../metrics.js';
import { retry, type RetryOptions } from './retry.js';

export interface SegmentUploaderOptions {
  recordingId: string;
  /** First segment index of this run. */
  run: number;
  /** Directory holding the segment files. */
  dir: string;
  /** ffmpeg's csv segment list for this run. */
  listPath: string;
  storage: Storage;
  store: RecordingStore;
  metrics: RecorderMetrics;
  logger: Logger;
  /** How often the list is re-read, ms. Default 500. */
  pollMs?: number;
  retry?: RetryOptions;
}

interface Pending {
  index: number;
  start: number | null;
  end: number | null;
}

export class SegmentUploader {
  readonly #o: SegmentUploaderOptions;
  /** Indexes queued or done (never queued twice). */
  readonly #seen = new Set<number>();
  #lastEnd: number | null = null;
  #runAt: number | null = null;
  #uploaded = 0;
  #failed = 0;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  /** Size of the segment list when last read (-1: never). */
  #listSize = -1;
  /** Segments left are not needed any more (the run's continuous file is stored). */
  #dropped = false;

  constructor(o: SegmentUploaderOptions) {
    this.#o = o;
  }

  /** Starts watching the segment list. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#scanOnce(), this.#o.pollMs ?? 500);
    this.#timer.unref();
  }

  /** Wall-clock time (epoch ms) of the run's timeline zero, stamped on its segments. */
  setRunAt(ms: number): void {
    this.#runAt ??= ms;
  }

  /** Segments uploaded so far. */
  get uploaded(): number {
    return this.#uploaded;
  }

  #scanOnce(): Promise<void> {
    // One scan at a time; a tick that finds one running just waits for it.
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    let text: string;
    try {
      // ffmpeg appends a line per finished segment: one stat per tick, a read only when it grew.
      const { size } = await stat(this.#o.listPath);
      if (size === this.#listSize) return;
      text = await readFile(this.#o.listPath, 'utf8');
      this.#listSize = Buffer.byteLength(text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.logger.warn({ err }, 'cannot read the segment list');
      return;
    }
    for (const e of parseSegmentList(text)) {
      this.#lastEnd = Math.max(this.#lastEnd ?? e.end, e.end);
      this.#enqueue({ index: e.index, start: e.start, end: e.end });
    }
  }

  #enqueue(p: Pending): void {
    if (this.#seen.has(p.index) || p.index < this.#o.run) return;
    this.#seen.add(p.index);
    // Serial per run: segments land in the manifest in order, and one capture never
    // saturates the uplink for the others.
    this.#chain = this.#chain.then(() => this.#upload(p));
  }

  async #upload(p: Pending): Promise<void> {
    if (this.#dropped) return;
    const { recordingId: id, run, dir, storage, store, logger } = this.#o;
    const file = join(dir, segmentFileName(p.index));
    const log = logger.child({ segment: p.index });
    try {
      const size = (await stat(file)).size;
      if (size === 0) {
        log.warn('segment file is empty; skipped');
        return;
      }
      const key = recordingKeys.segment(id, p.index);
      // Storage down (an S3 outage): keep the file and keep trying for minutes, not seconds.
      const t0 = performance.now();
      await retry(() => storage.putFile(key, file, 'video/x-matroska'), {
        attempts: 60,
        maxDelayMs: 3000,
        ...this.#o.retry,
        onRetry: (err, attempt) => log.warn({ err, attempt }, 'segment upload failed; retrying'),
      });
      this.#o.metrics.uploadSeconds.observe({ kind: 'segment' }, (performance.now() - t0) / 1000);
      const seg: RecordingSegment = { index: p.index, key, size, run, start: p.start, end: p.end, runAt: this.#runAt };
      await retry(
        () =>
          store.update(id, (r) => ({
            ...r,
            segments: [...r.segments.filter((s) => s.index !== p.index), seg].sort((a, b) => a.index - b.index),
          })),
        this.#o.retry,
      );
      this.#uploaded++;
      this.#o.metrics.segmentsUploaded.inc();
      log.debug({ size, start: p.start, end: p.end }, 'segment uploaded');
    } catch (err) {
      // The local file stays: finalize on this machine uses it even though storage lacks it.
      this.#failed++;
      this.#o.metrics.segmentUploadFailures.inc();
      log.error({ err, file }, 'segment upload failed for good; local copy kept');
    }
  }

  /**
   * Stops watching, uploads every segment left (after ffmpeg exited: its list is complete,
   * and any unlisted segment file of this run is a crash's last segment) and waits for all
   * uploads. Returns how many were uploaded and how many failed.
   */
  /**
   * The run's continuous file is complete in storage, so its segments (crash-safety copies) are
   * not needed: stops watching, lets the upload in flight end and skips the ones queued (a
   * backlog left by a slow storage must not delay `ready`). Returns how many were skipped.
   */
  async drop(): Promise<{ uploaded: number; skipped: number }> {
    clearInterval(this.#timer);
    this.#dropped = true;
    await this.#chain;
    return { uploaded: this.#uploaded, skipped: this.#seen.size - this.#uploaded - this.#failed };
  }

  async finish(): Promise<{ uploaded: number; failed: number }> {
    clearInterval(this.#timer);
    await this.#scanOnce();
    let files: string[] = [];
    try {
      files = await readdir(this.#o.dir);
    } catch {
      // no directory: nothing was written
    }
    // ffmpeg lists a segment once it is finished: only the one it was writing past the last
    // listed can be missing (two, if it was killed between closing one and listing it). Files
    // further on are a next run's on this recorder, which starts past a reserve of indices
    // (capture.ts, handoverReserve) while this one may still be writing.
    const last = Math.max(this.#o.run - 1, ...this.#seen);
    const unlisted = files
      .map(segmentIndexOf)
      .filter((i): i is number => i !== null && i >= this.#o.run && i <= last + 2 && !this.#seen.has(i))
      .sort((a, b) => a - b);
    for (const [n, index] of unlisted.entries()) {
      // It started where the last listed one ended; its end is unknown (finalize probes it).
      this.#enqueue({ index, start: n === 0 ? this.#lastEnd : null, end: null });
    }
    if (unlisted.length > 0)
      this.#o.logger.warn(
        { segments: unlisted },
        "segments missing from ffmpeg's list (ffmpeg did not finish them); uploading as they are",
      );
    await this.#chain;
    return { uploaded: this.#uploaded, failed: this.#failed };
  }
}
