// What the job handlers need; built once in service.ts.
import { join } from 'node:path';
import type { ChannelHub, JobQueues, Logger, RecordingStore, Redis, RedisKeys, Storage } from '@live-webrtc/shared';
import type { RecorderMetrics } from '../metrics.js';
import type { PortAllocator } from '../ports.js';

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
  ffmpegPath: string;
  ffprobePath: string;
}

export interface RecorderDeps {
  settings: RecorderSettings;
  store: RecordingStore;
  storage: Storage;
  /** Commands (publish, store); never put in subscriber mode. */
  redis: Redis;
  /** Shared subscriber for per-recording channels. */
  hub: ChannelHub;
  keys: RedisKeys;
  queues: JobQueues;
  ports: PortAllocator;
  metrics: RecorderMetrics;
  logger: Logger;
}

/** The recording's scratch directory (segments of every run, finalize's files). */
export const recordingWorkDir = (s: Pick<RecorderSettings, 'workDir'>, id: string): string => join(s.workDir, id);
