// Telling quickly that a capture's ffmpeg is stuck (SIGSTOP, a wedged muxer, a blocked disk)
// without mistaking a quiet input (publisher away) for a stall.
//
// ffmpeg reads its RTP sockets continuously; a stuck ffmpeg stops reading, so the packets the
// SFU keeps sending pile up in the kernel's receive queue of its ports (rx_queue in
// /proc/net/udp). An ffmpeg that keeps up empties that queue within milliseconds, and with no
// packets arriving the queue stays empty. So: stuck = the receive queue of ffmpeg's ports has
// not once been empty for `stuckMs`. This needs no progress output and no question to the SFU,
// and it reacts in stuckMs + one sample instead of several progress periods. Where /proc is not
// there (not Linux), `available` is false and the caller keeps its slower progress-based check.
//
// Not every undrained queue is a stuck ffmpeg: on a loaded machine ffmpeg may wait its turn
// for the CPU (state R) or for a slow disk (D) for a few hundred ms and then catch up; the
// kernel keeps the packets meanwhile (a restart would lose more than the wait). So the verdict
// also needs ffmpeg's process state to be neither: stopped (T), asleep with packets waiting (S:
// it is not reading), or dead. A spinning or disk-wedged ffmpeg is left to the caller's
// progress-based check.
import { readFile } from 'node:fs/promises';

/** Bytes waiting in the receive queue of each local UDP port listed in a /proc/net/udp(6) file. */
export function parseRxQueues(text: string): Map<number, number> {
  const queues = new Map<number, number>();
  for (const line of text.split('\n').slice(1)) {
    // "sl local_address rem_address st tx_queue:rx_queue ..."; addresses are HEXIP:HEXPORT
    const cols = line.trim().split(/\s+/);
    const port = cols[1]?.split(':').pop();
    const rx = cols[4]?.split(':')[1];
    if (!port || !rx || !/^[0-9A-Fa-f]{4}$/.test(port) || !/^[0-9A-Fa-f]+$/.test(rx)) continue;
    const p = parseInt(port, 16);
    queues.set(p, Math.max(queues.get(p) ?? 0, parseInt(rx, 16)));
  }
  return queues;
}

/** True when a /proc/PID/stat line says running/runnable (R) or in uninterruptible (disk) sleep (D). */
export function processBusy(stat: string): boolean {
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'R' || state === 'D';
}

export interface StallDetectorOptions {
  /** ffmpeg's RTP/RTCP ports (the ones it reads, not a relay's). */
  ports: readonly number[];
  /** Stuck after its queues were not once empty for this long, ms. */
  stuckMs: number;
  /** Called once, when ffmpeg is found stuck, with how long it has not drained its queues. */
  onStuck: (undrainedMs: number) => void;
  /** ffmpeg's pid: its state (/proc/PID/stat) decides between busy and stuck. */
  pid?: number | undefined;
  /** Sample interval, ms. Default 100 (three samples within the default RECORDER_STUCK_MS). */
  intervalMs?: number;
  procRoot?: string;
  /**
   * The socket tables to read: `net/udp` for IPv4 ports, `net/udp6` for IPv6. Default both.
   * Each read costs the kernel a walk of its whole UDP hash table (~80 µs here, even empty).
   */
  tables?: readonly ('net/udp' | 'net/udp6')[];
}

type Listener = (queues: Map<number, number> | null) => void;

/**
 * One reading of the kernel's UDP socket table per interval for the whole process, handed to
 * every detector. Why shared: the table lists every socket of the host (4+ per capture), so a
 * reading per capture per interval would cost O(captures²) — at 100 captures, 20 readings a
 * second of ~500 lines each, per capture. Readers with the same /proc root and interval share one.
 */
export class UdpQueueSampler {
  static readonly #shared = new Map<string, UdpQueueSampler>();

  /** The process-wide sampler for this /proc root and interval. */
  static for(procRoot: string, intervalMs: number, tables: readonly string[] = ['net/udp', 'net/udp6']): UdpQueueSampler {
    const key = `${procRoot}\0${intervalMs}\0${tables.join(',')}`;
    let s = UdpQueueSampler.#shared.get(key);
    if (!s) {
      s = new UdpQueueSampler(procRoot, intervalMs, tables);
      UdpQueueSampler.#shared.set(key, s);
    }
    return s;
  }

  readonly #listeners = new Set<Listener>();
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  private constructor(
    readonly procRoot: string,
    readonly intervalMs: number,
    readonly tables: readonly string[],
  ) {}

  /** Adds a listener (the timer runs while there is one); returns its removal. */
  listen(l: Listener): () => void {
    this.#listeners.add(l);
    this.#timer ??= setInterval(() => void this.#sample(), this.intervalMs);
    return () => {
      this.#listeners.delete(l);
      if (this.#listeners.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Every socket's receive queue, or null when neither table can be read here. */
  async #read(): Promise<Map<number, number> | null> {
    let merged: Map<number, number> | null = null;
    for (const f of this.tables) {
      const text = await readFile(`${this.procRoot}/${f}`, 'utf8').catch(() => null);
      if (text === null) continue;
      const q = parseRxQueues(text);
      if (!merged) merged = q;
      else for (const [port, bytes] of q) merged.set(port, (merged.get(port) ?? 0) + bytes);
    }
    return merged;
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const queues = await this.#read();
      for (const l of [...this.#listeners]) {
        try {
          l(queues);
        } catch {
          // One detector's failure must not blind the others.
        }
      }
    } finally {
      this.#sampling = false;
    }
  }
}

export class StallDetector {
  readonly #o: StallDetectorOptions;
  readonly #ports: Set<number>;
  #unlisten: (() => void) | undefined;
  /** Last sample at which every queue was empty (or ffmpeg's ports were not listed). */
  #drainedAt = Date.now();
  #longest = 0;
  /** Non-empty samples in a row: one alone may only mean this process was not scheduled. */
  #undrainedSamples = 0;
  #judging = false;
  #fired = false;
  #available = true;

  constructor(o: StallDetectorOptions) {
    this.#o = o;
    this.#ports = new Set(o.ports);
  }

  /** False when the kernel's socket table cannot be read here (the caller falls back). */
  get available(): boolean {
    return this.#available;
  }

  /** Longest time the queues stayed non-empty so far, ms (for logs: the margin to stuckMs). */
  get longestUndrainedMs(): number {
    return this.#longest;
  }

  start(): void {
    if (this.#unlisten) return;
    this.#drainedAt = Date.now();
    const sampler = UdpQueueSampler.for(this.#o.procRoot ?? '/proc', this.#o.intervalMs ?? 100, this.#o.tables);
    this.#unlisten = sampler.listen((queues) => this.#onSample(queues));
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** True while ffmpeg waits for the CPU or the disk (it will catch up by itself). */
  async #busy(): Promise<boolean> {
    if (this.#o.pid === undefined) return false;
    const stat = await readFile(`${this.#o.procRoot ?? '/proc'}/${this.#o.pid}/stat`, 'utf8').catch(() => '');
    return processBusy(stat);
  }

  #onSample(queues: Map<number, number> | null): void {
    if (this.#fired || !this.#unlisten) return;
    if (queues === null) {
      this.#available = false;
      this.stop();
      return;
    }
    let waiting = 0;
    for (const port of this.#ports) waiting += queues.get(port) ?? 0;
    const now = Date.now();
    if (waiting === 0) {
      this.#drainedAt = now;
      this.#undrainedSamples = 0;
      return;
    }
    this.#undrainedSamples++;
    const undrained = now - this.#drainedAt;
    this.#longest = Math.max(this.#longest, undrained);
    if (undrained >= this.#o.stuckMs && this.#undrainedSamples >= 3 && !this.#judging) {
      // The process state is read only now, when the queues already say "stuck".
      this.#judging = true;
      void this.#busy()
        .then((busy) => {
          if (busy || this.#fired || !this.#unlisten) return;
          this.#fired = true;
          this.stop();
          this.#o.onStuck(undrained);
        })
        .finally(() => (this.#judging = false));
    }
  }
}
