// What the job handlers need; built once in service.ts.
import { join } from 'node:path';
import type {
  CaptureRuns,
  ChannelHub,
  JobQueues,
  Logger,
  RecordingLifecycle,
  RecordingStore,
  Redis,
  RedisKeys,
  Storage,
} from '@live-webrtc/shared';
import type { RecorderMetrics } from '../metrics.js';
import type { CaptureCosts } from '../capacity.js';
import type { PortAllocator } from '../ports.js';
import type { LiveMp4s } from '../transcode/liveMp4.js';
import type { TapClient } from '../sfu/tapClient.js';

export interface RecorderSettings {
  /** IP ffmpeg binds and the SFU sends to. */
  host: string;
  /** Scratch directory; one sub-directory per recording. */
  workDir: string;
  /** Segment length, seconds. */
  segmentSeconds: number;
  /** No decodable frame this long after `listening` → the capture fails with no_media, ms. */
  firstFrameTimeoutMs: number;
  /** ffmpeg ends a capture after this long without any packet (the recording is then finalized), s; 0 = never. */
  mediaTimeoutS: number;
  /** How often a capture re-reads its recording's status (the lossless stop path), ms. Default 1000. */
  statusPollMs?: number;
  /** ffmpeg gets this long to finish its files after the stop signal before SIGKILL, ms. Default 5000. */
  stopTimeoutMs?: number;
  /** A run with no tap (publisher away, SFU restarting) keeps asking this long before finalizing, s. */
  rejoinGraceS: number;
  /** On shutdown with another recorder up, how long the run keeps recording for the next one to take over, ms. Default 8000. */
  handoverWaitMs?: number;
  /** How long ending a recording waits for an earlier run's segments to be stored, ms. Default 30000. */
  earlierRunWaitMs?: number;
  /** ffmpeg whose progress file has not grown this long is stuck and replaced by a new run, ms. */
  stuckMs: number;
  /** How long a run waits for its ffmpeg to bind its ports, ms. Default 15000. */
  bindTimeoutMs?: number;
  /** Runs that keep failing to start are retried as new runs (with backoff) this long, s. Default 60. */
  startRetryS?: number;
  ffmpegPath: string;
  ffprobePath: string;
}

export interface RecorderDeps {
  settings: RecorderSettings;
  /** This recorder process's id (its heartbeat key, its claims). */
  recorderId: string;
  store: RecordingStore;
  lifecycle: RecordingLifecycle;
  runs: CaptureRuns;
  tap: TapClient;
  storage: Storage;
  /** Commands (publish, store); never put in subscriber mode. */
  redis: Redis;
  /** Shared subscriber for per-recording channels. */
  hub: ChannelHub;
  keys: RedisKeys;
  queues: JobQueues;
  ports: PortAllocator;
  metrics: RecorderMetrics;
  /** What this recorder's captures cost (admission). */
  costs: CaptureCosts;
  /** mp4s encoded while recording (absent on capture-only recorders). */
  liveMp4?: LiveMp4s;
  logger: Logger;
}

/** The recording's scratch directory (segments of every run, finalize's files). */
export const recordingWorkDir = (s: Pick<RecorderSettings, 'workDir'>, id: string): string => join(s.workDir, id);
