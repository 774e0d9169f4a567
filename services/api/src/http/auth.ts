// Who is calling: every /api/v1 route authenticates first (AUTH_TOKEN, or a room JWT), then
// authorizes against the room the request is about — the `:room` parameter when the path has
// one, else the room of the recording it names (routes call `authorize` once they know it).
import type Koa from 'koa';
import type { Authenticator, Grant, Principal } from '@live-webrtc/shared';

/** Middleware: authenticates the request and keeps the principal in ctx.state. */
export const authenticated =
  (auth: Authenticator): Koa.Middleware =>
  async (ctx, next) => {
    ctx.state['principal'] = await auth.authenticate(ctx.headers);
    await next();
  };

/** The principal `authenticated` stored. */
export function principalOf(ctx: Koa.Context): Principal {
  const p = ctx.state['principal'] as Principal | undefined;
  if (!p) throw new Error('route is missing the authenticated() middleware');
  return p;
}

/** Middleware factory: authenticate, then require `grant` for the `:room` param. */
export const requireGrant =
  (auth: Authenticator, grant: Grant): Koa.Middleware =>
  async (ctx, next) => {
    const principal = await auth.authenticate(ctx.headers);
    const room = (ctx as unknown as { params?: Record<string, string> }).params?.['room'];
    auth.authorize(principal, grant, room);
    ctx.state['principal'] = principal;
    await next();
  };
