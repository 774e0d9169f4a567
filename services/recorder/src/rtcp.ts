// Ending ffmpeg's RTP input the protocol's way: an RTCP BYE on every stream's RTCP port.
//
// Why not just a signal: after its first packet, ffmpeg checks a SIGINT (or `q`) only between
// packets, and its RTP reader blocks while no packet arrives. A stop that comes after the
// publisher left (the common case) would therefore hang until the SIGKILL, losing the last
// segment; a second signal does not help (it also aborts the trailer writes). A BYE wakes the
// reader, and once every stream has had one ffmpeg treats the input as ended: it closes the
// last segment properly and exits 0, with or without packets still flowing.
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * An RTCP BYE packet (RFC 3550 §6.6) for `ssrc` with a short reason. The reason matters:
 * ffmpeg drops RTP/RTCP datagrams shorter than 12 bytes, and a bare BYE is 8.
 */
export function rtcpBye(ssrc: number, reason = 'stop'): Buffer {
  const text = Buffer.from(reason.slice(0, 255), 'latin1');
  const body = 8 + 1 + text.length;
  const size = Math.ceil(body / 4) * 4;
  const buf = Buffer.alloc(size); // zero padding up to a 32-bit boundary
  buf[0] = 0x81; // V=2, P=0, SC=1
  buf[1] = 203; // BYE
  buf.writeUInt16BE(size / 4 - 1, 2);
  buf.writeUInt32BE(ssrc >>> 0, 4);
  buf[8] = text.length;
  text.copy(buf, 9);
  return buf;
}

/** Sends one BYE to each of `rtcpPorts` on `host`. Resolves once sent (UDP: no delivery guarantee). */
export async function sendRtcpBye(host: string, rtcpPorts: readonly number[], ssrc = 0x4c570001): Promise<void> {
  if (rtcpPorts.length === 0) return;
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  try {
    const packet = rtcpBye(ssrc);
    await Promise.all(
      rtcpPorts.map(
        (port) =>
          new Promise<void>((resolve, reject) => {
            sock.send(packet, port, host, (err) => (err ? reject(err) : resolve()));
          }),
      ),
    );
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
  }
}
