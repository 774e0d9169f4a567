// Every participant of a recording in an output of their own. A capture run records everyone in
// the room at its start (one stream per track, in the order of the run's tracks); someone joining
// or leaving starts a new run. So finalize knows, per run, which streams are whose, and where
// the run sits on the recording's timeline (its wall-clock start, paused spans cut out: the same
// placement the raw output uses). Participants are placed by when their media reached the
// recorder, never by comparing publishers' NTP clocks (README "A/V sync").
//
// A recording where no run has more than one participant keeps one output, `raw`, as before
// (a publisher who rejoins is a new participant, in the same file). With several at once:
//   - `participant-1`, `participant-2`, … (in order of arrival): that participant's audio +
//     video, their runs joined with the gaps between them kept;
//   - `raw`: every participant's streams in one file, each placed at its start offset.
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recordingKeys, type Logger, type RecordingOutput, type RecordingParticipant } from '@live-webrtc/shared';
import { buildConcatList, rawContainerFor, type ConcatSegment, type FfmpegInvocation, type RawContainer } from '../ffmpeg/args.js';
import { ffprobe } from '../ffmpeg/probe.js';
import { runFfmpeg } from '../ffmpeg/runner.js';
import type { RecorderDeps } from './deps.js';
import { retry } from './retry.js';

export interface RunLayout {
  run: number;
  tracks: { kind: 'audio' | 'video'; codec: string; participant: string }[];
}

export interface PlannedRun {
  run: number;
  segments: ConcatSegment[];
  /** Start and end on the recording's timeline, ms from its zero. */
  startMs: number;
  endMs: number;
  /** Stream indexes by participant id, in the run's order. */
  streams: Map<string, number[]>;
}

export interface PlannedParticipant {
  id: string;
  output: string;
  runs: PlannedRun[];
  tracks: { kind: 'audio' | 'video'; codec: string }[];
  startOffsetMs: number;
  endOffsetMs: number;
}

export interface ParticipantPlan {
  /** Some run had several participants at once: each gets an output of their own. */
  multi: boolean;
  runs: PlannedRun[];
  participants: PlannedParticipant[];
}

/**
 * Groups the segments (sorted by index, runAt already moved past the pauses) by run and places
 * runs on the timeline; null when a run's tracks are unknown (a recording from before runs were
 * recorded: finalized as one file, as then).
 */
export function planParticipants(layouts: readonly RunLayout[], segments: readonly ConcatSegment[]): ParticipantPlan | null {
  const byRun = new Map<number, ConcatSegment[]>();
  for (const s of segments) byRun.set(s.run, [...(byRun.get(s.run) ?? []), s]);
  const runs: PlannedRun[] = [];
  let prevEnd = 0;
  let zero: number | null = null;
  for (const [run, segs] of [...byRun].sort((a, b) => a[0] - b[0])) {
    const layout = layouts.find((l) => l.run === run);
    if (!layout) return null;
    const first = segs[0]!;
    const last = segs[segs.length - 1]!;
    const firstStart = first.start ?? 0;
    // Wall-clock placement of the run's first packet; a run without it follows the previous one.
    const wallStart = first.runAt != null ? first.runAt + firstStart * 1000 : null;
    zero ??= wallStart ?? 0;
    const startMs = Math.max(prevEnd, wallStart !== null ? wallStart - zero : prevEnd);
    const endMs = startMs + ((last.end ?? last.start ?? firstStart) - firstStart) * 1000;
    const streams = new Map<string, number[]>();
    layout.tracks.forEach((t, i) => streams.set(t.participant, [...(streams.get(t.participant) ?? []), i]));
    runs.push({ run, segments: segs, startMs: Math.round(startMs), endMs: Math.round(endMs), streams });
    prevEnd = endMs;
  }
  const multi = runs.some((r) => r.streams.size > 1);
  const participants: PlannedParticipant[] = [];
  for (const r of runs) {
    const layout = layouts.find((l) => l.run === r.run)!;
    for (const [id] of r.streams) {
      let p = participants.find((x) => x.id === id);
      if (!p) {
        p = {
          id,
          output: multi ? `participant-${participants.length + 1}` : 'raw',
          runs: [],
          tracks: layout.tracks.filter((t) => t.participant === id).map((t) => ({ kind: t.kind, codec: t.codec })),
          startOffsetMs: r.startMs,
          endOffsetMs: r.endMs,
        };
        participants.push(p);
      }
      p.runs.push(r);
      p.endOffsetMs = r.endMs;
    }
  }
  return { multi, runs, participants };
}

/** The manifest's view of the plan. */
export const participantsOf = (plan: ParticipantPlan): RecordingParticipant[] =>
  plan.participants.map((p) => ({
    id: p.id,
    output: p.output,
    startOffsetMs: p.startOffsetMs,
    endOffsetMs: p.endOffsetMs,
    tracks: p.tracks,
  }));

export interface BuiltOutput {
  name: string;
  path: string;
  container: RawContainer;
}

const containerOf = (codecs: readonly string[], name: string): RawContainer => {
  const c = rawContainerFor(codecs);
  return { ...c, file: `${name}.${c.format === 'webm' ? 'webm' : 'mkv'}` };
};

async function run(d: { ffmpegPath: string }, inv: FfmpegInvocation, what: string, log: Logger): Promise<void> {
  const exit = await runFfmpeg(inv, { ffmpegPath: d.ffmpegPath, logger: log }).exited;
  if (exit.code !== 0)
    throw new Error(`${what} failed (${exit.error ?? `exit ${exit.code ?? exit.signal}`}): ${exit.stderrTail.slice(-3).join(' | ')}`);
}

const GLOBALS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];

/**
 * Builds every participant's file and the combined raw file in `dir`: one ffmpeg per run splits
 * the run's joined segments by participant (stream copy), one per participant with several runs
 * joins them (gaps kept), and one places everyone in the raw file at their offsets.
 */
export async function buildParticipantOutputs(
  d: { ffmpegPath: string },
  plan: ParticipantPlan,
  dir: string,
  log: Logger,
): Promise<{ raw: BuiltOutput; outputs: BuiltOutput[] }> {
  /** Per participant, their part of every run: path and placement for joining. */
  const parts = new Map<string, ConcatSegment[]>();
  for (const r of plan.runs) {
    const list = join(dir, `run-${r.run}.ffconcat`);
    await writeFile(list, buildConcatList(r.segments));
    const outputs: { path: string; options: string[] }[] = [];
    for (const [id, streams] of r.streams) {
      const p = plan.participants.find((x) => x.id === id)!;
      const c = containerOf(
        p.tracks.map((t) => t.codec),
        p.output,
      );
      const path = join(dir, `run-${r.run}-${p.output}.${c.format === 'webm' ? 'webm' : 'mkv'}`);
      outputs.push({ path, options: [...streams.flatMap((i) => ['-map', `0:${i}`]), '-c', 'copy', '-f', c.format] });
      const first = r.segments[0]!;
      const last = r.segments[r.segments.length - 1]!;
      parts.set(id, [
        ...(parts.get(id) ?? []),
        {
          path,
          run: r.run,
          start: first.start ?? 0,
          end: last.end ?? (first.start ?? 0) + (r.endMs - r.startMs) / 1000,
          runAt: first.runAt ?? null,
        },
      ]);
    }
    const lastOut = outputs.pop()!;
    await run(
      d,
      {
        globalOptions: GLOBALS,
        inputs: [{ options: ['-f', 'concat', '-safe', '0'], path: list }],
        outputOptions: [...outputs.flatMap((o) => [...o.options, '-y', o.path]), ...lastOut.options],
        output: lastOut.path,
      },
      `splitting run ${r.run} by participant`,
      log,
    );
  }
  const built: BuiltOutput[] = [];
  for (const p of plan.participants) {
    const c = containerOf(
      p.tracks.map((t) => t.codec),
      p.output,
    );
    const path = join(dir, c.file);
    const mine = parts.get(p.id) ?? [];
    const list = join(dir, `${p.output}.ffconcat`);
    await writeFile(list, buildConcatList(mine));
    await run(
      d,
      {
        globalOptions: GLOBALS,
        inputs: [{ options: ['-f', 'concat', '-safe', '0'], path: list }],
        outputOptions: ['-map', '0', '-c', 'copy', '-f', c.format],
        output: path,
      },
      `joining ${p.output}`,
      log,
    );
    built.push({ name: p.output, path, container: c });
  }
  // Everyone in one file, each at their offset on the recording's timeline.
  const rawC = rawContainerFor(plan.participants.flatMap((p) => p.tracks.map((t) => t.codec)));
  const rawPath = join(dir, rawC.file);
  await run(
    d,
    {
      globalOptions: GLOBALS,
      inputs: plan.participants.map((p, i) => ({ options: ['-itsoffset', (p.startOffsetMs / 1000).toFixed(3)], path: built[i]!.path })),
      outputOptions: [...plan.participants.flatMap((_, i) => ['-map', String(i)]), '-c', 'copy', '-f', rawC.format],
      output: rawPath,
    },
    'combining the participants into the raw file',
    log,
  );
  return { raw: { name: 'raw', path: rawPath, container: rawC }, outputs: built };
}

/**
 * The several-participants finalize: builds and uploads every participant's output, records
 * them and the participants in the manifest, and returns the raw file (uploaded by the caller
 * like a one-participant raw, which makes the recording ready).
 */
export async function finalizeParticipants(
  d: RecorderDeps,
  id: string,
  plan: ParticipantPlan,
  dir: string,
  log: Logger,
): Promise<{ container: RawContainer; output: string }> {
  const built = await buildParticipantOutputs({ ffmpegPath: d.settings.ffmpegPath }, plan, dir, log);
  const outputs: RecordingOutput[] = [];
  for (const o of built.outputs) {
    const probe = await ffprobe(o.path, d.settings.ffprobePath);
    const size = (await stat(o.path)).size;
    await retry(() => d.storage.putFile(recordingKeys.output(id, o.container.file), o.path, o.container.contentType), {
      attempts: 60,
      maxDelayMs: 3000,
      onRetry: (err, attempt) => log.warn({ err, attempt, output: o.name }, 'participant output upload failed; retrying'),
    });
    outputs.push({
      name: o.name,
      file: o.container.file,
      contentType: o.container.contentType,
      size,
      status: 'ready',
      progress: 1,
      durationMs: probe.format.duration !== undefined ? Math.round(probe.format.duration * 1000) : null,
    });
  }
  // A leaver's media ends when they left, before their last run did (that run went on until the
  // next one was fed): their end is where their own file ends.
  const participants = participantsOf(plan).map((p) => {
    const ms = outputs.find((o) => o.name === p.output)?.durationMs;
    return ms != null ? { ...p, endOffsetMs: Math.min(p.endOffsetMs ?? Infinity, p.startOffsetMs + ms) } : p;
  });
  await d.store.update(id, (r) => ({
    ...r,
    participants,
    outputs: [...r.outputs.filter((x) => !outputs.some((o) => o.name === x.name)), ...outputs],
  }));
  log.info(
    { participants: participants.map((p) => ({ output: p.output, startOffsetMs: p.startOffsetMs, endOffsetMs: p.endOffsetMs })) },
    'participant outputs stored',
  );
  return { container: built.raw.container, output: built.raw.path };
}

/** One participant at a time (or one after another): the raw output is theirs; record who and when. */
export async function saveParticipants(d: RecorderDeps, id: string, plan: ParticipantPlan): Promise<void> {
  await d.store.update(id, (r) => ({ ...r, participants: participantsOf(plan) }));
}
