// Where each stream of a several-participant raw file starts, from the manifest rather than from
// ffprobe: the raw file is every participant's output one after another (their tracks in order),
// each placed at its start offset, and ffprobe's per-stream start_time is only as good as its
// probe window (a participant who joined minutes in reads as starting at 0). The composite lays
// participants out by these starts.
import type { RecordingParticipant } from '@live-webrtc/shared';
import type { SourceInfo } from './args.js';

export function placeParticipants(
  src: SourceInfo,
  participants: readonly Pick<RecordingParticipant, 'output' | 'startOffsetMs' | 'tracks'>[],
): SourceInfo {
  const several = participants.filter((p) => p.output !== 'raw');
  if (several.length < 2) return src;
  const startOf: number[] = [];
  for (const p of several) for (const _ of p.tracks) startOf.push(p.startOffsetMs / 1000);
  // A raw file that is not laid out like that (streams ≠ tracks): leave ffprobe's figures.
  if (startOf.length !== src.video.length + src.audio.length) return src;
  return {
    ...src,
    video: src.video.map((v) => ({ ...v, start: startOf[v.index] ?? v.start })),
    audio: src.audio.map((a) => ({ ...a, start: startOf[a.index] ?? a.start })),
  };
}
