// Serves the product's web page (src/web) at "/".
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';

const WEB_DIR = fileURLToPath(new URL('../../src/web/', import.meta.url));
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export function webPage(): Koa.Middleware {
  return async (ctx, next) => {
    const entry = ctx.method === 'GET' || ctx.method === 'HEAD' ? FILES[ctx.path] : undefined;
    if (!entry) return next();
    ctx.type = entry.type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await readFile(WEB_DIR + entry.file);
  };
}
