// WHIP/WHEP requests reach the API's origin (one HTTP origin for users) and are relayed to the
// SFU as they are; the SFU answers, including its 307 redirects to another instance.
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { injectTraceContext, payloadTooLarge, unavailable } from '@live-webrtc/shared';

const PASS_REQUEST = ['content-type', 'authorization', 'x-auth-token', 'if-match', 'origin'];
const PASS_RESPONSE = [
  'content-type',
  'location',
  'link',
  'etag',
  'accept-patch',
  'accept-post',
  'www-authenticate',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'vary',
];

export function sfuProxy(sfuUrl: string, maxBody: number): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/api/whip/') && !ctx.path.startsWith('/api/whep/')) return next();
    let body: Buffer | undefined;
    if (ctx.method === 'POST' || ctx.method === 'PATCH') {
      try {
        body = await getRawBody(ctx.req, { limit: maxBody });
      } catch (err) {
        if ((err as { type?: string }).type === 'entity.too.large') throw payloadTooLarge(`body larger than ${maxBody} bytes`);
        throw err;
      }
    }
    const headers: Record<string, string> = { 'x-forwarded-for': ctx.ip, 'x-forwarded-host': ctx.host };
    for (const h of PASS_REQUEST) {
      const v = ctx.get(h);
      if (v) headers[h] = v;
    }
    let res: Response;
    try {
      res = await fetch(`${sfuUrl}${ctx.url}`, {
        method: ctx.method,
        headers: injectTraceContext(headers),
        ...(body ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      throw unavailable('sfu_unavailable', 'the media server is not reachable');
    }
    ctx.status = res.status;
    for (const h of PASS_RESPONSE) {
      const v = res.headers.get(h);
      if (v) ctx.set(h, v);
    }
    ctx.body = Buffer.from(await res.arrayBuffer());
  };
}
