// The progress-file fallback of stuck detection (the socket-queue watch in stall.ts is the
// faster one): ffmpeg appends to its -progress file every half second while packets reach it,
// and writes nothing while none do (a publisher away). So "stuck" is: no growth for a while
// *and* the SFU sent media after the last growth.
//
// The witness must be counted from a sample of the SFU's bytes taken after the last growth. A
// sample taken before it (the tap's status is read every 2 s) already holds media that ffmpeg
// did record; counting from it made every publisher who left look like a stuck ffmpeg: a 20
// minute soak had 75 such restarts, each turning a one-run recording into a joined one.
/** ffmpeg writes its progress every 500 ms: longer without growth is unusual. */
const QUIET_MS = 750;

export class ProgressWatch {
  readonly #stuckMs: number;
  #lastSize = -1;
  #lastGrowth: number;
  /** The SFU's bytes sent, first sampled after the last growth; -1 until then. */
  #sentAfterGrowth = -1;
  #sent = -1;

  constructor(o: { stuckMs: number; now: number }) {
    this.#stuckMs = o.stuckMs;
    this.#lastGrowth = o.now;
  }

  /** Before ffmpeg's first frame nothing is stuck (it is probing). */
  probing(now: number): void {
    this.#lastGrowth = now;
  }

  /** The progress file's size now. */
  size(size: number, now: number): void {
    if (size === this.#lastSize) return;
    this.#lastSize = size;
    this.#lastGrowth = now;
    this.#sentAfterGrowth = -1;
  }

  /** The SFU's RTP bytes sent to this run so far (the tap's status). */
  sent(bytes: number): void {
    this.#sent = bytes;
    if (this.#sentAfterGrowth < 0) this.#sentAfterGrowth = bytes;
  }

  /**
   * No progress for longer than ffmpeg's report period (0.5 s) and some slack: the caller then
   * samples the SFU's count and checks more often, so a stuck ffmpeg is still found within
   * about the threshold although the witness must come after the last growth.
   */
  quiet(now: number): boolean {
    return now - this.#lastGrowth >= QUIET_MS;
  }

  /** ms without progress while the SFU kept sending; null when not stuck. */
  stuck(now: number): number | null {
    const since = now - this.#lastGrowth;
    if (since <= this.#stuckMs || this.#sentAfterGrowth < 0 || this.#sent <= this.#sentAfterGrowth + 1000) return null;
    return since;
  }
}
