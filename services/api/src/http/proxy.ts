// WHIP/WHEP requests reach the API's origin (one HTTP origin for users) and are relayed to the
// SFU; the SFU answers, including its 307 redirects to another instance. The relay is the one
// door to the SFU: it forwards only the WHIP/WHEP resource paths, rebuilt from validated parts
// (no dot segments, encoded or not, no query, nothing else), so no request reaches /internal/*.
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { badRequest, discardBody, injectTraceContext, notFound, payloadTooLarge, unavailable, type Logger } from '@live-webrtc/shared';
import { clientIpOf } from './security.js';

const PASS_REQUEST = ['content-type', 'authorization', 'x-auth-token', 'if-match', 'origin'];
const PASS_RESPONSE = ['content-type', 'location', 'link', 'etag', 'accept-patch', 'accept-post', 'www-authenticate', 'retry-after'];

const SEGMENT = '[A-Za-z0-9_-]{1,64}';
const RESOURCE = new RegExp(`^/api/(whip/publish|whep/play)/(${SEGMENT})(?:/(${SEGMENT}))?$`);

/**
 * The SFU path for a raw request target, or a thrown 400/404. Checks the target as the client
 * sent it (before any decoding or normalisation): a "." or "%" anywhere is refused.
 */
export function relayPath(rawUrl: string): string {
  const [path = '', query] = rawUrl.split('?', 2);
  if (/[.%\\]/.test(path) || path.includes('//')) {
    throw badRequest('bad_path', 'WHIP/WHEP paths carry no dot segments, escapes or empty segments');
  }
  if (query !== undefined && query !== '') throw badRequest('bad_path', 'WHIP/WHEP paths take no query');
  const m = RESOURCE.exec(path);
  if (!m) throw notFound('not_found', 'no WHIP/WHEP resource at this path');
  return `/api/${m[1]}/${m[2]}${m[3] ? `/${m[3]}` : ''}`;
}

export function sfuProxy(sfuUrl: string, maxBody: number, logger?: Logger): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/api/whip/') && !ctx.path.startsWith('/api/whep/')) return next();
    const path = relayPath(ctx.req.url ?? '');
    let body: Buffer | undefined;
    if (ctx.method === 'POST' || ctx.method === 'PATCH') {
      try {
        body = await getRawBody(ctx.req, { limit: maxBody });
      } catch (err) {
        if ((err as { type?: string }).type === 'entity.too.large') {
          await discardBody(ctx.req);
          throw payloadTooLarge(`body larger than ${maxBody} bytes`);
        }
        throw badRequest('bad_body', 'the request body could not be read');
      }
    }
    const headers: Record<string, string> = { 'x-forwarded-for': clientIpOf(ctx), 'x-forwarded-host': ctx.host };
    for (const h of PASS_REQUEST) {
      const v = ctx.get(h);
      if (v) headers[h] = v;
    }
    let res: Response;
    try {
      res = await fetch(`${sfuUrl}${path}`, {
        method: ctx.method,
        headers: injectTraceContext(headers),
        ...(body ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      logger?.warn({ err, cause: (err as { cause?: unknown }).cause, path }, 'relay to the SFU failed');
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
