// ffprobe, parsed: what a media file holds (streams, container, duration) and the timing of
// its packets. ffprobe's own JSON output is used rather than fluent-ffmpeg's text parser.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';

const exec = promisify(execFile);

// ffprobe prints numbers as strings in most fields; accept both, keep only what we use.
const num = z
  .union([z.string(), z.number()])
  .transform((v) => Number(v))
  .pipe(z.number().finite());

const ProbeSchema = z.object({
  streams: z
    .array(
      z.object({
        index: z.number().int(),
        codec_type: z.string(),
        codec_name: z.string().default('unknown'),
        start_time: num.optional(),
        duration: num.optional(),
        width: z.number().int().optional(),
        height: z.number().int().optional(),
        sample_rate: num.optional(),
        channels: z.number().int().optional(),
      }),
    )
    .default([]),
  format: z.object({
    format_name: z.string(),
    start_time: num.optional(),
    duration: num.optional(),
    size: num.optional(),
  }),
});
export type ProbeResult = z.infer<typeof ProbeSchema>;

/** ffprobe -show_streams -show_format of `path`; rejects when ffprobe fails or cannot read it. */
export async function ffprobe(path: string, ffprobePath = 'ffprobe'): Promise<ProbeResult> {
  const { stdout } = await exec(ffprobePath, ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', path], {
    maxBuffer: 4 * 1024 * 1024,
  });
  return ProbeSchema.parse(JSON.parse(stdout));
}

export interface PacketInfo {
  streamIndex: number;
  /** Presentation time, seconds. */
  pts: number;
  /** Duration, seconds (0 when unknown). */
  duration: number;
  keyframe: boolean;
}

/**
 * The first `count` packets of the streams `select` picks ("v:0", "a", …; all when omitted),
 * or all packets when `count` is omitted.
 */
export async function probePackets(path: string, o: { select?: string; count?: number; ffprobePath?: string } = {}): Promise<PacketInfo[]> {
  const args = ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time,duration_time,flags', '-of', 'csv=p=0'];
  if (o.select) args.push('-select_streams', o.select);
  if (o.count !== undefined) args.push('-read_intervals', `%+#${o.count}`);
  const { stdout } = await exec(o.ffprobePath ?? 'ffprobe', [...args, path], { maxBuffer: 64 * 1024 * 1024 });
  const out: PacketInfo[] = [];
  for (const line of stdout.split('\n')) {
    const [idx, pts, dur, flags] = line.trim().split(',');
    if (idx === undefined || pts === undefined || pts === 'N/A' || pts === '') continue;
    out.push({
      streamIndex: Number(idx),
      pts: Number(pts),
      duration: dur === undefined || dur === 'N/A' ? 0 : Number(dur),
      keyframe: (flags ?? '').startsWith('K'),
    });
  }
  return out;
}

/** First and last media time of a file (seconds): min packet pts, max pts + duration. */
export async function probeTimeline(path: string, ffprobePath?: string): Promise<{ start: number; end: number } | null> {
  const packets = await probePackets(path, ffprobePath ? { ffprobePath } : {});
  if (packets.length === 0) return null;
  let start = Infinity;
  let end = -Infinity;
  for (const p of packets) {
    start = Math.min(start, p.pts);
    end = Math.max(end, p.pts + p.duration);
  }
  return { start, end };
}
