// The recorder's own metrics, on the shared registry (which also carries recording
// transitions and default process metrics).
import { Counter, Gauge, Histogram, createMetrics, type Metrics } from '@live-webrtc/shared';

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
  /** From starting ffmpeg to its RTP/RTCP ports being bound, seconds (slow on a loaded host). */
  readonly ffmpegBindSeconds: Histogram;
  /** Finalize job duration, seconds. */
  readonly finalizeSeconds: Histogram;
  /** From the recording's stop request (stoppedAt) to `ready`, seconds. */
  readonly stopToReadySeconds: Histogram;
  /** Admission budget of this recorder, kbit/s (RECORDER_COST_BUDGET_KBPS). */
  readonly costBudgetKbps: Gauge;
  /** What this recorder's running captures cost, kbit/s. */
  readonly costUsedKbps: Gauge;
  /** Keyframes this recorder asked the SFU for (first frame, segment boundaries). */
  readonly keyframeRequests: Counter;
  /** RTP packets of a capture's tracks lost (sequence gaps) or late (arrived after a later one), as the recorder saw them. */
  readonly rtpPackets: Counter<'result'>;
  /** Storage uploads by kind: segment, part (continuous file while growing), complete (its end), output (a joined file). */
  readonly uploadSeconds: Histogram<'kind'>;
  /** Bytes uploaded after the stop for the raw output: a continuous file's head + tail, or a whole joined file. */
  readonly stopUploadBytes: Histogram;
  /** Bytes of continuous files written but not yet uploaded beyond what a stop sends anyway (S3 falling behind). */
  readonly continuousBacklogBytes: Gauge;
  /** How finalize made the raw output: fast (a run's continuous file) or join (segments re-joined), and why. */
  readonly finalizePath: Counter<'path' | 'reason'>;
  /** Captures this recorder handed on to a new run because their recorder's heartbeat lapsed. */
  readonly takeovers: Counter;
  /** Capture runs that ended and handed the recording on to a new run, by cause. */
  readonly runRestarts: Counter<'cause'>;
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
    ffmpegBindSeconds: new Histogram({
      name: 'lw_recorder_ffmpeg_bind_seconds',
      help: 'Time from starting a capture ffmpeg to its RTP/RTCP ports being bound',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60],
      registers,
    }),
    finalizeSeconds: new Histogram({ name: 'lw_recorder_finalize_seconds', help: 'Finalize job duration', buckets: fast, registers }),
    stopToReadySeconds: new Histogram({
      name: 'lw_recorder_stop_to_ready_seconds',
      help: 'Time from the stop request to the raw output being ready',
      buckets: fast,
      registers,
    }),
    costBudgetKbps: new Gauge({ name: 'lw_recorder_cost_budget_kbps', help: 'Admission budget of this recorder, kbit/s', registers }),
    costUsedKbps: new Gauge({ name: 'lw_recorder_cost_used_kbps', help: "What this recorder's running captures cost, kbit/s", registers }),
    keyframeRequests: new Counter({
      name: 'lw_recorder_keyframe_requests_total',
      help: 'Keyframes this recorder asked the SFU for',
      registers,
    }),
    rtpPackets: new Counter({
      name: 'lw_recorder_rtp_packets_total',
      help: 'RTP packets seen by the recorder: received, lost (sequence gaps) or late (older than one already seen)',
      labelNames: ['result'],
      registers,
    }),
    uploadSeconds: new Histogram({
      name: 'lw_recorder_upload_seconds',
      help: 'Storage upload latency by kind (segment, part, complete, output)',
      labelNames: ['kind'],
      buckets: fast,
      registers,
    }),
    stopUploadBytes: new Histogram({
      name: 'lw_recorder_stop_upload_bytes',
      help: "Bytes uploaded after the stop for the raw output (a continuous file's head and tail, or a whole joined file)",
      buckets: [
        256 * 1024,
        1024 * 1024,
        4 * 1024 * 1024,
        8 * 1024 * 1024,
        16 * 1024 * 1024,
        64 * 1024 * 1024,
        256 * 1024 * 1024,
        1024 * 1024 * 1024,
      ],
      registers,
    }),
    continuousBacklogBytes: new Gauge({
      name: 'lw_recorder_continuous_backlog_bytes',
      help: 'Continuous-file bytes written but not yet uploaded beyond the head and one part (storage falling behind)',
      registers,
    }),
    finalizePath: new Counter({
      name: 'lw_recorder_finalize_path_total',
      help: 'Raw outputs made from a continuous file (fast), a shared upload of parked runs (join_parked), run files copied together (join_runs) or segments (join), by reason',
      labelNames: ['path', 'reason'],
      registers,
    }),
    takeovers: new Counter({
      name: 'lw_recorder_takeovers_total',
      help: "Captures handed on to a new run because their recorder's heartbeat lapsed",
      registers,
    }),
    runRestarts: new Counter({
      name: 'lw_recorder_run_restarts_total',
      help: 'Capture runs that handed their recording on to a new run, by cause',
      labelNames: ['cause'],
      registers,
    }),
  };
}
