// The continuous file of a capture run: ffmpeg writes the run as one Matroska/WebM file beside
// its crash-safe segments, and this class uploads it while it grows (storage/growing.ts), so
// that at stop only the held-back head and the tail are left to send: stop → ready does not
// grow with the recording's length.
//
// Only a recording's first run writes one (a recording = a list of runs on one timeline; a
// single run *is* the raw output). A run that hands the recording on, or whose ffmpeg did not
// close the file (killed, crashed), aborts it: finalize then joins the segments as before.
import { rm, stat } from 'node:fs/promises';
import { MIN_PART_BYTES, type GrowingObject, type Logger, type Storage } from '@live-webrtc/shared';
import { readMatroskaDurationMs } from '../ffmpeg/mkvHead.js';
import type { RecorderMetrics } from '../metrics.js';

export interface ContinuousFileOptions {
  /** Local file ffmpeg writes. */
  path: string;
  /** Storage key of the output it becomes (the raw output's). */
  key: string;
  contentType: string;
  storage: Storage;
  metrics: RecorderMetrics;
  logger: Logger;
  /** How often the file is checked for new whole parts, ms. Default 1000. */
  pollMs?: number;
}

export interface CompletedFile {
  key: string;
  size: number;
  durationMs: number;
  /** Bytes sent at the end (head + tail): what the stop path cost. */
  bytesAtEnd: number;
  /** Time the completion took, ms. */
  completeMs: number;
}

export class ContinuousFile {
  readonly #o: ContinuousFileOptions;
  readonly #object: GrowingObject;
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #busy = false;
  #sent = 0;
  /** This file's share of lw_recorder_continuous_backlog_bytes. */
  #backlog = 0;

  constructor(o: ContinuousFileOptions) {
    this.#o = o;
    this.#object = o.storage.openGrowing(o.key, o.contentType);
  }

  /** Starts uploading parts as the file grows. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#syncing = this.#sync().finally(() => (this.#busy = false));
    }, this.#o.pollMs ?? 1000);
    this.#timer.unref();
  }

  async #sync(): Promise<void> {
    const t0 = performance.now();
    try {
      const sent = await this.#object.sync(this.#o.path);
      if (sent > 0) this.#o.metrics.uploadSeconds.observe({ kind: 'part' }, (performance.now() - t0) / 1000);
      this.#sent += sent;
      if (this.#o.storage.kind === 's3') {
        // What a stop would still have to send beyond head + one part: storage falling behind.
        const size = (await stat(this.#o.path)).size;
        this.#setBacklog(Math.max(0, size - this.#sent - 2 * MIN_PART_BYTES));
      }
    } catch (err) {
      // Not written yet, or storage is down: the same bytes are tried again next time.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.logger.warn({ err }, 'continuous file: part upload failed; retrying');
    }
  }

  /**
   * ffmpeg closed the file: checks it is whole (a duration in its header) and completes the
   * object. Null when it cannot be used (then it is aborted and finalize joins the segments).
   */
  async complete(): Promise<CompletedFile | null> {
    clearInterval(this.#timer);
    await this.#syncing;
    this.#setBacklog(0);
    const t0 = performance.now();
    const durationMs = await readMatroskaDurationMs(this.#o.path).catch(() => null);
    if (durationMs === null || !(durationMs > 0)) {
      this.#o.logger.warn('continuous file was not closed by ffmpeg (no cues in its head); finalize will join segments');
      await this.abort();
      return null;
    }
    try {
      const { size, bytesAtEnd } = await this.#object.complete(this.#o.path);
      const completeMs = performance.now() - t0;
      this.#o.metrics.uploadSeconds.observe({ kind: 'complete' }, completeMs / 1000);
      this.#o.metrics.stopUploadBytes.observe(bytesAtEnd);
      return { key: this.#o.key, size, durationMs: Math.round(durationMs), bytesAtEnd, completeMs };
    } catch (err) {
      this.#o.logger.warn({ err }, 'continuous file could not be completed; finalize will join segments');
      await this.abort();
      return null;
    }
  }

  #setBacklog(bytes: number): void {
    this.#o.metrics.continuousBacklogBytes.inc(bytes - this.#backlog);
    this.#backlog = bytes;
  }

  /** Drops it: the multipart upload and the local file. */
  async abort(): Promise<void> {
    clearInterval(this.#timer);
    await this.#syncing;
    this.#setBacklog(0);
    await this.#object.abort().catch((err: unknown) => this.#o.logger.warn({ err }, 'could not abort the continuous upload'));
    await rm(this.#o.path, { force: true });
  }
}
