// The raw file as ffmpeg's input, and what it holds. Transcodes read the raw where it lies
// instead of copying it first: a local-storage file by its path, an S3 object through a
// presigned URL (ffmpeg reads it over HTTP with range requests, reconnecting on errors). Only
// storage that can do neither is downloaded to the job's scratch directory.
import type { Storage } from '@live-webrtc/shared';
import { ffprobe } from '../ffmpeg/probe.js';
import type { SourceInfo } from './args.js';

export interface RawInput {
  /** A path or URL for ffmpeg's `-i`. */
  input: string;
  /** Input options that go before it. */
  options: string[];
  /** How it is read, for logs. */
  via: 'path' | 'url' | 'copy';
}

/** Lifetime of the URL ffmpeg reads an S3 raw through: longer than any transcode. */
const RAW_URL_TTL_S = 6 * 3600;

// ffmpeg's http protocol: reconnect on a dropped connection or a network error mid-file.
const HTTP_INPUT = ['-reconnect', '1', '-reconnect_on_network_error', '1', '-reconnect_delay_max', '5'];

export async function openRaw(storage: Storage, key: string, scratchPath: string): Promise<RawInput> {
  if ('pathOf' in storage && typeof storage.pathOf === 'function') {
    return { input: (storage.pathOf as (k: string) => string).call(storage, key), options: [], via: 'path' };
  }
  const url = await storage.presignGet(key, RAW_URL_TTL_S).catch(() => null);
  if (url) return { input: url, options: HTTP_INPUT, via: 'url' };
  await storage.download(key, scratchPath);
  return { input: scratchPath, options: [], via: 'copy' };
}

export async function probeSource(path: string, ffprobePath: string): Promise<SourceInfo> {
  const p = await ffprobe(path, ffprobePath);
  const start0 = p.format.start_time ?? 0;
  const video = p.streams
    .filter((s) => s.codec_type === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0)
    .map((s) => ({
      index: s.index,
      codec: s.codec_name,
      width: s.width!,
      height: s.height!,
      start: Math.max(0, (s.start_time ?? start0) - start0),
    }));
  const audio = p.streams
    .filter((s) => s.codec_type === 'audio')
    .map((s) => ({ index: s.index, codec: s.codec_name, start: Math.max(0, (s.start_time ?? start0) - start0) }));
  return { durationS: p.format.duration ?? 0, video, audio };
}
