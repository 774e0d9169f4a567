import type Koa from 'koa';
import type { Authenticator, Grant } from '@live-webrtc/shared';

/** Middleware factory: authenticate, then require `grant` (for the `:room` param, if any). */
export const requireGrant =
  (auth: Authenticator, grant: Grant): Koa.Middleware =>
  async (ctx, next) => {
    const principal = await auth.authenticate(ctx.headers);
    const room = (ctx as unknown as { params?: Record<string, string> }).params?.['room'];
    auth.authorize(principal, grant, room);
    ctx.state['principal'] = principal;
    await next();
  };
