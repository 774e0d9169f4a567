// A throwaway, real S3 server for tests: Ceph radosgw over a one-monitor, one in-memory-OSD
// cluster with auth off, everything bound to 127.0.0.1 on free ports, in a fresh temp
// directory. MinIO is not available on these machines and s3rver accepts any secret, so this is
// the cheapest S3 that really checks signatures and supports multipart (see ARCHITECTURE.md).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface S3Server {
  /** e.g. http://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Kills the daemons and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
  /** Stops the S3 gateway (radosgw) only: storage is unreachable until startGateway(). For outage tests. */
  stopGateway(): Promise<void>;
  /** Starts the gateway again and resolves once it answers. */
  startGateway(): Promise<void>;
}

// Daemons of every server started by this process, so a test process that exits without
// calling stop() (crash, failed assertion before `finally`) does not leave Ceph running.
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // Only synchronous work is possible here.
    for (const [child, dir] of live) {
      child.kill('SIGKILL');
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Leaving a temp dir behind beats throwing out of an exit handler.
      }
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function conf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# Nothing to authenticate with, and no keyring under /etc/ceph to find.
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# One OSD on one host: replicate across OSDs, not hosts.
osd crush chooseleaf type = 0
ms bind msgr2 = false
ms bind ipv6 = false
# The monitor batches map changes for up to a second; rgw's first start makes ~10 of them in
# sequence (pools, their application tags): this takes startup from ~12 s to ~2 s.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = ${dir}/log/cluster.log
crash dir = ${dir}/crash
mon data = ${dir}/mon.$id
osd data = ${dir}/osd.$id
rgw data = ${dir}/rgw.$id

[osd.0]
osd objectstore = memstore
memstore device bytes = 2147483648
# Defaults assume a real filesystem's xattr limits; rgw's object names need these.
osd max object name len = 256
osd max object namespace len = 64
# At boot the OSD would set its device class and CRUSH location with mon commands, which it
# can send before it has the monmap: they then carry a zero fsid and the monitor refuses them
# ('wrong fsid'), killing the OSD (1 start in 4 here). The helper places it instead.
osd class update on start = false
osd crush update on start = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
`;
}

async function logTail(dir: string, lines = 25): Promise<string> {
  const logDir = join(dir, 'log');
  const names = await readdir(logDir).catch(() => [] as string[]);
  const parts: string[] = [];
  for (const name of names.sort()) {
    const text = await readFile(join(logDir, name), 'utf8').catch(() => '');
    parts.push(`--- ${name}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
  }
  return parts.join('\n');
}

export async function startCephS3(opts: { log?: (line: string) => void } = {}): Promise<S3Server> {
  installExitHook();
  const log = opts.log ?? ((): void => {});
  const dir = await mkdtemp(join(tmpdir(), 'ceph-s3-'));
  const cfg = join(dir, 'ceph.conf');
  const c = ['-c', cfg];
  const children: ChildProcess[] = [];
  const started = Date.now();

  const daemon = (bin: string, args: string[]): ChildProcess => {
    // -f: stay in the foreground (so we own the pid) while logging to the files under dir/log.
    const child = spawn(bin, [...c, '-f', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.set(child, dir);
    children.push(child);
    const forward = (b: Buffer): void => {
      for (const line of b.toString().split('\n')) if (line) log(`${bin}: ${line}`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    // A binary that cannot be spawned reports here; the startup loop then sees no pid.
    child.on('error', (err) => log(`${bin}: ${err.message}`));
    child.on('exit', (code, sig) => {
      live.delete(child);
      log(`${bin} exited (${code ?? sig})`);
    });
    return child;
  };
  // Bounded, so a monitor that never comes up fails the test instead of hanging it.
  const cmd = async (bin: string, args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(bin, [...c, ...args], { timeout: 30_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; killed?: boolean };
      throw new Error(`${bin} ${args.join(' ')} failed${e.killed ? ' (timed out)' : ''}: ${e.stderr?.trim() ?? String(err)}`, {
        cause: err,
      });
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // Newest first (rgw, OSD, monitor): each one's shutdown talks to the next, and an OSD
      // whose monitor is already gone waits seconds for it. Takes well under a second in order.
      for (const ch of [...children].reverse()) {
        if (ch.pid === undefined || ch.exitCode !== null || ch.signalCode !== null) continue;
        await new Promise<void>((resolve) => {
          ch.once('exit', () => resolve());
          ch.kill('SIGTERM');
          const t = setTimeout(() => ch.kill('SIGKILL'), 3_000);
          ch.once('exit', () => clearTimeout(t));
        });
      }
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    for (const d of ['run', 'log', 'crash', 'mon.a', 'osd.0', 'rgw.rgw.a']) await mkdir(join(dir, d));
    await writeFile(cfg, conf(dir, fsid, monPort, rgwPort));

    const monmap = join(dir, 'monmap');
    const monKeyring = join(dir, 'mon.keyring');
    // --addv with an explicit v1 address: plain --add records a msgr2 address for any port
    // but 6789, and msgr2 is not bound.
    await cmd('monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, '--fsid', fsid, monmap]);
    await cmd('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await cmd('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
    daemon('ceph-mon', ['-i', 'a']);
    log(`ceph-mon started after ${Date.now() - started} ms`);

    const osdUuid = randomUUID();
    // The monitor's first seconds: a command can be refused ("EPERM: problem getting command
    // descriptions from mon", seen once in ~40 starts) before its auth is ready. `osd create`
    // with the same uuid is idempotent, so it is asked again.
    let id = '';
    for (let attempt = 1; ; attempt++) {
      try {
        id = (await cmd('ceph', ['osd', 'create', osdUuid])).trim();
        break;
      } catch (err) {
        if (attempt >= 5 || !/problem getting command descriptions/.test(String(err))) throw err;
        log(`ceph osd create refused (attempt ${attempt}); asking again`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (id !== '0') throw new Error(`expected osd id 0, got ${JSON.stringify(id)}`);
    // Placed in CRUSH here rather than by the OSD itself at boot (see the conf for why).
    await cmd('ceph', ['osd', 'crush', 'add', 'osd.0', '1', 'root=default']);
    await cmd('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    daemon('ceph-osd', ['-i', '0']);
    // rgw waits by itself for the OSD to make its pools writable, so start both together.
    daemon('radosgw', ['-n', 'client.rgw.a']);
    log(`ceph-osd and radosgw started after ${Date.now() - started} ms`);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const until = Date.now() + 60_000;
    for (;;) {
      const dead = children.find((ch) => ch.pid === undefined || ch.exitCode !== null || ch.signalCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode ?? 'not started'}) during startup`);
      try {
        // Any HTTP answer means rgw is serving.
        await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
        break;
      } catch {
        if (Date.now() > until) throw new Error(`radosgw did not answer on ${endpoint} within 60 s`);
        await sleep(200);
      }
    }

    // Same shapes as AWS keys; hex so no character needs escaping anywhere.
    const accessKey = randomBytes(10).toString('hex').toUpperCase();
    const secretKey = randomBytes(20).toString('hex');
    await cmd('radosgw-admin', [
      'user',
      'create',
      '--uid=test',
      '--display-name=test',
      `--access-key=${accessKey}`,
      `--secret=${secretKey}`,
    ]);
    log(`ceph s3 ready at ${endpoint} after ${Date.now() - started} ms`);
    // rgw signs with whatever region the client names, but CreateBucket's LocationConstraint,
    // which SDKs send for every region except us-east-1, must match its zonegroup: so us-east-1.
    let gateway = children.find((ch) => ch.spawnfile === 'radosgw');
    const stopGateway = async (): Promise<void> => {
      const gw = gateway;
      if (!gw || gw.exitCode !== null || gw.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        gw.once('exit', () => resolve());
        gw.kill('SIGKILL');
      });
    };
    const startGateway = async (): Promise<void> => {
      gateway = daemon('radosgw', ['-n', 'client.rgw.a']);
      const until = Date.now() + 60_000;
      for (;;) {
        try {
          await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
          return;
        } catch {
          if (Date.now() > until) throw new Error(`radosgw did not answer again on ${endpoint} within 60 s`);
          await sleep(200);
        }
      }
    };
    return { endpoint, region: 'us-east-1', accessKey, secretKey, stop, stopGateway, startGateway };
  } catch (err) {
    const tail = await logTail(dir);
    await stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`starting Ceph S3 failed: ${msg}\n${tail}`, { cause: err });
  }
}
