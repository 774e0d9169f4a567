// Short-lived signed `?token=` for one output of one recording, for players that cannot set
// an Authorization header (a <video>/hls.js fetching playlists and segments). The token is
// `<expiry unix seconds>.<hex HMAC-SHA256 of "recordingId.output.expiry">`: it opens that
// output's files and nothing else, and cannot be turned into an API credential.
import { createHmac, timingSafeEqual } from 'node:crypto';

const mac = (secret: string, id: string, output: string, exp: number): string =>
  createHmac('sha256', secret).update(`${id}.${output}.${exp}`).digest('hex');

export function signOutputToken(
  secret: string,
  id: string,
  output: string,
  ttlSeconds: number,
  nowS = Math.floor(Date.now() / 1000),
): string {
  const exp = nowS + ttlSeconds;
  return `${exp}.${mac(secret, id, output, exp)}`;
}

/** True when `token` opens `output` of recording `id` now. */
export function verifyOutputToken(
  secret: string,
  id: string,
  output: string,
  token: string,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return false;
  const exp = Number(m[1]);
  if (exp < nowS) return false;
  const want = Buffer.from(mac(secret, id, output, exp), 'hex');
  const got = Buffer.from(m[2]!, 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Rewrites the URIs of an HLS playlist: `prefix` is put before each relative URI (the master
 * served at …/outputs/hls names its renditions hls/…), and `token` is appended as a query so
 * a player's follow-up requests carry it. Comment/tag lines keep their text except URI="…".
 */
export function rewritePlaylist(text: string, o: { prefix?: string; token?: string }): string {
  const fix = (uri: string): string => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) return uri; // absolute: leave alone
    const withPrefix = `${o.prefix ?? ''}${uri}`;
    return o.token ? `${withPrefix}${withPrefix.includes('?') ? '&' : '?'}token=${encodeURIComponent(o.token)}` : withPrefix;
  };
  return text
    .split('\n')
    .map((line) => {
      const t = line.trim();
      if (t === '') return line;
      if (t.startsWith('#')) return line.replace(/URI="([^"]*)"/g, (_, u: string) => `URI="${fix(u)}"`);
      return fix(t);
    })
    .join('\n');
}
