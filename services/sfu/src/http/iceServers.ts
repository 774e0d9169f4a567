// ICE servers advertised to WHIP/WHEP clients in Link headers (RFC 9725 §4.6). With TURN_SECRET
// the credentials are time-limited (coturn's `use-auth-secret` scheme: username
// "<expiry-unix-seconds>:<label>", password base64(HMAC-SHA1(secret, username))), so a long-lived
// TURN password is never handed to a browser.
import { createHmac } from 'node:crypto';

export interface IceServerConfig {
  urls: string[];
  username: string | undefined;
  password: string | undefined;
  secret: string | undefined;
  ttlSeconds: number;
}

export interface IceServer {
  url: string;
  username?: string;
  credential?: string;
}

export function turnCredentials(secret: string, label: string, ttlSeconds: number, nowMs = Date.now()) {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${label}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

export function iceServersFor(c: IceServerConfig, label: string, nowMs = Date.now()): IceServer[] {
  const creds = c.secret
    ? turnCredentials(c.secret, label, c.ttlSeconds, nowMs)
    : c.username && c.password
      ? { username: c.username, credential: c.password }
      : undefined;
  return c.urls.map((url) => (url.startsWith('turn') && creds ? { url, ...creds } : { url }));
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** `<turn:host>; rel="ice-server"; username="u"; credential="p"; credential-type="password"` */
export function linkHeader(servers: IceServer[]): string | undefined {
  if (servers.length === 0) return undefined;
  return servers
    .map((s) => {
      let v = `<${s.url}>; rel="ice-server"`;
      if (s.username !== undefined && s.credential !== undefined) {
        v += `; username=${quote(s.username)}; credential=${quote(s.credential)}; credential-type="password"`;
      }
      return v;
    })
    .join(', ');
}
