// Rate limits on /api/v1 and WHIP/WHEP, per client IP and per credential, counted in Redis so
// they hold across API instances: a fixed one-minute window per key (INCR + EXPIRE in one
// round trip). Past the limit: 429 rate_limited with Retry-After.
import { createHash } from 'node:crypto';
import type Koa from 'koa';
import { AppError, credentialsFrom, type Redis } from '@live-webrtc/shared';
import { clientIpOf } from './security.js';

export interface RateLimits {
  perIpPerMinute: number;
  perTokenPerMinute: number;
}

const WINDOW_S = 60;

async function hit(redis: Redis, key: string): Promise<number> {
  const res = await redis
    .multi()
    .incr(key)
    .expire(key, WINDOW_S + 5)
    .exec();
  return Number(res?.[0]?.[1] ?? 0);
}

export function rateLimit(redis: Redis, prefix: string, limits: RateLimits): Koa.Middleware {
  return async (ctx, next) => {
    if (!/^\/api\/(v1|whip|whep)\//i.test(ctx.path) || ctx.method === 'OPTIONS') return next();
    const window = Math.floor(Date.now() / 1000 / WINDOW_S);
    const retryAfter = String(WINDOW_S - (Math.floor(Date.now() / 1000) % WINDOW_S));
    const over = (scope: string) => {
      ctx.set('Retry-After', retryAfter);
      return new AppError(429, 'rate_limited', `too many requests from this ${scope}; retry in ${retryAfter} s`, true);
    };
    if (limits.perIpPerMinute > 0) {
      const n = await hit(redis, `${prefix}:rl:ip:${clientIpOf(ctx)}:${window}`);
      if (n > limits.perIpPerMinute) throw over('address');
    }
    const cred = credentialsFrom(ctx.headers);
    if (cred && limits.perTokenPerMinute > 0) {
      const id = createHash('sha256').update(cred).digest('hex').slice(0, 32);
      const n = await hit(redis, `${prefix}:rl:tok:${id}:${window}`);
      if (n > limits.perTokenPerMinute) throw over('token');
    }
    await next();
  };
}
