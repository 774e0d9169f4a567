#!/usr/bin/env node
// The all-in-one launcher behind `npm start`: makes sure Redis answers at REDIS_URL (starting a
// private redis-server under .data/redis when nothing does and the URL is local), then runs the
// SFU, the recorder and the API as child processes, restarting any that crashes (with backoff)
// while the others keep running. Ctrl-C stops them in order, cleanly.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerBin } from './worker-bin.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
// mediasoup reads MEDIASOUP_WORKER_BIN when it is imported: point it at the worker that
// scripts/build-worker.sh built, unless the environment names another one.
env.MEDIASOUP_WORKER_BIN = workerBin();
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

/** The current process of each supervised service, by name. */
const children = new Map();
let stopping = false;

/**
 * Runs a service and supervises it: when it exits unexpectedly (a crash, an OOM kill) it is
 * started again after a backoff (0.5 s doubling to 30 s; back to 0.5 s once it ran a minute),
 * and the other services keep running. Only Ctrl-C / SIGTERM stops everything.
 */
function run(name, cmd, args, opts = {}) {
  let backoffMs = 500;
  const start = () => {
    const startedAt = Date.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
    children.set(name, child);
    child.on('error', (err) => log(`${name} could not start: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      // Exit 2 is a configuration error (shared/src/config.ts), e.g. a service asked to listen
      // beyond loopback without AUTH_TOKEN: restarting cannot fix it, and a restart loop would
      // hide the refusal. Stop the product with the service's message on screen.
      if (code === 2) {
        log(`${name} refused its configuration (see above); stopping`);
        shutdown(2);
        return;
      }
      if (Date.now() - startedAt > 60_000) backoffMs = 500;
      log(`${name} exited unexpectedly (${signal ?? code}); restarting it in ${backoffMs} ms`);
      setTimeout(() => {
        if (!stopping) start();
      }, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    });
    return child;
  };
  return start();
}

async function ensureRedis() {
  const url = new URL(env.REDIS_URL);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) return;
  // In a container (the image sets LW_IN_CONTAINER=1) Redis is another service: a private one
  // here would take its port and split the state.
  if (env.LW_IN_CONTAINER === '1') {
    log(`nothing answers at REDIS_URL=${env.REDIS_URL}; in a container the launcher never starts its own Redis`);
    process.exit(1);
  }
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
      const c = children.get(name);
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
