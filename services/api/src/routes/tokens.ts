// POST /api/v1/tokens: mints a short-lived room-scoped JWT (publish/subscribe/record/admin).
// DELETE /api/v1/tokens/{jti}: revokes one (server token only); every service refuses it from then on.
import Router from '@koa/router';
import { z } from 'zod';
import { forbidden, GrantSchema, MAX_ROOM_TOKEN_TTL, parseInput, revokeToken, RoomNameSchema } from '@live-webrtc/shared';
import type { ApiDeps } from '../deps.js';
import { authenticated, principalOf } from '../http/auth.js';

export const TokenRequestSchema = z.object({
  room: RoomNameSchema,
  grants: z.array(GrantSchema).min(1),
  /** Lifetime, seconds. Default 3600, at most 24 h. */
  ttlSeconds: z.number().int().min(10).max(MAX_ROOM_TOKEN_TTL).default(3600),
});

export const JtiSchema = z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'a token id (jti)');

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
  r.delete('/:jti', authenticated(d.auth), async (ctx) => {
    const jti = parseInput(JtiSchema, ctx.params['jti'], 'jti');
    if (principalOf(ctx).kind === 'jwt') throw forbidden('forbidden', 'only the server token revokes room tokens');
    await revokeToken(d.redis, d.redisPrefix, jti);
    ctx.status = 204;
  });
  return r;
}
