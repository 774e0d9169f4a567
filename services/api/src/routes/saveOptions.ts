// A started recording's options (outputs, webhook URLs, trace context) are saved next to its
// manifest after the SFU has started it. Storage down at that moment must not turn a started
// recording into a 500 (the client would retry and hit 409, or believe nothing records): the
// save is retried in the background, with backoff, while the recording goes on. The transcoder
// and webhook delivery read the options only once the recording is ready, minutes later.
import { saveRecordingOptions, type Logger, type RecordingOptions, type Storage } from '@live-webrtc/shared';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SaveOptionsRetry {
  /** First wait after a failed save, ms; doubles up to maxDelayMs. Default 1000. */
  baseDelayMs?: number;
  /** Default 30000. */
  maxDelayMs?: number;
  /** Give up (logged as an error) after this long, ms. Default 15 minutes. */
  giveUpAfterMs?: number;
}

/**
 * Saves the options now; if storage refuses, returns false at once and keeps trying in the
 * background. True when saved now.
 */
export async function saveOptionsOrRetry(
  storage: Storage,
  id: string,
  options: RecordingOptions,
  logger: Logger,
  o: SaveOptionsRetry = {},
): Promise<boolean> {
  try {
    await saveRecordingOptions(storage, id, options);
    return true;
  } catch (err) {
    logger.warn({ err, recordingId: id }, 'could not save the recording options (storage down?); retrying in the background');
    void retryInBackground(storage, id, options, logger, o);
    return false;
  }
}

async function retryInBackground(
  storage: Storage,
  id: string,
  options: RecordingOptions,
  logger: Logger,
  o: SaveOptionsRetry,
): Promise<void> {
  const until = Date.now() + (o.giveUpAfterMs ?? 15 * 60_000);
  let delay = o.baseDelayMs ?? 1000;
  for (;;) {
    await sleep(delay, undefined, { ref: false });
    try {
      await saveRecordingOptions(storage, id, options);
      logger.info({ recordingId: id }, 'recording options saved after a retry');
      return;
    } catch (err) {
      if (Date.now() >= until) {
        logger.error({ err, recordingId: id }, 'gave up saving the recording options: its outputs and webhooks use the defaults');
        return;
      }
      delay = Math.min(delay * 2, o.maxDelayMs ?? 30_000);
    }
  }
}
