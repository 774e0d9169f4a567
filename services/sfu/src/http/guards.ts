// The SFU's doors: /internal/* takes only INTERNAL_TOKEN (never a user token) and then checks
// the grants of the caller the API forwards; WHIP/WHEP get the CORS allowlist, the cross-site
// guard, the client's address (X-Forwarded-For from TRUSTED_PROXIES only) and a cap on open
// sessions per client address.
import type Koa from 'koa';
import {
  AppError,
  CALLER_CREDENTIAL_HEADER,
  clientIp,
  credentialsFrom,
  forbidden,
  INTERNAL_PRINCIPAL,
  isLoopbackHost,
  originAllowed,
  safeEqual,
  unauthorized,
  type Authenticator,
  type Cidr,
  type Principal,
} from '@live-webrtc/shared';

/**
 * Guards every /internal/* path, whatever router declares it. With INTERNAL_TOKEN set it is
 * required; unset (allowed on loopback only, see exposureProblem) only loopback peers pass.
 * The principal is the forwarded caller's when the API sent one, else the internal one.
 */
export function internalGuard(opts: { internalToken: string | undefined; auth: Authenticator }): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/internal/') && ctx.path !== '/internal') return next();
    const cred = credentialsFrom(ctx.headers);
    if (opts.internalToken !== undefined) {
      if (cred === undefined || !safeEqual(cred, opts.internalToken)) throw unauthorized('internal routes take INTERNAL_TOKEN only');
    } else if (!isLoopbackHost(ctx.req.socket.remoteAddress ?? '')) {
      throw unauthorized('internal routes are reachable from this machine only (INTERNAL_TOKEN is not set)');
    }
    const caller = ctx.get(CALLER_CREDENTIAL_HEADER);
    const principal: Principal = caller ? await opts.auth.authenticate({ authorization: `Bearer ${caller}` }) : INTERNAL_PRINCIPAL;
    ctx.state['principal'] = principal;
    await next();
  };
}

export const principalOf = (ctx: Koa.Context): Principal => {
  const p = ctx.state['principal'] as Principal | undefined;
  if (!p) throw new Error('internal route without internalGuard');
  return p;
};

/** CORS with an allowlist (CORS_ORIGINS) and the cross-site guard on mutating requests. */
export function cors(allowed: string[]): Koa.Middleware {
  return async (ctx, next) => {
    const origin = ctx.get('Origin');
    const listed = origin !== '' && originAllowed(origin, allowed);
    ctx.vary('Origin');
    if (listed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', 'Location, Link, ETag, Accept-Patch, Accept-Post');
      if (ctx.method === 'OPTIONS') {
        ctx.set('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
        ctx.set('Access-Control-Allow-Headers', 'Authorization, X-Auth-Token, Content-Type, If-Match');
        ctx.set('Access-Control-Max-Age', '600');
      }
    }
    if (['POST', 'PATCH', 'DELETE', 'PUT'].includes(ctx.method) && origin !== '' && !listed) {
      const host = (ctx.get('X-Forwarded-Host') || ctx.get('Host')).toLowerCase();
      const sameHost = URL.canParse(origin) && new URL(origin).host.toLowerCase() === host;
      if (!sameHost) throw forbidden('origin_not_allowed', `requests from origin "${origin}" are not allowed (CORS_ORIGINS)`);
    }
    await next();
  };
}

export function clientAddress(trusted: Cidr[]): Koa.Middleware {
  return async (ctx, next) => {
    ctx.state['clientIp'] = clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, trusted);
    await next();
  };
}

export const clientIpOf = (ctx: Koa.Context): string => (ctx.state['clientIp'] as string | undefined) ?? '';

/** Open sessions per client address; a place is taken before any await and given back once. */
export class SessionsPerIp {
  readonly #open = new Map<string, number>();
  constructor(private readonly max: number) {}

  acquire(ip: string): () => void {
    const n = this.#open.get(ip) ?? 0;
    if (n >= this.max) {
      throw new AppError(429, 'too_many_sessions', `this address has ${n} open sessions, the limit (MAX_SESSIONS_PER_IP)`, true);
    }
    this.#open.set(ip, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(ip) ?? 1) - 1;
      if (left <= 0) this.#open.delete(ip);
      else this.#open.set(ip, left);
    };
  }
}

/** Counts m-sections without parsing: an offer above the cap is refused before any work. */
export function mediaSectionCount(sdp: string): number {
  return (sdp.match(/^m=/gm) ?? []).length;
}
