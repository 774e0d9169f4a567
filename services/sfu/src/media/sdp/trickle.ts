// RFC 8840 trickle-ice-sdpfrag bodies of WHIP/WHEP PATCH requests (RFC 9725 §4.3).
import type { types as ms } from 'mediasoup';
import { SdpError } from './errors.js';

export interface TrickleFragment {
  ufrag: string | undefined;
  pwd: string | undefined;
  mids: string[];
  candidates: string[];
}

/** Parses an sdpfrag; throws SdpError('bad_sdp') when it is not one. */
export function parseTrickle(text: string): TrickleFragment {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) throw new SdpError('bad_sdp', 'empty trickle-ice-sdpfrag body');
  const out: TrickleFragment = { ufrag: undefined, pwd: undefined, mids: [], candidates: [] };
  for (const l of lines) {
    if (!/^[a-z]=/.test(l)) throw new SdpError('bad_sdp', `not an SDP fragment line: ${l.slice(0, 60)}`);
    if (l.startsWith('a=ice-ufrag:')) out.ufrag = l.slice('a=ice-ufrag:'.length);
    else if (l.startsWith('a=ice-pwd:')) out.pwd = l.slice('a=ice-pwd:'.length);
    else if (l.startsWith('a=mid:')) out.mids.push(l.slice('a=mid:'.length));
    else if (l.startsWith('a=candidate:')) out.candidates.push(l.slice(2));
  }
  return out;
}

/** The answer to an ICE restart: the new local credentials and candidates, per mid. */
export function buildIceRestartFragment(ice: ms.IceParameters, candidates: ms.IceCandidate[], mids: string[]): string {
  const lines = ['a=ice-lite', `a=ice-ufrag:${ice.usernameFragment}`, `a=ice-pwd:${ice.password}`];
  for (const mid of mids.length > 0 ? mids : ['0']) {
    lines.push(`m=audio 9 RTP/AVP 0`, `a=mid:${mid}`);
    for (const c of candidates) {
      const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
      lines.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${tcp}`);
    }
    lines.push('a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}
