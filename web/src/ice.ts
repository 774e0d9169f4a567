// ICE helpers: RFC 9725 §4.6 ICE servers from Link headers, gathering with a deadline, and the
// trickle-ice-sdpfrag bodies of an ICE restart (RFC 8840), both directions.

/** Splits `s` at `sep` outside <…> and "…" (with backslash escapes). */
function splitOutside(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote = false;
  let angle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === '"') quote = false;
    } else if (angle) {
      cur += c;
      if (c === '>') angle = false;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else {
      if (c === '"') quote = true;
      if (c === '<') angle = true;
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** `<turn:host>; rel="ice-server"; username="u"; credential="p"` → RTCIceServer[]. */
export function parseIceServers(header: string | null): RTCIceServer[] {
  if (!header) return [];
  const servers: RTCIceServer[] = [];
  for (const link of splitOutside(header, ',')) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(link);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const p of splitOutside(m[2] ?? '', ';')) {
      const kv = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";,]*)))?\s*$/s.exec(p);
      if (!kv) continue;
      const key = kv[1]!.toLowerCase();
      if (!(key in params)) params[key] = kv[2] !== undefined ? kv[2].replace(/\\(.)/gs, '$1') : (kv[3] ?? '');
    }
    if (!(params['rel'] ?? '').toLowerCase().split(/\s+/).includes('ice-server')) continue;
    const url = (m[1] ?? '').trim();
    if (!/^(stuns?|turns?):/i.test(url)) continue;
    if (params['username'] !== undefined && params['credential'] !== undefined) {
      servers.push({ urls: url, username: params['username'], credential: params['credential'] });
    } else if (!/^turns?:/i.test(url)) servers.push({ urls: url });
  }
  return servers;
}

/** Resolves when gathering completes, or after `ms` (then what was gathered is sent). */
export function iceGathered(pc: RTCPeerConnection, ms = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

const attr = (sdp: string, name: string): string | undefined => new RegExp(`^a=${name}:(.*)$`, 'm').exec(sdp)?.[1]?.trim();

/** The sdpfrag of an ICE restart offer: new credentials, then each m-section's mid and candidates. */
export function restartFragment(offerSdp: string): string {
  const lines = [`a=ice-ufrag:${attr(offerSdp, 'ice-ufrag') ?? ''}`, `a=ice-pwd:${attr(offerSdp, 'ice-pwd') ?? ''}`];
  const sections = offerSdp.split(/\r?\n(?=m=)/).slice(1);
  for (const s of sections) {
    const mline = s.split(/\r?\n/)[0] ?? '';
    lines.push(mline, `a=mid:${attr(s, 'mid') ?? ''}`);
    for (const c of s.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'))) lines.push(c);
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * Applies the server's restart answer (an sdpfrag with its new ufrag/pwd and candidates) to the
 * previous remote description: same media, new ICE credentials and candidates.
 */
export function applyRestartAnswer(previousAnswer: string, fragment: string): string {
  const ufrag = attr(fragment, 'ice-ufrag');
  const pwd = attr(fragment, 'ice-pwd');
  const candidates = fragment.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
  const out: string[] = [];
  for (const line of previousAnswer.split(/\r?\n/)) {
    if (line === '') continue;
    if (ufrag && line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${ufrag}`);
    else if (pwd && line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${pwd}`);
    else if (candidates.length > 0 && line.startsWith('a=candidate:')) continue;
    else {
      out.push(line);
      // New candidates go where the old ones were: after each m-section's mid (bundled: all the same).
      if (candidates.length > 0 && line.startsWith('a=mid:')) out.push(...candidates);
    }
  }
  return out.join('\r\n') + '\r\n';
}
