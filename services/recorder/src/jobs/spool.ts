// The local spool: segment files in the work directory that storage does not have yet (their
// upload failed, storage was down, or the recorder died before uploading them). A recorder that
// starts uploads them first and adds them to their manifest, so a takeover or finalize on any
// machine sees them; a local file is only ever deleted after storage confirmed it (finalize
// removes the directory after `ready`). Directories of recordings that are ready, or gone, are
// removed here.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordingKeys, type Logger, type RecordingSegment } from '@live-webrtc/shared';
import { segmentIndexOf } from '../ffmpeg/args.js';
import type { RecorderDeps } from './deps.js';
import { retry } from './retry.js';

/** The run (first segment index) a segment belongs to, from the run-N.sdp files next to it. */
const runOf = (runs: number[], index: number): number => runs.filter((r) => r <= index).pop() ?? 0;

/** Uploads every spooled segment of every recording in the work directory; returns how many. */
export async function uploadSpool(d: RecorderDeps, log: Logger): Promise<number> {
  let uploaded = 0;
  const ids = await readdir(d.settings.workDir).catch(() => [] as string[]);
  for (const id of ids) {
    const dir = join(d.settings.workDir, id);
    const rec = await d.store.get(id).catch(() => undefined);
    if (rec === undefined) continue; // Redis down: next start
    if (rec === null || rec.status === 'ready') {
      // Everything of it is in storage (or it was deleted): the local copy is not needed.
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    // A live recorder's run may be writing here right now: its own uploader handles its files.
    const claim = await d.runs.claim(id).catch(() => null);
    if (claim?.recorderId && claim.recorderId !== d.recorderId && (await d.runs.isAlive(claim.recorderId).catch(() => true))) continue;
    const files = await readdir(dir).catch(() => [] as string[]);
    const runs = files
      .map((f) => /^run-(\d+)\.sdp$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const stored = new Set(rec.segments.map((s) => s.index));
    const spooled = files
      .map(segmentIndexOf)
      .filter((i): i is number => i !== null && !stored.has(i))
      .sort((a, b) => a - b);
    for (const index of spooled) {
      const file = join(
        dir,
        files.find((f) => segmentIndexOf(f) === index)!,
      );
      const size = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      if (size === 0) continue;
      const key = recordingKeys.segment(id, index);
      try {
        await retry(() => d.storage.putFile(key, file, 'video/x-matroska'), { attempts: 5 });
        const run = runOf(runs, index);
        const runAt = rec.segments.find((s) => s.run === run && s.runAt !== null)?.runAt ?? null;
        // Timing unknown (cut short by a crash): finalize probes the file.
        const seg: RecordingSegment = { index, key, size, run, start: null, end: null, runAt };
        await d.store.update(id, (r) =>
          r.segments.some((s) => s.index === index) ? null : { ...r, segments: [...r.segments, seg].sort((a, b) => a.index - b.index) },
        );
        uploaded++;
        log.info({ recordingId: id, segment: index }, 'spooled segment uploaded');
      } catch (err) {
        log.warn({ err, recordingId: id, segment: index }, 'spooled segment still cannot be uploaded; kept locally');
      }
    }
  }
  return uploaded;
}
