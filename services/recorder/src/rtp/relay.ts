// A UDP relay between the SFU and ffmpeg for tracks ffmpeg cannot read as they arrive (VP9,
// see vp9.ts): it owns the RTP/RTCP port pair announced to the SFU, rewrites each RTP packet
// and forwards it to ffmpeg's own pair on the same host; RTCP (sender reports: A/V sync, BYE:
// end of input) is forwarded untouched. With `accept`, packets from anywhere but the SFU's
// transport are dropped (a stranger's RTCP BYE must not end the capture).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
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
  /** The only sender accepted: the SFU's address, and for RTP its port (RTCP comes from another one). */
  accept?: { ip: string; rtpPort?: number };
}

export class RtpRelay {
  readonly #sockets: Socket[];
  #forwarded = 0;
  #dropped = 0;
  #rejected = 0;

  private constructor(sockets: Socket[]) {
    this.#sockets = sockets;
  }

  static async start(o: RtpRelayOptions): Promise<RtpRelay> {
    const type = isIPv6(o.host) ? 'udp6' : 'udp4';
    const out = createSocket(type);
    const relay = new RtpRelay([out]);
    out.on('error', () => {});
    const from = (r: RemoteInfo, port: number | undefined): boolean => {
      const ok = !o.accept || (r.address === o.accept.ip && (port === undefined || r.port === port));
      if (!ok) relay.#rejected++;
      return ok;
    };
    const bind = (port: number, onMessage: (m: Buffer, r: RemoteInfo) => void): Promise<void> =>
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
      await bind(o.listen.rtpPort, (m, r) => {
        if (!from(r, o.accept?.rtpPort)) return;
        const rewritten = o.rewrite(m);
        if (!rewritten) {
          relay.#dropped++;
          return;
        }
        relay.#forwarded++;
        out.send(rewritten, o.target.rtpPort, o.host);
      });
      await bind(o.listen.rtcpPort, (m, r) => {
        if (from(r, undefined)) out.send(m, o.target.rtcpPort, o.host);
      });
    } catch (err) {
      relay.close();
      throw err;
    }
    return relay;
  }

  /** RTP packets forwarded and dropped (rewrite refused) so far, and packets of any sender but the SFU. */
  get counts(): { forwarded: number; dropped: number; rejected: number } {
    return { forwarded: this.#forwarded, dropped: this.#dropped, rejected: this.#rejected };
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
