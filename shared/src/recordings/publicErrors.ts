// What a client is told about a failed recording or output: the typed code and a fixed message
// written for that code. The message stored with the failure is the operator's detail (ffmpeg's
// stderr, an S3 error naming the bucket and endpoint, a host name) and stays in the manifest and
// the logs; it never reaches the API, the web app or a webhook, because every public shape is
// rendered through `presentError`.
import type { FailureCode } from './lifecycle.js';

const RECORDING_FAILURES: Record<FailureCode, string> = {
  no_media: 'no decodable media reached the recorder before the recording was stopped or timed out',
  no_recorder: 'no recorder took the capture in time; try again when recorder capacity is available',
  tap_failed: 'the media server could not attach the recording to the room (no publisher, or the room closed)',
  capture_failed: 'the recorder could not capture the room',
  capture_lost: 'the recorder capturing the room stopped before any media was stored',
  recorder_shutdown: 'the recorder shut down before any media arrived',
  ffmpeg_failed: 'the media could not be processed',
  no_segments: 'nothing was captured, so there was nothing to finalize',
  segment_missing: 'a captured segment could not be read back from storage',
  finalize_failed: 'the captured media could not be joined into the recording file',
  upload_failed: 'the file could not be stored',
  abandoned: 'the recording was left unfinished by a recorder that went away, with nothing stored to finish it from',
};

/** Codes of a transcoded output's failure (the recorder's transcode job). */
const OUTPUT_FAILURES: Record<string, string> = {
  recording_not_found: 'the recording no longer exists',
  output_not_requested: 'this output was not requested for the recording',
  raw_not_ready: 'the recording was not ready to be transcoded',
  raw_unreadable: 'the recorded file could not be read',
  no_video: 'the recording has no video stream',
  no_audio: 'the recording has no audio stream',
  empty_output: 'the transcoder produced no file',
  unreadable_output: 'the transcoder produced a file that is not readable',
  transcode_aborted: 'the recorder stopped while transcoding; it will be retried',
  transcode_failed: 'the output could not be transcoded',
};

const MESSAGES: Readonly<Record<string, string>> = { ...OUTPUT_FAILURES, ...RECORDING_FAILURES };
const CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** The safe public message for a failure code (a generic one for a code without its own). */
export function publicFailureMessage(code: string): string {
  return MESSAGES[code] ?? 'the operation failed; the operator can find the reason in the service logs';
}

/** A stored failure as clients see it: its code (when well formed) and that code's fixed message. */
export function presentError(e: { code: string; message: string } | null | undefined): { code: string; message: string } | null {
  if (!e) return null;
  const code = CODE.test(e.code) ? e.code : 'internal';
  return { code, message: publicFailureMessage(code) };
}
