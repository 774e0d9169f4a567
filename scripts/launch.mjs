#!/usr/bin/env node
// The all-in-one launcher behind `npm start`: makes sure Redis answers at REDIS_URL (starting a
// private redis-server under .data/redis when nothing does and the URL is local), then runs the
// SFU, the recorder and the API as child processes. Ctrl-C stops them in order, cleanly.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
// mediasoup reads MEDIASOUP_WORKER_BIN when it is imported: point it at the worker that
// scripts/install-system.sh unpacked, unless the environment names another one.
const packagedWorker = join(root, '.deps/mediasoup-worker/usr/lib/x86_64-linux-gnu/mediasoup/mediasoup-worker');
if (!env.MEDIASOUP_WORKER_BIN && existsSync(packagedWorker)) env.MEDIASOUP_WORKER_BIN = packagedWorker;
env.REDIS_URL ??= 'redis://127.0.0.1:6379';
env.SFU_HTTP_ADDR ??= '127.0.0.1:8081';
env.SFU_URL ??= `http://${env.SFU_HTTP_ADDR.replace(/^:/, '127.0.0.1:').replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
env.RECORDER_HTTP_ADDR ??= '127.0.0.1:8083';
// Closed by default: without AUTH_TOKEN (and without the ALLOW_UNAUTHENTICATED=1 opt-out) the
// product listens on loopback only; with it, on every interface as documented.
const optOut = ['1', 'true', 'yes', 'on'].includes(String(env.ALLOW_UNAUTHENTICATED ?? '').toLowerCase());
if (!env.HTTP_ADDR && !env.AUTH_TOKEN && !optOut) {
  env.HTTP_ADDR = '127.0.0.1:8080';
  process.stderr.write('[live-webrtc] AUTH_TOKEN is not set: listening on 127.0.0.1:8080 only (set AUTH_TOKEN to serve the network)\n');
}
// Service-to-service calls (API → SFU, recorder → SFU) present INTERNAL_TOKEN: when the
// operator gives none, one is generated for this launch and shared with the children only.
env.INTERNAL_TOKEN ||= randomBytes(32).toString('hex');
const httpPort = (env.HTTP_ADDR ?? ':8080').split(':').pop();
env.PUBLIC_URL ??= `http://127.0.0.1:${httpPort}`;

const log = (msg) => process.stderr.write(`[live-webrtc] ${msg}\n`);

/** Resolves true when something at host:port answers Redis PING. */
function redisAnswers(host, port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
  });
}

const children = [];
let stopping = false;

function run(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  child.name = name;
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited unexpectedly (${signal ?? code}); stopping everything`);
      shutdown(1);
    }
  });
  return child;
}

async function ensureRedis() {
  const url = new URL(env.REDIS_URL);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) return;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    log(`nothing answers at REDIS_URL=${env.REDIS_URL} and it is not local: start Redis there`);
    process.exit(1);
  }
  const dir = env.REDIS_DATA_DIR ?? join(root, '.data', 'redis');
  mkdirSync(dir, { recursive: true });
  log(`starting a private redis-server on ${host}:${port} (data in .data/redis)`);
  run('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '']);
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(host, port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  log('private redis-server did not answer within 10 s');
  shutdown(1);
}

async function waitHttp(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.ok) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function shutdown(code) {
  if (stopping) return;
  stopping = true;
  log('stopping');
  // API first (no new requests), then SFU (stops recordings), then the recorder (finalizes
  // files), Redis last.
  const order = ['api', 'sfu', 'recorder', 'redis'];
  (async () => {
    for (const name of order) {
      const c = children.find((ch) => ch.name === name);
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGTERM');
      const exited = await Promise.race([
        new Promise((r) => c.once('exit', () => r(true))),
        new Promise((r) => setTimeout(() => r(false), 20_000)),
      ]);
      if (!exited) c.kill('SIGKILL');
    }
    process.exit(code);
  })();
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

await ensureRedis();
const node = process.execPath;
const svc = (name) => join(root, 'services', name, 'dist', 'main.js');
run('sfu', node, ['--enable-source-maps', svc('sfu')]);
run('recorder', node, ['--enable-source-maps', svc('recorder')]);
if (!(await waitHttp(`${env.SFU_URL}/healthz`, 30_000))) {
  log('the SFU did not come up');
  shutdown(1);
}
run('api', node, ['--enable-source-maps', svc('api')]);
if (await waitHttp(`http://127.0.0.1:${httpPort}/healthz`, 30_000)) {
  log(`ready: open http://127.0.0.1:${httpPort}/ (Ctrl-C stops)`);
}
