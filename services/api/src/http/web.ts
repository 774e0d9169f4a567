// Serves the web app built by web/build.mjs (web/dist/public): index.html at "/" with
// `no-cache` (it names the current hashed assets), hashed files under /assets/ cached for a year
// as immutable, and the embeddable player at its stable address /embed/player.js (short cache,
// loadable as a module script from any site).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';

/** Compiled to services/api/dist/http/: the repository root is four levels up. */
export const WEB_ROOT = fileURLToPath(new URL('../../../../web/dist/public/', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
};
const ASSET_RE = /^\/assets\/([A-Za-z0-9_.-]+\.(js|css|map|txt))$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function webPage(root = WEB_ROOT): Koa.Middleware {
  const send = async (ctx: Koa.Context, file: string, type: string, cache: string): Promise<boolean> => {
    let body: Buffer;
    try {
      body = await readFile(root + file);
    } catch {
      return false;
    }
    ctx.type = type;
    ctx.set('Cache-Control', cache);
    ctx.body = body;
    return true;
  };
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/' || ctx.path === '/index.html') {
      if (await send(ctx, 'index.html', TYPES['html']!, 'no-cache')) return;
      ctx.status = 503;
      ctx.body = { error: { code: 'web_not_built', message: 'the web app is not built: run `npm run build -w web` (npm start does it)' } };
      return;
    }
    if (ctx.path === '/embed/player.js') {
      // A module script from another origin is fetched with CORS: anyone may load the player
      // (what it may then play is decided by CORS_ORIGINS and the room's token).
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
      if (await send(ctx, 'embed/player.js', TYPES['js']!, 'public, max-age=300')) return;
      return next();
    }
    const m = ASSET_RE.exec(ctx.path);
    if (m && !m[1]!.includes('..')) {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
      if (await send(ctx, `assets/${m[1]}`, TYPES[m[2]!]!, IMMUTABLE)) return;
    }
    return next();
  };
}
