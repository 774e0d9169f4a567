// A capture run ended by a pause: the recording is neither finalized nor handed on. The run's
// segments are already uploaded (the caller finishes its uploader first); the claim goes, so the
// recorder's sweep does not take a paused recording for abandoned, and the SFU hears the run
// ended. `resume` (RecordingLifecycle) queues the next run.
import { encodeMessage, type Logger } from '@live-webrtc/shared';
import type { RecorderDeps } from './deps.js';

export async function endPausedRun(d: RecorderDeps, id: string, attempt: number, run: number, log: Logger): Promise<void> {
  await d.runs.release(id, attempt);
  await d.redis.publish(
    d.keys.recordingChannel(id),
    encodeMessage({ type: 'capture-ended', recordingId: id, firstSegment: run, reason: 'paused' }),
  );
  log.info({ attempt }, 'recording paused; capture run ended');
}
