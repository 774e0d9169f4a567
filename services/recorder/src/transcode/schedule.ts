// Which outputs a ready recording gets, and queueing their jobs: the recording's own choice
// (start request body) or the deployment's TRANSCODE_OUTPUTS, minus what its tracks cannot
// give (no poster without video, no composite with fewer than two videos).
import {
  addPendingOutputs,
  jobIds,
  loadRecordingOptions,
  type JobQueues,
  type Logger,
  type Recording,
  type Storage,
  type RecordingStore,
  type TranscodeOutputName,
} from '@live-webrtc/shared';

/** The requested outputs that the recording's tracks allow (all but composite when tracks are unknown). */
export function applicableOutputs(
  requested: readonly TranscodeOutputName[],
  tracks: readonly { kind: 'audio' | 'video' }[],
): TranscodeOutputName[] {
  const videos = tracks.filter((t) => t.kind === 'video').length;
  const audios = tracks.filter((t) => t.kind === 'audio').length;
  const known = tracks.length > 0;
  return requested.filter((n) => {
    switch (n) {
      case 'poster':
      case 'sprite':
        return !known || videos > 0;
      case 'audio':
        return !known || audios > 0;
      case 'composite':
        return known && videos >= 2;
      default:
        return true;
    }
  });
}

/** Queue priority (lower first): the mp4 and the poster are what users wait for. */
const PRIORITY: Record<TranscodeOutputName, number> = { mp4: 1, poster: 1, audio: 2, hls: 3, sprite: 3, composite: 4 };

export interface ScheduleDeps {
  store: RecordingStore;
  storage: Storage;
  queues: JobQueues;
  logger: Logger;
  /** TRANSCODE_OUTPUTS. */
  defaults: readonly TranscodeOutputName[];
  /** Attempts per transcode job. */
  attempts: number;
}

/** Adds the recording's outputs as `pending` and queues one TranscodeRecording job per output. */
export async function scheduleTranscodes(d: ScheduleDeps, rec: Recording): Promise<TranscodeOutputName[]> {
  const options = await loadRecordingOptions(d.storage, rec.id).catch(() => null);
  const names = applicableOutputs(options?.outputs ?? d.defaults, rec.tracks);
  if (names.length === 0) return [];
  await addPendingOutputs(d.store, rec.id, names);
  for (const output of names) {
    await d.queues.enqueue(
      'TranscodeRecording',
      { v: 1, recordingId: rec.id, output, ...(options?.traceparent ? { traceparent: options.traceparent } : {}) },
      {
        jobId: jobIds.transcode(rec.id, output),
        priority: PRIORITY[output],
        attempts: d.attempts,
        backoff: { type: 'exponential', delay: 2000 },
      },
    );
  }
  d.logger.info({ recordingId: rec.id, outputs: names }, 'transcodes queued');
  return names;
}
