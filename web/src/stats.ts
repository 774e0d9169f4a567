// Live figures from RTCPeerConnection.getStats(): bitrate (from byte counters between two
// samples), frame rate, packet loss and round-trip time. Publishers read outbound-rtp and the
// SFU's receiver reports (remote-inbound-rtp); viewers read inbound-rtp.

export interface LiveFigures {
  /** bits per second, audio + video */
  bitrate: number | null;
  fps: number | null;
  /** percent of packets lost */
  loss: number | null;
  /** milliseconds */
  rtt: number | null;
  width: number | null;
  height: number | null;
  /** Viewers: frames decoded so far per video transceiver mid (which publishers are live). */
  framesByMid: Map<string, number>;
}

type Stat = Record<string, unknown> & { type: string; id: string };
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export class StatsSampler {
  #last: { at: number; bytes: number } | null = null;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly direction: 'send' | 'receive',
  ) {}

  async sample(): Promise<LiveFigures> {
    const report = await this.pc.getStats();
    let bytes = 0;
    let fps: number | null = null;
    let lost = 0;
    let packets = 0;
    let rtt: number | null = null;
    let width: number | null = null;
    let height: number | null = null;
    const framesByMid = new Map<string, number>();
    report.forEach((raw) => {
      const s = raw as Stat;
      if (this.direction === 'send' && s.type === 'outbound-rtp') {
        bytes += num(s['bytesSent']) ?? 0;
        if (s['kind'] === 'video') {
          fps = (fps ?? 0) + (num(s['framesPerSecond']) ?? 0);
          width = num(s['frameWidth']) ?? width;
          height = num(s['frameHeight']) ?? height;
        }
        packets += num(s['packetsSent']) ?? 0;
      } else if (this.direction === 'send' && s.type === 'remote-inbound-rtp') {
        lost += Math.max(0, num(s['packetsLost']) ?? 0);
      } else if (this.direction === 'receive' && s.type === 'inbound-rtp') {
        bytes += num(s['bytesReceived']) ?? 0;
        lost += Math.max(0, num(s['packetsLost']) ?? 0);
        packets += (num(s['packetsReceived']) ?? 0) + Math.max(0, num(s['packetsLost']) ?? 0);
        if (s['kind'] === 'video') {
          const f = num(s['framesPerSecond']);
          if (f !== undefined) fps = Math.max(fps ?? 0, f);
          width = num(s['frameWidth']) ?? width;
          height = num(s['frameHeight']) ?? height;
          const mid = typeof s['mid'] === 'string' ? s['mid'] : undefined;
          if (mid !== undefined) framesByMid.set(mid, num(s['framesDecoded']) ?? 0);
        }
      } else if (s.type === 'candidate-pair' && s['nominated'] === true && s['state'] === 'succeeded') {
        const r = num(s['currentRoundTripTime']);
        if (r !== undefined) rtt = r * 1000;
      }
    });
    const now = performance.now();
    let bitrate: number | null = null;
    if (this.#last && now > this.#last.at && bytes >= this.#last.bytes)
      bitrate = ((bytes - this.#last.bytes) * 8 * 1000) / (now - this.#last.at);
    this.#last = { at: now, bytes };
    return { bitrate, fps, loss: packets > 0 ? (lost / packets) * 100 : null, rtt, width, height, framesByMid };
  }
}
