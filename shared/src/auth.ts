// Who may do what. With AUTH_TOKEN unset everything is open (the embedded single-machine
// default). With it set, a request carries the token (Bearer or X-Auth-Token; compared in
// constant time) for full access, or a room-scoped JWT whose grants say what it may do.
import { createHash, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import { forbidden, unauthorized } from './errors.js';

export const GRANTS = ['publish', 'subscribe', 'record', 'admin'] as const;
export type Grant = (typeof GRANTS)[number];
export const GrantSchema = z.enum(GRANTS);

export interface Principal {
  kind: 'open' | 'token' | 'jwt';
  /** Room the credentials are limited to; undefined = every room. */
  room: string | undefined;
  grants: ReadonlySet<Grant>;
  /** When the credentials expire (unix seconds); undefined for the server token. */
  expiresAt?: number;
}

const ALL: ReadonlySet<Grant> = new Set(GRANTS);
const ISSUER = 'live-webrtc';

/** Constant-time string equality (hashing first makes lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function credentialsFrom(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  const x = headers['x-auth-token'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

const ClaimsSchema = z.object({ room: z.string(), grants: z.array(GrantSchema).min(1) });

export class Authenticator {
  readonly #token: string | undefined;
  readonly #key: Uint8Array | undefined;

  constructor(opts: { authToken: string | undefined; jwtSecret: string | undefined }) {
    this.#token = opts.authToken;
    const secret = opts.jwtSecret ?? opts.authToken;
    this.#key = secret ? new TextEncoder().encode(secret) : undefined;
  }

  get enabled(): boolean {
    return this.#token !== undefined;
  }

  /** The principal for a request's headers; throws 401 for missing or bad credentials. */
  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal> {
    if (!this.#token) return { kind: 'open', room: undefined, grants: ALL };
    const cred = credentialsFrom(headers);
    if (!cred) throw unauthorized('this server requires a token (Authorization: Bearer <token>)');
    if (safeEqual(cred, this.#token)) return { kind: 'token', room: undefined, grants: ALL };
    if (this.#key && cred.split('.').length === 3) {
      try {
        const { payload } = await jwtVerify(cred, this.#key, { issuer: ISSUER, algorithms: ['HS256'] });
        const claims = ClaimsSchema.parse(payload);
        return { kind: 'jwt', room: claims.room, grants: new Set(claims.grants), ...(payload.exp ? { expiresAt: payload.exp } : {}) };
      } catch {
        throw unauthorized('invalid or expired token');
      }
    }
    throw unauthorized('invalid token');
  }

  /** Throws 403 unless the principal holds `grant` (admin implies every grant) for `room`. */
  authorize(p: Principal, grant: Grant, room?: string): void {
    if (!p.grants.has(grant) && !p.grants.has('admin')) throw forbidden('forbidden', `this token lacks the "${grant}" grant`);
    if (p.room !== undefined && room !== p.room) throw forbidden('forbidden', `this token is limited to room "${p.room}"`);
  }

  /** A room-scoped JWT with the given grants, valid for `ttlSeconds`. */
  async mintRoomToken(room: string, grants: Grant[], ttlSeconds: number): Promise<{ token: string; expiresAt: string }> {
    if (!this.#key) throw forbidden('tokens_disabled', 'room tokens need AUTH_TOKEN or JWT_SECRET to be set');
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({ room, grants })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }
}

/**
 * Headers every service-to-service request carries (API → SFU, recorder → SFU). The one place
 * that decides which credential an internal call presents, so the SFU's internal routes can
 * require it without each caller knowing how.
 */
export function internalAuthHeaders(c: { AUTH_TOKEN?: string | undefined }): Record<string, string> {
  return c.AUTH_TOKEN ? { authorization: `Bearer ${c.AUTH_TOKEN}` } : {};
}
