// UDP ports for ffmpeg. Each track needs an even RTP port with RTP + 1 free for RTCP (ffmpeg
// ignores a=rtcp). A pair is proven free by binding both ports and releasing them, then kept
// reserved in this process until the capture ends, so two captures here never race for it.
// ffmpeg binds them a moment later; waitUntilBound() confirms that from /proc/net/udp.
import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PortPair {
  rtpPort: number;
  rtcpPort: number;
}

export interface PortAllocatorOptions {
  /** IP the ports are bound on (what ffmpeg will bind). */
  host: string;
  /** Inclusive range; RTP ports are even and RTCP = RTP + 1 stays within it. */
  minPort: number;
  maxPort: number;
  /** Pairs tried per allocated pair before giving up. Default 64. */
  attempts?: number;
  /** Random source in [0, 1) (tests). Default Math.random. */
  random?: () => number;
}

function bindUdp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.bind({ port, address: host, exclusive: true }, () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

const closeSocket = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));

/** Binds `port` and `port + 1` on `host` and releases them: null when both were free, else the error. */
export async function tryPair(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  const held: Socket[] = [];
  try {
    held.push(await bindUdp(host, port));
    held.push(await bindUdp(host, port + 1));
    return null;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  } finally {
    await Promise.all(held.map(closeSocket));
  }
}

export class PortAllocator {
  readonly #reserved = new Set<number>();
  readonly #o: Required<PortAllocatorOptions>;
  readonly #firstEven: number;
  readonly #pairs: number;

  constructor(o: PortAllocatorOptions) {
    this.#o = { attempts: 64, random: Math.random, ...o };
    this.#firstEven = o.minPort % 2 === 0 ? o.minPort : o.minPort + 1;
    this.#pairs = Math.floor((o.maxPort - this.#firstEven + 1) / 2);
    if (this.#pairs < 1) throw new RangeError(`port range ${o.minPort}-${o.maxPort} holds no even/odd pair`);
  }

  /** Pairs currently handed out by this allocator. */
  get reservedPairs(): number {
    return this.#reserved.size;
  }

  /** `count` free pairs, reserved until release(); rejects when the range looks exhausted. */
  async allocate(count: number): Promise<PortPair[]> {
    const got: PortPair[] = [];
    try {
      for (let n = 0; n < count; n++) got.push(await this.#one());
      return got;
    } catch (err) {
      this.release(got);
      throw err;
    }
  }

  async #one(): Promise<PortPair> {
    for (let i = 0; i < this.#o.attempts; i++) {
      // Random start spreads concurrent recorders on one host over the range.
      const rtp = this.#firstEven + 2 * Math.floor(this.#o.random() * this.#pairs);
      if (this.#reserved.has(rtp)) continue;
      this.#reserved.add(rtp); // claim before awaiting, so a concurrent allocate() skips it
      const err = await tryPair(this.#o.host, rtp);
      if (!err) return { rtpPort: rtp, rtcpPort: rtp + 1 };
      this.#reserved.delete(rtp);
      // Only "in use" means "try another": anything else (address not local, …) will not heal.
      if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw new Error(`cannot bind UDP on ${this.#o.host}: ${err.message}`);
    }
    throw new Error(`no free RTP/RTCP port pair in ${this.#o.minPort}-${this.#o.maxPort} after ${this.#o.attempts} tries`);
  }

  /** Returns pairs to the pool. Safe to call twice. */
  release(pairs: readonly PortPair[]): void {
    for (const p of pairs) this.#reserved.delete(p.rtpPort);
  }
}

/** Local ports of the sockets listed in a /proc/net/udp or udp6 file. */
export function parseProcNetUdp(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    // "  sl  local_address rem_address ..."; local_address is HEXIP:HEXPORT
    const local = line.trim().split(/\s+/)[1];
    const port = local?.split(':').pop();
    if (port && /^[0-9A-Fa-f]{4}$/.test(port)) ports.add(parseInt(port, 16));
  }
  return ports;
}

/** Ports with a bound UDP socket on this host (IPv4 and IPv6). */
export async function boundUdpPorts(procRoot = '/proc'): Promise<Set<number>> {
  const all = new Set<number>();
  for (const f of ['net/udp', 'net/udp6']) {
    try {
      for (const p of parseProcNetUdp(await readFile(`${procRoot}/${f}`, 'utf8'))) all.add(p);
    } catch {
      // udp6 is absent without IPv6
    }
  }
  return all;
}

export interface WaitUntilBoundOptions {
  /** Give up after this long, ms. Default 5000. */
  timeoutMs?: number;
  /**
   * Poll interval, ms. Default 5: every ms here delays the start of a recording, and a read of
   * /proc/net/udp is cheap (measured: detection lag after ffmpeg binds p50 2.5 ms / p95 8 ms at
   * 5 ms, against 8 / 42 ms at 20 ms).
   */
  intervalMs?: number;
  /** Stop waiting early (e.g. ffmpeg exited): the promise rejects with its reason. */
  signal?: AbortSignal;
  procRoot?: string;
}

/**
 * Resolves once every port has a bound UDP socket (we proved them free just before handing
 * them to ffmpeg, so bound means ffmpeg holds them); rejects on timeout or abort.
 */
export async function waitUntilBound(ports: readonly number[], o: WaitUntilBoundOptions = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 5000);
  for (;;) {
    o.signal?.throwIfAborted();
    const bound = await boundUdpPorts(o.procRoot);
    if (ports.every((p) => bound.has(p))) return;
    if (Date.now() > deadline) {
      const missing = ports.filter((p) => !bound.has(p));
      throw new Error(`UDP ports ${missing.join(', ')} not bound after ${o.timeoutMs ?? 5000} ms`);
    }
    await sleep(o.intervalMs ?? 5);
  }
}
