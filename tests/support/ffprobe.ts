import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProbeStream {
  index: number;
  codec_type: string;
  codec_name: string;
  start_time?: string;
  duration?: string;
  width?: number;
  height?: number;
}

export interface Probe {
  streams: ProbeStream[];
  format: { format_name: string; duration?: string; size?: string };
}

export async function ffprobe(path: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', path]);
  return JSON.parse(stdout) as Probe;
}

/** Whether the first video packet is a keyframe ("K" flag). */
export async function firstVideoPacketIsKey(path: string): Promise<boolean> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=flags',
    '-read_intervals',
    '%+#1',
    '-of',
    'csv=p=0',
    path,
  ]);
  return (stdout.trim().split('\n')[0] ?? '').startsWith('K');
}

/** Start time of each stream (s), to measure the A/V offset at the start of a file. */
export async function streamStartTimes(path: string): Promise<{ audio: number; video: number }> {
  const p = await ffprobe(path);
  const a = p.streams.find((s) => s.codec_type === 'audio');
  const v = p.streams.find((s) => s.codec_type === 'video');
  return { audio: Number(a?.start_time ?? NaN), video: Number(v?.start_time ?? NaN) };
}
