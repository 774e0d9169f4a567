// A UDP relay between the SFU and ffmpeg for tracks ffmpeg cannot read as they arrive (VP9,
// see vp9.ts): it owns the RTP/RTCP port pair announced to the SFU, rewrites each RTP packet
// and forwards it to ffmpeg's own pair on the same host; RTCP (sender reports: A/V sync, BYE:
// end of input) is forwarded untouched.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { PortPair } from '../ports.js';

export interface RtpRelayOptions {
  host: string;
  /** Where the SFU sends (announced in `listening`). */
  listen: PortPair;
  /** Where ffmpeg reads. */
  target: PortPair;
  /** Rewrites one RTP packet; null drops it. */
  rewrite: (packet: Buffer) => Buffer | null;
}

export class RtpRelay {
  readonly #sockets: Socket[];
  #forwarded = 0;
  #dropped = 0;

  private constructor(sockets: Socket[]) {
    this.#sockets = sockets;
  }

  static async start(o: RtpRelayOptions): Promise<RtpRelay> {
    const type = isIPv6(o.host) ? 'udp6' : 'udp4';
    const out = createSocket(type);
    const relay = new RtpRelay([out]);
    out.on('error', () => {});
    const bind = (port: number, onMessage: (m: Buffer) => void): Promise<void> =>
      new Promise((resolve, reject) => {
        const s = createSocket(type);
        // Owned by the relay from the start, so close() also gets a socket whose bind failed.
        relay.#sockets.push(s);
        s.once('error', reject);
        s.on('message', onMessage);
        s.bind({ port, address: o.host, exclusive: true }, () => {
          s.removeListener('error', reject);
          s.on('error', () => {}); // ICMP unreachable while ffmpeg restarts: keep relaying
          resolve();
        });
      });
    try {
      await bind(o.listen.rtpPort, (m) => {
        const rewritten = o.rewrite(m);
        if (!rewritten) {
          relay.#dropped++;
          return;
        }
        relay.#forwarded++;
        out.send(rewritten, o.target.rtpPort, o.host);
      });
      await bind(o.listen.rtcpPort, (m) => out.send(m, o.target.rtcpPort, o.host));
    } catch (err) {
      relay.close();
      throw err;
    }
    return relay;
  }

  /** RTP packets forwarded and dropped so far. */
  get counts(): { forwarded: number; dropped: number } {
    return { forwarded: this.#forwarded, dropped: this.#dropped };
  }

  /** Closes every socket; safe to call twice. */
  close(): void {
    for (const s of this.#sockets.splice(0)) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
