// The one module that runs ffmpeg, and the only user of fluent-ffmpeg (its repository is
// archived: keep it replaceable here). Spawns an invocation built by args.ts, streams stderr
// lines to a callback, and stops ffmpeg the way that finalizes its files: ONE graceful
// signal, a wait, and SIGKILL only after a timeout.
//
// The graceful signal is SIGINT rather than `q` on stdin: ffmpeg runs with -nostdin, so there
// is no pipe to break (the EPIPE pitfall). SIGINT, like `q`, makes ffmpeg write its trailers
// (exit code 255 instead of 0). A second signal is never sent: it would abort the trailer
// writes. Callers that can end ffmpeg's input more gently (capture: an RTCP BYE, see rtcp.ts)
// do that first and give it `graceMs` before the signal.
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { SpanStatusCode, tracer, type Logger } from '@live-webrtc/shared';
import { toArgv, type FfmpegInvocation } from './args.js';

export interface FfmpegExit {
  /** Exit code; null when it ended by a signal or never started. */
  code: number | null;
  /** The signal that ended it ("SIGKILL"), if any. */
  signal: string | null;
  /** stop() was called before it exited. */
  stopped: boolean;
  /** It ignored the graceful signal and was SIGKILLed. */
  killed: boolean;
  /** Why it could not run (spawn failure, missing format), if that is what happened. */
  error: string | null;
  /** The last stderr lines, for failure messages. */
  stderrTail: string[];
}

export interface FfmpegProcess {
  /** Resolves (never rejects) once ffmpeg has exited. */
  readonly exited: Promise<FfmpegExit>;
  /** True from spawn until exit. */
  readonly running: boolean;
  /** The ffmpeg process id once spawned (for leftover cleanup after a crash). */
  readonly pid: number | undefined;
  /**
   * Waits `graceMs` for ffmpeg to end by itself (e.g. its input was ended), then sends one
   * SIGINT (ffmpeg finalizes its outputs), SIGKILLs after `killAfterMs`, and resolves with the
   * exit. Idempotent: later calls return the same promise.
   */
  stop(o?: StopOptions): Promise<FfmpegExit>;
}

export interface StopOptions {
  /** Time ffmpeg gets to exit on its own before the SIGINT, ms. Default 0. */
  graceMs?: number;
  /** Time from the SIGINT to SIGKILL, ms. Default 5000. */
  killAfterMs?: number;
}

export interface RunFfmpegOptions {
  /** ffmpeg executable. Default "ffmpeg" (PATH). */
  ffmpegPath?: string;
  /** Called with every stderr line as it arrives. Errors thrown are contained. */
  onLine?: (line: string) => void;
  logger?: Logger;
  /** stderr lines kept for FfmpegExit.stderrTail. Default 30. */
  tailLines?: number;
  /** Run at this niceness (transcodes: below live captures). Default: the recorder's own. */
  niceness?: number;
  /**
   * Fed to ffmpeg's stdin, for an invocation whose first input is `pipe:0` (the live mp4 reads
   * a file that is still being written, through a follower: transcode/liveMp4.ts).
   */
  stdin?: Readable;
}

/**
 * Passes an option list to fluent-ffmpeg without letting it split values: given ONE array it
 * splits every "a b" element at the space (a path with a space would break); given several
 * arguments it takes them verbatim.
 */
function addOptions(add: (...opts: string[]) => unknown, opts: readonly string[]): void {
  if (opts.length > 0) add(...opts);
}

/** Starts ffmpeg with `inv`. */
export function runFfmpeg(inv: FfmpegInvocation, opts: RunFfmpegOptions = {}): FfmpegProcess {
  const [first, ...rest] = inv.inputs;
  if (!first) throw new RangeError('an ffmpeg invocation needs an input');
  const tailMax = opts.tailLines ?? 30;
  const tail: string[] = [];
  // stdoutLines bounds fluent-ffmpeg's own stderr buffer (0 would mean unbounded).
  const cmd = ffmpeg({ stdoutLines: 50 });
  if (opts.ffmpegPath) cmd.setFfmpegPath(opts.ffmpegPath);
  // fluent-ffmpeg has no global-option slot before the inputs; ffmpeg accepts global options
  // anywhere, so they lead the first input's options.
  if (opts.stdin) {
    if (first.path !== 'pipe:0') throw new RangeError('stdin is given but the first input is not pipe:0');
    cmd.input(opts.stdin);
  } else {
    cmd.input(first.path);
  }
  addOptions((...o) => cmd.inputOptions(...o), [...inv.globalOptions, ...first.options]);
  for (const i of rest) {
    cmd.input(i.path);
    addOptions((...o) => cmd.inputOptions(...o), i.options);
  }
  cmd.output(inv.output);
  addOptions((...o) => cmd.outputOptions(...o), inv.outputOptions);
  // Output options apply to the output added last.
  for (const o of inv.moreOutputs ?? []) {
    cmd.output(o.path);
    addOptions((...x) => cmd.outputOptions(...x), o.options);
  }
  if (opts.niceness) cmd.renice(opts.niceness);

  let started = false;
  let running = false;
  let stopRequested = false;
  let interruptDue = false;
  let killed = false;
  let stopPromise: Promise<FfmpegExit> | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let resolveExit!: (e: FfmpegExit) => void;
  const exited = new Promise<FfmpegExit>((r) => (resolveExit = r));
  // One span per ffmpeg run, child of whatever job started it (capture, finalize, transcode).
  const span = tracer('recorder').startSpan('ffmpeg', { attributes: { 'ffmpeg.output': basename(inv.output) } });
  void exited.then((e) => {
    span.setAttributes({ 'ffmpeg.exit_code': e.code ?? -1, 'ffmpeg.stopped': e.stopped, 'ffmpeg.killed': e.killed });
    if (e.error) span.setStatus({ code: SpanStatusCode.ERROR, message: e.error });
    span.end();
  });
  let done = false;
  const finish = (e: Omit<FfmpegExit, 'stopped' | 'killed' | 'stderrTail'>): void => {
    if (done) return;
    done = true;
    running = false;
    clearTimeout(killTimer);
    clearTimeout(graceTimer);
    resolveExit({ ...e, stopped: stopRequested, killed, stderrTail: [...tail] });
  };
  const signal = (sig: 'SIGINT' | 'SIGKILL'): void => {
    try {
      cmd.kill(sig);
    } catch {
      // Already gone: the exit handler reports it.
    }
  };

  cmd.on('start', (line: string) => {
    started = true;
    running = true;
    opts.logger?.debug({ argv: line }, 'ffmpeg started');
    // The SIGINT was due while fluent-ffmpeg was still checking capabilities: deliver it now.
    if (interruptDue) signal('SIGINT');
  });
  cmd.on('stderr', (line: string) => {
    tail.push(line);
    if (tail.length > tailMax) tail.shift();
    try {
      opts.onLine?.(line);
    } catch (err) {
      opts.logger?.warn({ err }, 'ffmpeg stderr handler failed');
    }
  });
  cmd.on('end', () => finish({ code: 0, signal: null, error: null }));
  cmd.on('error', (err: Error) => {
    const m = /exited with code (\d+)/.exec(err.message);
    const s = /killed with signal (\w+)/.exec(err.message);
    if (m) finish({ code: Number(m[1]), signal: null, error: null });
    else if (s) finish({ code: null, signal: s[1]!, error: null });
    else finish({ code: null, signal: null, error: err.message });
  });
  opts.logger?.debug({ argv: toArgv(inv) }, 'starting ffmpeg');
  cmd.run();

  return {
    exited,
    get running() {
      return running;
    },
    get pid() {
      return (cmd as unknown as { ffmpegProc?: { pid?: number } }).ffmpegProc?.pid;
    },
    stop(o: StopOptions = {}) {
      if (stopPromise) return stopPromise;
      stopRequested = true;
      const graceMs = o.graceMs ?? 0;
      const killAfterMs = o.killAfterMs ?? 5000;
      const interrupt = (): void => {
        if (done) return;
        interruptDue = true;
        if (started) signal('SIGINT'); // else the 'start' handler sends it
        killTimer = setTimeout(() => {
          killed = true;
          opts.logger?.warn({ killAfterMs }, 'ffmpeg did not exit after SIGINT; killing it');
          signal('SIGKILL');
        }, killAfterMs);
      };
      if (graceMs > 0) {
        graceTimer = setTimeout(interrupt, graceMs);
      } else {
        interrupt();
      }
      stopPromise = exited;
      return stopPromise;
    },
  };
}

/**
 * Resolves when this ffmpeg can do what the recorder needs (SDP input, segment/Matroska/WebM
 * output, concat input); fluent-ffmpeg caches the answer, so later calls are cheap. It also
 * fills fluent-ffmpeg's encoder list, which every run consults before it spawns ffmpeg: left
 * empty, the first capture of a process (a takeover on a fresh recorder) would wait for an
 * extra `ffmpeg -encoders` first (up to a second on a loaded machine).
 */
export function checkFfmpeg(ffmpegPath?: string): Promise<void> {
  if (ffmpegPath) ffmpeg.setFfmpegPath(ffmpegPath);
  return new Promise((resolve, reject) => {
    ffmpeg.getAvailableFormats((err, formats) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const need: [string, 'canDemux' | 'canMux'][] = [
        ['sdp', 'canDemux'],
        ['concat', 'canDemux'],
        ['segment', 'canMux'],
        ['matroska', 'canMux'],
        ['webm', 'canMux'],
      ];
      const missing = need.filter(([f, cap]) => !formats[f]?.[cap]).map(([f, cap]) => `${f} (${cap === 'canMux' ? 'muxer' : 'demuxer'})`);
      if (missing.length > 0) return reject(new Error(`ffmpeg lacks ${missing.join(', ')}`));
      ffmpeg.getAvailableEncoders((e) => (e ? reject(e instanceof Error ? e : new Error(String(e))) : resolve()));
    });
  });
}
