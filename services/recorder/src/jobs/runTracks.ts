// What a capture run records, kept in the manifest per run: the recording's `tracks` (the latest
// run's, as before) and, per run, its tracks in stream order, so finalize can split every run's
// segments by participant (runs differ when someone joins or leaves: each is a new run).
import type { CaptureTrack, RecordingStore } from '@live-webrtc/shared';

/** Lower-case codec name of a MIME type ("video/VP8" → "vp8"). */
const codecOf = (mimeType: string): string => mimeType.slice(mimeType.indexOf('/') + 1).toLowerCase();

export async function recordRunTracks(store: RecordingStore, id: string, run: number, captured: readonly CaptureTrack[]): Promise<void> {
  const tracks = captured.map((t) => ({ kind: t.kind, codec: codecOf(t.codec.mimeType), participant: t.participant }));
  await store.update(id, (r) => {
    const same = JSON.stringify(r.tracks) === JSON.stringify(tracks);
    const known = r.runTracks.some((x) => x.run === run && JSON.stringify(x.tracks) === JSON.stringify(tracks));
    if (same && known) return null;
    return { ...r, tracks, runTracks: [...r.runTracks.filter((x) => x.run !== run), { run, tracks }].sort((a, b) => a.run - b.run) };
  });
}
