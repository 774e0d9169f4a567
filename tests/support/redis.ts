// A private, throwaway redis-server for a test: free loopback port, no persistence, its own
// working directory, stopped (and the directory removed) by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Resolves true once something on 127.0.0.1:port answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts redis-server (from PATH) on a free port; retries on a port race; rejects after 3 tries. */
export async function startRedis(): Promise<RedisServer> {
  let lastError = 'unknown';
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'lw-redis-'));
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
    child.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    for (let i = 0; i < 100 && child.exitCode === null && !spawnError; i++) {
      if (await answersPing(port)) {
        let stopped: Promise<void> | undefined;
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          stop() {
            stopped ??= stopChild(child).then(() => rm(dir, { recursive: true, force: true }));
            return stopped;
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    lastError = spawnError?.message ?? output.join('').trim().split('\n').slice(-3).join(' | ');
    if (!spawnError) await stopChild(child); // a process that never spawned never exits
    await rm(dir, { recursive: true, force: true });
  }
  throw new Error(`redis-server did not start: ${lastError}`);
}
