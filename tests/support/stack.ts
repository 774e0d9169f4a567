// Starts the whole product as `npm start` does (scripts/launch.mjs: private Redis, SFU,
// recorder, API) on free loopback ports with its own data directories, and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, rtcPortRange } from './ports.js';

// Compiled to tests/dist/support/: the repository root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Stack {
  /** The one public origin (API, page, WHIP/WHEP), e.g. http://127.0.0.1:PORT */
  url: string;
  /** The SFU's and the recorder's own HTTP servers (health, metrics). */
  sfuUrl: string;
  recorderUrl: string;
  dataDir: string;
  /** The environment the launcher got (ports, Redis URL…): for starting further services against the same stack. */
  env: Record<string, string>;
  /** The launcher's pid (its children are the services). */
  pid: number;
  logs: string[];
  /** Ctrl-C, as a user stops `npm start`; waits for a clean exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
  /** SIGKILL to the launcher and every process it started (a machine dying), then cleanup. */
  kill(): Promise<void>;
}

export async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lw-stack-'));
  const [http, sfu, rec, redis] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const rtc = rtcPortRange();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HTTP_ADDR: `127.0.0.1:${http}`,
    SFU_HTTP_ADDR: `127.0.0.1:${sfu}`,
    RECORDER_HTTP_ADDR: `127.0.0.1:${rec}`,
    REDIS_URL: `redis://127.0.0.1:${redis}`,
    REDIS_DATA_DIR: join(dataDir, 'redis'),
    // Relative, as with `npm start`'s default: the services run in dataDir.
    RECORD_DIR: 'records',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_MIN_PORT: String(rtc.min),
    RTC_MAX_PORT: String(rtc.max),
    SFU_WORKERS: '1',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    // Raw only unless a test asks for outputs (env or start-request body): transcoding every
    // recording of every test would load the machine the timing-sensitive tests run on.
    TRANSCODE_OUTPUTS: 'none',
    ...extraEnv,
  };
  const logs: string[] = [];
  // Its own process group, so kill() can take down the services, mediasoup workers and ffmpeg too.
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts/launch.mjs')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    cwd: dataDir,
  });
  const keep = (b: Buffer): void => {
    for (const line of b.toString().split('\n')) if (line) logs.push(line);
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${http}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 30_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  const kill = async (): Promise<void> => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  };
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok)
        return {
          url,
          sfuUrl: `http://127.0.0.1:${sfu}`,
          recorderUrl: `http://127.0.0.1:${rec}`,
          dataDir,
          env,
          pid: child.pid ?? 0,
          logs,
          stop,
          kill,
        };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`stack did not become ready:\n${logs.slice(-40).join('\n')}`);
}
