// ICE servers advertised to WHIP/WHEP clients in Link headers (RFC 9725 §4.6) of 201 answers. With TURN_SECRET
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

/**
 * The ICE servers for a client: STUN URLs, and TURN URLs with time-limited credentials when
 * TURN_SECRET is set. Static TURN_USERNAME/TURN_PASSWORD are never sent to clients (they are
 * for the server's own use); without TURN_SECRET no TURN URL is advertised.
 */
export function iceServersFor(c: IceServerConfig, label: string, nowMs = Date.now()): IceServer[] {
  const creds = c.secret ? turnCredentials(c.secret, label, c.ttlSeconds, nowMs) : undefined;
  return c.urls.flatMap((url) => (!url.startsWith('turn') ? [{ url }] : creds ? [{ url, ...creds }] : []));
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
