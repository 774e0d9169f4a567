// The continuous file of a capture run: ffmpeg writes the run as one Matroska/WebM file beside
// its crash-safe segments, and this class uploads it while it grows (storage/growing.ts), so
// that at stop only the held-back head and the tail are left to send: stop → ready does not
// grow with the recording's length.
//
// Every run writes one (a recording = a list of runs on one timeline). On S3 each run fills its
// block of the raw output's shared upload (rawUpload.ts): the run that ends the recording alone
// completes it (its file *is* the raw output); any other run parks (its parts stay in the
// upload, its few held-back bytes go up as a small "loose" object) and finalize completes the
// upload from every run's parts (mkv/parked.ts). A run whose ffmpeg did not close the file
// (killed, crashed) parks what it wrote whole when it is in a shared upload (capture.ts salvages
// its layout), else aborts it: finalize then joins the segments as before.
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { MIN_PART_BYTES, type GrowingObject, type Logger, type SharedUploadSlot, type Storage } from '@live-webrtc/shared';
import { readMatroskaDurationMs } from '../ffmpeg/mkvHead.js';
import { looseRanges, type ParkedRun } from '../mkv/parked.js';
import type { RecorderMetrics } from '../metrics.js';
import { retry } from './retry.js';

/** A parked run's held-back bytes are read into memory: past this the run is joined from segments. */
const MAX_LOOSE_BYTES = 256 * 1024 * 1024;

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
  /** Fill this block of the raw output's shared upload instead of an upload of its own. */
  shared?: SharedUploadSlot | null;
}

export interface ParkOptions {
  /** Where the file's clusters are (its layout): only those bytes are kept. */
  clustersStart: number;
  clustersEnd: number;
  /** Storage key and local path of the loose bytes. */
  looseKey: string;
  localCopy: string;
  /**
   * Store the loose bytes under looseKey too (default). A run that ends the recording skips
   * that: the upload is completed at once, here, from the local copy (its segments stay the
   * copy for any other recorder).
   */
  store?: boolean;
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
    const uploads = o.storage.sharedUploads;
    this.#object = o.shared && uploads ? uploads.open(o.key, o.contentType, o.shared) : o.storage.openGrowing(o.key, o.contentType);
  }

  /** The block of the shared upload it fills, or null (an upload of its own). */
  get shared(): SharedUploadSlot | null {
    return (this.#o.storage.sharedUploads && this.#o.shared) || null;
  }

  /**
   * No more parts from now on (the run is stopping): what ffmpeg still writes stays local, so a
   * run that overlaps the next one (a handover) is cut in bytes it holds, not in a sent part.
   */
  hold(): void {
    clearInterval(this.#timer);
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

  /**
   * The run is not the recording's only one (or ffmpeg did not close its file): leaves its parts
   * in the shared upload and keeps the bytes it held back (the clusters' lead and tail) as one
   * small object, and a copy beside the work files. Null when that cannot be done (then it is aborted
   * and finalize joins the segments).
   */
  async park(p: ParkOptions): Promise<ParkedRun | null> {
    this.hold();
    await this.#syncing;
    this.#setBacklog(0);
    const slot = this.shared;
    try {
      if (!slot || !this.#object.park) throw new Error('not in a shared upload');
      const t0 = performance.now();
      const sent = await this.#object.park();
      if (sent.parts.some((x) => x.start < p.clustersStart || x.end > p.clustersEnd))
        throw new Error('a part reaches outside the clusters (the file changed after it was sent)');
      const { lead, tail } = looseRanges(p.clustersStart, p.clustersEnd, sent.head, sent.next);
      const looseBytes = lead[1] - lead[0] + (tail[1] - tail[0]);
      if (looseBytes > MAX_LOOSE_BYTES) throw new Error(`${looseBytes} bytes held back; too many to park`);
      const loose = await readRanges(this.#o.path, [lead, tail]);
      await writeFile(p.localCopy, loose);
      if (p.store !== false) await retry(() => this.#o.storage.putBytes(p.looseKey, loose, 'application/octet-stream'), { attempts: 4 });
      const completeMs = performance.now() - t0;
      this.#o.metrics.uploadSeconds.observe({ kind: 'complete' }, completeMs / 1000);
      this.#o.metrics.stopUploadBytes.observe(p.store === false ? 0 : loose.length);
      await rm(this.#o.path, { force: true });
      this.#o.logger.info({ parts: sent.parts.length, looseBytes, completeMs: Math.round(completeMs) }, 'continuous file parked');
      return { uploadId: slot.uploadId, looseKey: p.looseKey, parts: sent.parts, lead, tail };
    } catch (err) {
      this.#o.logger.warn({ err }, 'continuous file could not be parked; finalize will join segments');
      await rm(p.localCopy, { force: true });
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

/** The bytes of `ranges` ([start, end) each) of a file, one after the other. */
async function readRanges(path: string, ranges: [number, number][]): Promise<Buffer> {
  const f = await open(path, 'r');
  try {
    const out: Buffer[] = [];
    for (const [start, end] of ranges) {
      const buf = Buffer.alloc(end - start);
      const { bytesRead } = await f.read(buf, 0, buf.length, start);
      if (bytesRead !== buf.length) throw new Error(`${path} is shorter than its layout says`);
      out.push(buf);
    }
    return Buffer.concat(out);
  } finally {
    await f.close();
  }
}
