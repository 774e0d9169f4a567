// Which capture runs' continuous files together hold a recording. Every run that records media
// writes one; when each run with media has one (and, for several, its layout), the raw output
// is made from them — the one file itself, or several joined by byte range (mkv/join.ts) —
// instead of from the crash-safe segments. Pure.
import { readdir } from 'node:fs/promises';
import type { Recording, RunFile } from '@live-webrtc/shared';

/** Runs with files in a recording's work directory on this machine (their SDP). */
export async function localRunsIn(dir: string): Promise<number[]> {
  const local = await readdir(dir).catch(() => [] as string[]);
  return local
    .map((f) => /^run-(\d+)\.sdp$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
}

/**
 * The run files covering `rec`, in run (= timeline) order; null when some run's media is only in
 * segments (a run killed or crashed, a run file not stored, a layout not read) or several
 * people were recorded. `localRuns`: runs with files in this machine's work directory.
 */
export function runFilesCovering(rec: Recording, localRuns: readonly number[] = []): RunFile[] | null {
  const byRun = new Map<number, RunFile>();
  for (const f of rec.runFiles) if (f.output === 'raw') byRun.set(f.run, f);
  if (byRun.size === 0) return null;
  for (const run of new Set([...rec.segments.map((s) => s.run), ...localRuns])) if (!byRun.has(run)) return null;
  const files = [...byRun.values()].sort((a, b) => a.run - b.run);
  // Several people: an output each (participants.ts), not one file.
  const people = new Set(
    files.flatMap((f) => (rec.runTracks.find((l) => l.run === f.run)?.tracks ?? rec.tracks).map((t) => t.participant)),
  );
  if (people.size > 1) return null;
  if (files.length > 1 && files.some((f) => f.layout === null)) return null;
  // Clusters are copied as they are: every run must carry the same streams in the same order
  // (a publisher back with another codec, or without their camera, is joined from segments).
  const streams = (run: number): string =>
    (rec.runTracks.find((l) => l.run === run)?.tracks ?? rec.tracks).map((t) => `${t.kind}:${t.codec}`).join(',');
  if (files.some((f) => streams(f.run) !== streams(files[0]!.run))) return null;
  return files;
}
