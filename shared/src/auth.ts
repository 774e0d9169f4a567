// Who may do what. With AUTH_TOKEN unset everything is open (allowed on loopback only, or with
// the explicit ALLOW_UNAUTHENTICATED=1 opt-out: see shared/src/exposure.ts). With it set, a
// request carries the token (Bearer or X-Auth-Token; compared in constant time) for full
// access, or a room-scoped JWT signed with JWT_SECRET (never with AUTH_TOKEN: a leaked room
// token must not allow an offline guess of the master token) whose grants say what it may do.
// Every room JWT has an `exp`, a `jti` and a valid `room`; a `jti` can be revoked (Redis).
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import { forbidden, unauthorized } from './errors.js';
import { RoomNameSchema } from './ids.js';

export const GRANTS = ['publish', 'subscribe', 'record', 'admin'] as const;
export type Grant = (typeof GRANTS)[number];
export const GrantSchema = z.enum(GRANTS);

export interface Principal {
  kind: 'open' | 'token' | 'jwt' | 'internal';
  /** Room the credentials are limited to; undefined = every room. */
  room: string | undefined;
  grants: ReadonlySet<Grant>;
  /** When the credentials expire (unix seconds); undefined for the server token. */
  expiresAt?: number;
  /** The JWT's id (revocation handle). */
  jti?: string;
}

const ALL: ReadonlySet<Grant> = new Set(GRANTS);
const ISSUER = 'live-webrtc';
/** Longest lifetime of a room token, seconds: revocation entries are kept this long. */
export const MAX_ROOM_TOKEN_TTL = 86400;

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

const ClaimsSchema = z.object({
  room: RoomNameSchema,
  grants: z.array(GrantSchema).min(1),
  exp: z.number().int(),
  jti: z.string().min(8).max(64),
});

/** Answers whether a room token's `jti` was revoked (Redis in the services). */
export type RevocationCheck = (jti: string) => Promise<boolean>;

export class Authenticator {
  readonly #token: string | undefined;
  readonly #key: Uint8Array | undefined;
  readonly #isRevoked: RevocationCheck | undefined;

  constructor(opts: { authToken: string | undefined; jwtSecret: string | undefined; isRevoked?: RevocationCheck }) {
    this.#token = opts.authToken;
    this.#key = opts.jwtSecret ? new TextEncoder().encode(opts.jwtSecret) : undefined;
    this.#isRevoked = opts.isRevoked;
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
      let claims: z.output<typeof ClaimsSchema>;
      try {
        const { payload } = await jwtVerify(cred, this.#key, { issuer: ISSUER, algorithms: ['HS256'], requiredClaims: ['exp', 'jti'] });
        claims = ClaimsSchema.parse(payload);
      } catch {
        throw unauthorized('invalid or expired token');
      }
      if (this.#isRevoked && (await this.#isRevoked(claims.jti))) throw unauthorized('this token was revoked');
      return { kind: 'jwt', room: claims.room, grants: new Set(claims.grants), expiresAt: claims.exp, jti: claims.jti };
    }
    throw unauthorized('invalid token');
  }

  /** Throws 403 unless the principal holds `grant` (admin implies every grant) for `room`. */
  authorize(p: Principal, grant: Grant, room?: string): void {
    if (!p.grants.has(grant) && !p.grants.has('admin')) throw forbidden('forbidden', `this token lacks the "${grant}" grant`);
    if (p.room !== undefined && room !== p.room) throw forbidden('forbidden', `this token is limited to room "${p.room}"`);
  }

  /** A room-scoped JWT with the given grants, valid for `ttlSeconds` (at most 24 h). */
  async mintRoomToken(room: string, grants: Grant[], ttlSeconds: number): Promise<{ token: string; expiresAt: string; jti: string }> {
    if (!this.#key) throw forbidden('tokens_disabled', 'room tokens need JWT_SECRET to be set');
    const exp = Math.floor(Date.now() / 1000) + Math.min(ttlSeconds, MAX_ROOM_TOKEN_TTL);
    const jti = randomUUID();
    const token = await new SignJWT({ room, grants })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setJti(jti)
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000).toISOString(), jti };
  }
}

/**
 * Headers every service-to-service request carries (API → SFU, recorder → SFU). The one place
 * that decides which credential an internal call presents: INTERNAL_TOKEN, never a user token,
 * so a user credential can never open an internal route and the internal one never leaves the
 * cluster in a user-facing answer.
 */
export function internalAuthHeaders(c: { INTERNAL_TOKEN?: string | undefined }): Record<string, string> {
  return c.INTERNAL_TOKEN ? { authorization: `Bearer ${c.INTERNAL_TOKEN}` } : {};
}

/** Header in which the API forwards its caller's credential to internal routes (grants are re-checked there). */
export const CALLER_CREDENTIAL_HEADER = 'x-lw-caller-authorization';

/** The principal of a service-to-service call (a valid INTERNAL_TOKEN): every grant. */
export const INTERNAL_PRINCIPAL: Principal = { kind: 'internal', room: undefined, grants: ALL };
