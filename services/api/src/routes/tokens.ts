// POST /api/v1/tokens: mints a short-lived room-scoped JWT (publish/subscribe/record/admin).
import Router from '@koa/router';
import { z } from 'zod';
import { GrantSchema, parseInput, RoomNameSchema } from '@live-webrtc/shared';
import type { ApiDeps } from '../deps.js';
import { authenticated, principalOf } from '../http/auth.js';

export const TokenRequestSchema = z.object({
  room: RoomNameSchema,
  grants: z.array(GrantSchema).min(1),
  /** Lifetime, seconds. Default 3600, at most 24 h. */
  ttlSeconds: z.number().int().min(10).max(86400).default(3600),
});

export function tokenRoutes(d: ApiDeps): Router {
  const r = new Router({ prefix: '/api/v1/tokens' });
  r.post('/', authenticated(d.auth), async (ctx) => {
    const { room, grants, ttlSeconds } = parseInput(TokenRequestSchema, ctx.request.body, 'body');
    // The server token mints for any room; a room's admin token for its own room only, and
    // never beyond its own expiry (a leaked room token must not renew itself forever).
    const principal = principalOf(ctx);
    d.auth.authorize(principal, 'admin', room);
    const left = principal.expiresAt !== undefined ? principal.expiresAt - Math.floor(Date.now() / 1000) : Infinity;
    const minted = await d.auth.mintRoomToken(room, grants, Math.min(ttlSeconds, left));
    ctx.status = 201;
    ctx.body = { ...minted, room, grants };
  });
  return r;
}
