// Which senders a capture's UDP ports accept: the SFU's transports only (the tap tells where
// they send from), plus the recorder itself for ffmpeg's ports (its RTCP BYE ends ffmpeg at
// stop). A stranger's packets are dropped: ffmpeg by the SDP's source filter (by address: ffmpeg
// cannot filter by port), a relay by address and RTP port.
import { isIP } from 'node:net';
import type { TapSource } from '@live-webrtc/shared';

/** An address that says nothing about where packets come from (a transport listening on all interfaces). */
const isUnspecified = (ip: string): boolean => ip === '0.0.0.0' || ip === '::' || isIP(ip) === 0;

/**
 * Addresses ffmpeg accepts packets from, or undefined (no filter) when the SFU did not say
 * where it sends from, or said it in a way that does not name one address.
 */
export function acceptedSenders(sources: readonly TapSource[], recorderHost: string): string[] | undefined {
  if (sources.length === 0 || sources.some((s) => isUnspecified(s.ip))) return undefined;
  return [...new Set([...sources.map((s) => s.ip), recorderHost])];
}

/** A relay's `accept` option for one track: the SFU transport's address and RTP port, when known. */
export function relaySource(sources: readonly TapSource[], trackId: string): { accept?: { ip: string; rtpPort: number } } {
  const s = sources.find((x) => x.trackId === trackId);
  return s && !isUnspecified(s.ip) ? { accept: { ip: s.ip, rtpPort: s.rtpPort } } : {};
}
