// Serves the product's web page (src/web) at "/", and hls.js (from npm) for its HLS player.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';

const WEB_DIR = fileURLToPath(new URL('../../src/web/', import.meta.url));
const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/vendor/hls.min.js': { file: HLS_JS, type: 'text/javascript; charset=utf-8' },
};

export function webPage(): Koa.Middleware {
  return async (ctx, next) => {
    const entry = ctx.method === 'GET' || ctx.method === 'HEAD' ? FILES[ctx.path] : undefined;
    if (!entry) return next();
    ctx.type = entry.type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await readFile(entry.file.startsWith('/') ? entry.file : WEB_DIR + entry.file);
  };
}
