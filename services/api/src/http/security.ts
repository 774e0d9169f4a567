// Web hygiene at the API's one origin: response headers (CSP without inline script or style,
// frame-ancestors 'none', nosniff, Referrer-Policy), the client address (X-Forwarded-For only
// from TRUSTED_PROXIES), the CORS allowlist (CORS_ORIGINS) and the cross-site request guard
// of ../shared/API.md: a browser request whose Origin is not allowed is refused on mutating
// routes, and a mutating /api/v1 request that carries a body must say it is JSON.
import type Koa from 'koa';
import { clientIp, forbidden, originAllowed, unsupportedMediaType, type Cidr } from '@live-webrtc/shared';

/**
 * The page's policy: its own script and style files only (no inline code), nothing framed.
 * connect-src also names CORS_ORIGINS: the other instances a WHIP/WHEP 307 may send it to.
 */
export function contentSecurityPolicy(corsOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    ["connect-src 'self'", ...corsOrigins].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(corsOrigins: readonly string[] = []): Koa.Middleware {
  const csp = contentSecurityPolicy(corsOrigins);
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    await next();
  };
}

/** Stores the client's address in ctx.state.clientIp for limits and logs. */
export function clientAddress(trusted: Cidr[]): Koa.Middleware {
  return async (ctx, next) => {
    ctx.state['clientIp'] = clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, trusted);
    await next();
  };
}

export const clientIpOf = (ctx: Koa.Context): string => (ctx.state['clientIp'] as string | undefined) ?? ctx.req.socket.remoteAddress ?? '';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const EXPOSED = 'Location, Link, ETag, Accept-Patch, Accept-Post, Retry-After, Preference-Applied';

/** The host part of an Origin header, or undefined when it is not an http(s) origin. */
function originHost(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CORS for /api/ paths with an allowlist, preflights answered here (never relayed, so an
 * unauthenticated OPTIONS learns nothing but the methods), and the cross-site guard.
 */
export function corsAndOrigin(allowed: string[]): Koa.Middleware {
  return async (ctx, next) => {
    // Case-insensitive: the routers are, so /API/v1/... must not slip past the guard.
    if (!ctx.path.toLowerCase().startsWith('/api/')) return next();
    const origin = ctx.get('Origin');
    const sameOrigin = origin !== '' && originHost(origin) === ctx.get('Host').toLowerCase();
    const listed = origin !== '' && originAllowed(origin, allowed);
    if (listed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED);
    }
    ctx.vary('Origin');
    if (ctx.method === 'OPTIONS') {
      if (listed) {
        ctx.set('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
        // Prefer: a start request's `respond-async` / `wait=N` (RFC 7240).
        ctx.set('Access-Control-Allow-Headers', 'Authorization, X-Auth-Token, Content-Type, If-Match, Prefer');
        ctx.set('Access-Control-Max-Age', '600');
      }
      if (/^\/api\/(whip|whep)\//.test(ctx.path)) ctx.set('Accept-Post', 'application/sdp');
      ctx.status = 204;
      return;
    }
    if (MUTATING.has(ctx.method)) {
      const crossSite = ctx.get('Sec-Fetch-Site') === 'cross-site';
      if ((origin !== '' && !sameOrigin && !listed) || (crossSite && !listed)) {
        throw forbidden('origin_not_allowed', `requests from origin "${origin || 'another site'}" are not allowed (CORS_ORIGINS)`);
      }
      // A body must declare itself: JSON on the control plane (WHIP/WHEP check their own types).
      const hasBody = Number(ctx.get('Content-Length') || 0) > 0 || ctx.get('Transfer-Encoding') !== '';
      if (hasBody && ctx.path.toLowerCase().startsWith('/api/v1/') && !ctx.is('application/json')) {
        throw unsupportedMediaType(`expected Content-Type application/json, got "${ctx.get('Content-Type') || 'none'}"`);
      }
    }
    await next();
  };
}
