// Security rules shared by every service: which secrets are acceptable, whether a listen
// address leaves the machine (closed by default), which peers may set X-Forwarded-For, which
// browser origins may call, and the revocation list of room tokens.
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ListenAddress } from './config.js';
import { MAX_ROOM_TOKEN_TTL } from './auth.js';

/** Shortest accepted secret, bytes (AUTH_TOKEN, JWT_SECRET, INTERNAL_TOKEN, TURN_SECRET, ...). */
export const MIN_SECRET_BYTES = 32;
/** Values from examples and shipped files: a secret equal to one of them is a config error. */
export const PLACEHOLDER_SECRETS = ['change-me', 'changeme', 'secret', 'password', 'minioadmin', 'admin', 'token', 'example'];

/** Why `value` is not an acceptable secret, or undefined when it is. */
export function secretProblem(value: string): string | undefined {
  const lower = value.toLowerCase();
  if (PLACEHOLDER_SECRETS.some((p) => lower === p || lower.replace(/[-_]/g, '') === p.replace(/[-_]/g, ''))) {
    return 'is a documented placeholder; generate one, e.g. `openssl rand -hex 32`';
  }
  if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
    return `must be at least ${MIN_SECRET_BYTES} bytes (got ${Buffer.byteLength(value)}); generate one, e.g. \`openssl rand -hex 32\``;
  }
  return undefined;
}

/** The variables checked by `secretProblem` (S3 keys are the storage provider's to choose). */
export const SECRET_VARIABLES = ['AUTH_TOKEN', 'JWT_SECRET', 'INTERNAL_TOKEN', 'TURN_SECRET', 'METRICS_TOKEN'] as const;

interface SecretFields {
  AUTH_TOKEN?: string | undefined;
  JWT_SECRET?: string | undefined;
  INTERNAL_TOKEN?: string | undefined;
  TURN_SECRET?: string | undefined;
  METRICS_TOKEN?: string | undefined;
}

/** Config rules on secrets: length, placeholders, and which secrets must differ. */
export function refineSecrets(c: SecretFields, ctx: z.RefinementCtx): void {
  for (const name of SECRET_VARIABLES) {
    const v = c[name];
    const problem = v === undefined ? undefined : secretProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
  }
  if (c.JWT_SECRET !== undefined && c.AUTH_TOKEN === undefined) {
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'room tokens need AUTH_TOKEN too (without it the server is open)' });
  }
  if (c.JWT_SECRET !== undefined && c.JWT_SECRET === c.AUTH_TOKEN) {
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must differ from AUTH_TOKEN' });
  }
  if (c.INTERNAL_TOKEN !== undefined && (c.INTERNAL_TOKEN === c.AUTH_TOKEN || c.INTERNAL_TOKEN === c.JWT_SECRET)) {
    ctx.addIssue({ code: 'custom', path: ['INTERNAL_TOKEN'], message: 'must differ from AUTH_TOKEN and JWT_SECRET' });
  }
}

/** True when `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Closed by default: a service whose HTTP server listens beyond loopback needs AUTH_TOKEN
 * (and INTERNAL_TOKEN where it serves or calls internal routes), unless the operator opts out
 * with ALLOW_UNAUTHENTICATED=1. On loopback an open server only warns. Returns the problem
 * (for the config error) or undefined.
 */
export function exposureProblem(
  c: { AUTH_TOKEN?: string | undefined; INTERNAL_TOKEN?: string | undefined; ALLOW_UNAUTHENTICATED: boolean },
  addr: ListenAddress,
  opts: { needsInternalToken: boolean },
): { variable: string; message: string } | undefined {
  if (isLoopbackHost(addr.host) || c.ALLOW_UNAUTHENTICATED) return undefined;
  if (c.AUTH_TOKEN === undefined) {
    return {
      variable: 'AUTH_TOKEN',
      message: `the server listens on ${addr.host}:${addr.port}, beyond loopback: set AUTH_TOKEN (or ALLOW_UNAUTHENTICATED=1 to run open on purpose)`,
    };
  }
  if (opts.needsInternalToken && c.INTERNAL_TOKEN === undefined) {
    return {
      variable: 'INTERNAL_TOKEN',
      message: `the server listens on ${addr.host}:${addr.port}, beyond loopback: set INTERNAL_TOKEN for service-to-service calls (or ALLOW_UNAUTHENTICATED=1)`,
    };
  }
  return undefined;
}

/** Logs the warning an open (unauthenticated) server deserves; once at start. */
export function warnIfOpen(
  c: { AUTH_TOKEN?: string | undefined; INTERNAL_TOKEN?: string | undefined; ALLOW_UNAUTHENTICATED: boolean },
  addr: ListenAddress,
  logger: Logger,
): void {
  if (c.AUTH_TOKEN === undefined) {
    logger.warn(
      { addr: `${addr.host}:${addr.port}`, optOut: c.ALLOW_UNAUTHENTICATED },
      isLoopbackHost(addr.host)
        ? 'AUTH_TOKEN is not set: every route is open to processes on this machine'
        : 'AUTH_TOKEN is not set and ALLOW_UNAUTHENTICATED=1: every route is open to the network',
    );
  }
  if (c.INTERNAL_TOKEN === undefined && !isLoopbackHost(addr.host)) {
    logger.warn('INTERNAL_TOKEN is not set: internal routes are open to the network (ALLOW_UNAUTHENTICATED=1)');
  }
}

// --- Trusted proxies -----------------------------------------------------------------------

export interface Cidr {
  bytes: Buffer;
  bits: number;
}

function ipBytes(ip: string): Buffer | undefined {
  const h = ip.replace(/^\[|\]$/g, '');
  if (h.toLowerCase().startsWith('::ffff:') && isIP(h.slice(7)) === 4) return ipBytes(h.slice(7));
  if (isIP(h) === 4) return Buffer.from(h.split('.').map(Number));
  if (isIP(h) !== 6) return undefined;
  const [head = '', tail = ''] = h.includes('::') ? h.split('::') : [h, ''];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

/** "10.0.0.0/8", "::1", "loopback" (127.0.0.0/8 and ::1) → CIDRs; undefined when malformed. */
export function parseCidrs(list: string): Cidr[] | undefined {
  const out: Cidr[] = [];
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (raw === 'loopback') {
      out.push({ bytes: Buffer.from([127, 0, 0, 0]), bits: 8 }, { bytes: ipBytes('::1')!, bits: 128 });
      continue;
    }
    const [ip = '', bitsText] = raw.split('/');
    const bytes = ipBytes(ip);
    if (!bytes) return undefined;
    const bits = bitsText === undefined ? bytes.length * 8 : Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return undefined;
    out.push({ bytes, bits });
  }
  return out;
}

export function inCidrs(ip: string, cidrs: Cidr[]): boolean {
  const b = ipBytes(ip);
  if (!b) return false;
  return cidrs.some((c) => {
    if (c.bytes.length !== b.length) return false;
    for (let i = 0; i < c.bits; i++) {
      const mask = 0x80 >> (i % 8);
      if ((b[i >> 3]! & mask) !== (c.bytes[i >> 3]! & mask)) return false;
    }
    return true;
  });
}

/**
 * The client's address: the socket peer, or — only when the peer is a trusted proxy — the
 * right-most address of X-Forwarded-For that is not itself a trusted proxy.
 */
export function clientIp(peer: string | undefined, xff: string | undefined, trusted: Cidr[]): string {
  const p = (peer ?? '').replace(/^::ffff:/i, '');
  if (!xff || !inCidrs(p, trusted)) return p;
  const hops = xff
    .split(',')
    .map((s) => s.trim().replace(/^::ffff:/i, ''))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!ipBytes(hop)) return p; // garbage in the header: trust nothing further
    if (!inCidrs(hop, trusted)) return hop;
  }
  return hops[0] ?? p;
}

// --- Room token revocation -----------------------------------------------------------------

const revokedKey = (prefix: string, jti: string) => `${prefix}:revoked:${jti}`;

/** Revokes a room token by its `jti`, remembered as long as any room token can live. */
export async function revokeToken(redis: Redis, prefix: string, jti: string): Promise<void> {
  await redis.set(revokedKey(prefix, jti), '1', 'EX', MAX_ROOM_TOKEN_TTL + 60);
}

export const revocationCheck =
  (redis: Redis, prefix: string) =>
  async (jti: string): Promise<boolean> =>
    (await redis.exists(revokedKey(prefix, jti))) === 1;

/** Whether a browser `Origin` is in a CORS_ORIGINS list (an entry ending in ":*" allows any port). */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  const o = origin.toLowerCase();
  return allowed.some((a) => {
    const entry = a.toLowerCase();
    if (!entry.endsWith(':*')) return o === entry;
    const base = entry.slice(0, -2);
    return o === base || (o.startsWith(`${base}:`) && /^\d{1,5}$/.test(o.slice(base.length + 1)));
  });
}
