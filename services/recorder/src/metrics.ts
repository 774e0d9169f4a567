// The recorder's own metrics, on the shared registry (which also carries recording
// transitions and default process metrics).
import { Counter, Gauge, Histogram, createMetrics, createTranscodeMetrics, type Metrics } from '@live-webrtc/shared';

export interface RecorderMetrics extends Metrics {
  readonly activeCaptures: Gauge;
  /** Capture slots this process still has free (concurrency − active). */
  readonly captureCapacity: Gauge;
  readonly segmentsUploaded: Counter;
  readonly segmentUploadFailures: Counter;
  readonly captureFailures: Counter<'code'>;
  /** From `listening` to ffmpeg's first decodable frame, seconds. */
  readonly firstFrameSeconds: Histogram;
  /** From the stop signal to ffmpeg's exit, seconds. */
  readonly ffmpegStopSeconds: Histogram;
  /** Finalize job duration, seconds. */
  readonly finalizeSeconds: Histogram;
  /** From the recording's stop request (stoppedAt) to `ready`, seconds. */
  readonly stopToReadySeconds: Histogram;
  /** Transcode job duration by output kind and outcome, seconds (observed by the transcoder). */
  readonly transcodeSeconds: Histogram<'output' | 'outcome'>;
}

/** Creates the registry and every recorder collector. `concurrency` sets the initial capacity. */
export function createRecorderMetrics(concurrency: number): RecorderMetrics {
  const base = createMetrics('recorder');
  const registers = [base.registry];
  const captureCapacity = new Gauge({ name: 'lw_recorder_capture_capacity', help: 'Capture slots free in this process', registers });
  captureCapacity.set(concurrency);
  const fast = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
  return {
    ...base,
    activeCaptures: new Gauge({ name: 'lw_recorder_active_captures', help: 'Captures (ffmpeg processes) running', registers }),
    captureCapacity,
    segmentsUploaded: new Counter({ name: 'lw_recorder_segments_uploaded_total', help: 'Capture segments uploaded to storage', registers }),
    segmentUploadFailures: new Counter({
      name: 'lw_recorder_segment_upload_failures_total',
      help: 'Segment uploads that failed after every retry (the local copy is kept)',
      registers,
    }),
    captureFailures: new Counter({
      name: 'lw_recorder_capture_failures_total',
      help: 'Recordings failed by this recorder (capture or finalize), by error code',
      labelNames: ['code'],
      registers,
    }),
    firstFrameSeconds: new Histogram({
      name: 'lw_recorder_first_frame_seconds',
      help: 'Time from listening to the first decodable frame',
      buckets: fast,
      registers,
    }),
    ffmpegStopSeconds: new Histogram({
      name: 'lw_recorder_ffmpeg_stop_seconds',
      help: 'Time from the stop signal to ffmpeg exiting',
      buckets: fast,
      registers,
    }),
    finalizeSeconds: new Histogram({ name: 'lw_recorder_finalize_seconds', help: 'Finalize job duration', buckets: fast, registers }),
    stopToReadySeconds: new Histogram({
      name: 'lw_recorder_stop_to_ready_seconds',
      help: 'Time from the stop request to the raw output being ready',
      buckets: fast,
      registers,
    }),
    transcodeSeconds: createTranscodeMetrics(base.registry),
  };
}
