// The SDP ffmpeg reads to receive a capture's RTP: one m-line per track, each on an even port
// (ffmpeg ignores `a=rtcp:` and always reads RTCP on RTP port + 1), with the rtpmap/fmtp the
// SFU's consumer sends. Pure: no I/O.
import { isIP, isIPv6 } from 'node:net';
import type { Codec } from '@live-webrtc/shared';

export interface SdpTrack {
  kind: 'audio' | 'video';
  codec: Codec;
  /** Even UDP port ffmpeg reads RTP on; RTCP is this + 1. */
  rtpPort: number;
}

export interface CaptureSdpOptions {
  /** Address ffmpeg receives on (the c= line). */
  host: string;
  /** Free text for the s= line (e.g. the recording id). */
  sessionName: string;
  tracks: readonly SdpTrack[];
  /**
   * The only addresses ffmpeg accepts packets from (`a=source-filter`, RFC 4570; ffmpeg drops
   * datagrams from any other sender): the SFU's, and the recorder's own (its RTCP BYE at stop).
   * Addresses of the other IP family are left out; none left (or none given) = no filter.
   */
  sources?: readonly string[] | undefined;
}

// SDP is line-based: a value with a line break (or a space in a token) would inject lines.
const TOKEN_RE = /^[A-Za-z0-9._+-]+$/;
const FMTP_VALUE_RE = /^[A-Za-z0-9._+\-,/=:]+$/;

/** The codec's encoding name as in rtpmap ("VP8", "opus", "H264"). */
export function encodingName(codec: Pick<Codec, 'mimeType'>): string {
  const name = codec.mimeType.slice(codec.mimeType.indexOf('/') + 1);
  if (!TOKEN_RE.test(name)) throw new RangeError(`codec name not usable in SDP: ${JSON.stringify(codec.mimeType)}`);
  return name;
}

/** "a=fmtp" parameter string ("minptime=10;useinbandfec=1"), or null when there are none. */
export function fmtpLine(parameters: Codec['parameters']): string | null {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(parameters)) {
    const value = String(v);
    if (!TOKEN_RE.test(k) || !FMTP_VALUE_RE.test(value)) {
      throw new RangeError(`codec parameter not usable in SDP: ${JSON.stringify(k)}=${JSON.stringify(value)}`);
    }
    parts.push(`${k}=${value}`);
  }
  return parts.length > 0 ? parts.join(';') : null;
}

/** Builds the SDP text (CRLF line ends) for ffmpeg's `-f sdp` input. Throws RangeError on bad input. */
export function buildCaptureSdp(o: CaptureSdpOptions): string {
  if (o.tracks.length === 0) throw new RangeError('an SDP needs at least one track');
  const ipVer = isIPv6(o.host) ? 'IP6' : 'IP4';
  const session = o.sessionName.replace(/[^\x20-\x7e]/g, '_') || '-';
  const lines = ['v=0', `o=- 0 0 IN ${ipVer} ${o.host}`, `s=${session}`, `c=IN ${ipVer} ${o.host}`, 't=0 0'];
  const family = isIPv6(o.host) ? 6 : 4;
  const sources = [...new Set(o.sources ?? [])].filter((a) => isIP(a) === family);
  // Session level, before the m= lines: ffmpeg copies it to every stream.
  if (sources.length > 0) lines.push(`a=source-filter: incl IN ${ipVer} * ${sources.join(' ')}`);
  const ports = new Set<number>();
  for (const t of o.tracks) {
    const { rtpPort, codec } = t;
    if (!Number.isInteger(rtpPort) || rtpPort < 1024 || rtpPort > 65534 || rtpPort % 2 !== 0) {
      throw new RangeError(`RTP port must be an even number from 1024 to 65534, got ${rtpPort}`);
    }
    if (ports.has(rtpPort) || ports.has(rtpPort + 1)) throw new RangeError(`RTP port ${rtpPort} is used twice`);
    ports.add(rtpPort).add(rtpPort + 1);
    const kind = codec.mimeType.slice(0, codec.mimeType.indexOf('/'));
    if (kind !== t.kind) throw new RangeError(`a ${t.kind} track cannot carry ${codec.mimeType}`);
    const pt = codec.payloadType;
    // Audio rtpmap carries the channel count when it is not 1; Opus is always written /2 (RFC 7587).
    const channels = t.kind === 'audio' && codec.channels !== undefined && codec.channels > 1 ? `/${codec.channels}` : '';
    lines.push(`m=${t.kind} ${rtpPort} RTP/AVP ${pt}`, `a=rtpmap:${pt} ${encodingName(codec)}/${codec.clockRate}${channels}`);
    const fmtp = fmtpLine(codec.parameters);
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
    // Informative only: ffmpeg reads RTCP on rtpPort + 1 whatever this says.
    lines.push(`a=rtcp:${rtpPort + 1}`, 'a=recvonly');
  }
  return lines.join('\r\n') + '\r\n';
}
