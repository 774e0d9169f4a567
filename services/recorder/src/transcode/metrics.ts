// Metrics of the transcoding pipeline and webhook delivery, on the recorder's registry.
import { Counter, Gauge, Histogram, type Registry } from '@live-webrtc/shared';

export interface TranscodeMetrics {
  /** Transcode job run time (ffmpeg), seconds, by output. */
  readonly transcodeSeconds: Histogram<'output'>;
  /** From the recording's stop request to the output being ready, seconds, by output. */
  readonly stopToOutputReadySeconds: Histogram<'output'>;
  readonly transcodeFailures: Counter<'output' | 'code'>;
  /** Estimated cores of the transcodes running now. */
  readonly transcodeCpuUsed: Gauge;
  readonly webhookDeliveries: Counter<'outcome'>;
}

export function createTranscodeMetrics(registry: Registry): TranscodeMetrics {
  const registers = [registry];
  const slow = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];
  return {
    transcodeSeconds: new Histogram({
      name: 'lw_recorder_transcode_seconds',
      help: 'Transcode run time by output',
      labelNames: ['output'],
      buckets: slow,
      registers,
    }),
    stopToOutputReadySeconds: new Histogram({
      name: 'lw_recorder_stop_to_output_ready_seconds',
      help: 'Time from the stop request to a transcoded output being ready, by output',
      labelNames: ['output'],
      buckets: slow,
      registers,
    }),
    transcodeFailures: new Counter({
      name: 'lw_recorder_transcode_failures_total',
      help: 'Outputs failed after their last attempt, by output and error code',
      labelNames: ['output', 'code'],
      registers,
    }),
    transcodeCpuUsed: new Gauge({ name: 'lw_recorder_transcode_cpu_used', help: 'Estimated cores used by running transcodes', registers }),
    webhookDeliveries: new Counter({
      name: 'lw_recorder_webhook_deliveries_total',
      help: 'Webhook deliveries by outcome (delivered, or failed after the last attempt)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
