// What a raw file holds, for the transcode builders: ffprobe's streams reduced to SourceInfo.
import { ffprobe } from '../ffmpeg/probe.js';
import type { SourceInfo } from './args.js';

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
