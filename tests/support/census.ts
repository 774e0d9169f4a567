// What a running stack holds, counted from outside: per service memory, fds and event-loop lag
// (their /metrics), the mediasoup workers' objects (the SFU's /internal/v1/media, from the
// workers' own dumps), UDP sockets and ffmpeg processes of the stack's process tree (/proc),
// Redis keys by shape, and files in the recorder's work directory. The soak (bench/soak.mjs)
// prints these over time; the back-to-baseline test compares the idle counts before and after.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Stack } from './stack.js';

export interface ServiceSample {
  rssMb: number;
  heapMb: number;
  fds: number;
  lagP99Ms: number;
}

export interface MediaCounts {
  rooms: number;
  sessions: number;
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  workerRssMb: number;
}

/** Counts that must come back to where they were once every room has closed. */
export interface IdleCounts {
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  rooms: number;
  sessions: number;
  udpSockets: number;
  ffmpeg: number;
  /** Redis keys without a TTL outside the recordings index and BullMQ's bounded job history, by shape. */
  redisKeys: Record<string, number>;
  workFiles: number;
  /** Up to 10 of those files (relative to the work directory), to see what was left. */
  workFilesSample?: string[];
}

export interface Census {
  at: string;
  services: Record<'sfu' | 'recorder' | 'api', ServiceSample | null>;
  media: MediaCounts | null;
  idle: IdleCounts;
}

const metric = (text: string, name: string): number => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

async function serviceSample(url: string): Promise<ServiceSample | null> {
  try {
    const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) return null;
    const t = await r.text();
    return {
      rssMb: +(metric(t, 'lw_process_resident_memory_bytes') / 2 ** 20).toFixed(1),
      heapMb: +(metric(t, 'lw_nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(1),
      fds: metric(t, 'lw_process_open_fds'),
      lagP99Ms: +(metric(t, 'lw_nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(1),
    };
  } catch {
    return null; // restarting (a fault): a gap in the series, not a failure of the census
  }
}

interface WorkerCensus {
  pid: number;
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
}

async function mediaCounts(stack: Stack): Promise<MediaCounts | null> {
  try {
    const r = await fetch(`${stack.sfuUrl}/internal/v1/media`, {
      headers: { Authorization: `Bearer ${stack.env['INTERNAL_TOKEN']}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok) return null;
    const b = (await r.json()) as { rooms: number; sessions: number; workers: WorkerCensus[] };
    const sum = (k: keyof WorkerCensus): number => b.workers.reduce((n, w) => n + w[k], 0);
    let rssKb = 0;
    for (const w of b.workers) rssKb += await vmRssKb(w.pid);
    return {
      rooms: b.rooms,
      sessions: b.sessions,
      routers: sum('routers'),
      transports: sum('transports'),
      producers: sum('producers'),
      consumers: sum('consumers'),
      workerRssMb: +(rssKb / 1024).toFixed(1),
    };
  } catch {
    return null;
  }
}

async function vmRssKb(pid: number): Promise<number> {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Every process under `root` (inclusive), with its command name. */
export async function processTree(root: number): Promise<{ pid: number; comm: string }[]> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = await readFile(`/proc/${d}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      comm.set(Number(d), s.slice(s.indexOf('(') + 1, close));
      parent.set(Number(d), Number(s.slice(close + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, i = 0; p !== undefined && p > 1 && i < 64; p = parent.get(p), i++) if (p === root) return true;
    return false;
  };
  for (const pid of comm.keys()) if (inTree(pid)) out.push({ pid, comm: comm.get(pid) ?? '' });
  return out;
}

/** UDP sockets held by the given processes (their socket fds matched against /proc/net/udp{,6}). */
async function udpSockets(pids: number[]): Promise<number> {
  const udp = new Set<string>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[9]) udp.add(cols[9]);
    }
  }
  let n = 0;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && udp.has(m[1]!)) n++;
    }
  }
  return n;
}

const QUEUE_STATE_KEYS = new Set(['wait', 'paused', 'active', 'delayed', 'prioritized', 'stalled', 'pc']);

/**
 * The shape of a key, ids replaced by `*`. Keys of the recordings index (`rec:`, `recs…`) and
 * BullMQ's job history (kept up to removeOnComplete/removeOnFail, bounded by design) are not
 * counted: they grow with the number of recordings made, which is their job.
 */
export function keyShape(key: string, prefix = 'lw'): string | null {
  if (key.startsWith(`${prefix}:rec:`) || key.startsWith(`${prefix}:recs`)) return null;
  if (key.startsWith(`${prefix}:bull:`)) {
    const [queue, part] = key.slice(`${prefix}:bull:`.length).split(':');
    // Jobs waiting or running are counted; job hashes, the completed/failed history, the
    // events stream, meta and the id counter are the bounded history or constant.
    return part !== undefined && QUEUE_STATE_KEYS.has(part) ? `${prefix}:bull:${queue}:${part}` : null;
  }
  return key.replace(/[0-9A-HJKMNP-TV-Z]{26}/g, '*').replace(/-\d+-[0-9a-f]+$/, '-*');
}

async function redisKeys(url: string): Promise<Record<string, number>> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 3000 });
  redis.on('error', () => undefined);
  const shapes: Record<string, number> = {};
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const shape = keyShape(k);
        if (shape === null) continue;
        // A key with a TTL (heartbeats, locks) cleans itself up: not a leak.
        if ((await redis.ttl(k)) >= 0) continue;
        shapes[shape] = (shapes[shape] ?? 0) + 1;
      }
    } while (cursor !== '0');
  } catch {
    // Redis restarting (a fault): no key counts this time
  } finally {
    redis.disconnect();
  }
  return shapes;
}

async function listFiles(dir: string, rel = '', out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await listFiles(join(dir, e.name), join(rel, e.name), out);
    else out.push(join(rel, e.name));
  }
  return out;
}

export async function takeCensus(stack: Stack): Promise<Census> {
  const [sfu, recorder, api, media] = await Promise.all([
    serviceSample(stack.sfuUrl),
    serviceSample(stack.recorderUrl),
    serviceSample(stack.url),
    mediaCounts(stack),
  ]);
  const tree = await processTree(stack.pid);
  const workDir = stack.env['RECORDER_WORK_DIR'] ?? join(stack.dataDir, 'records', '.work');
  const workFiles = await listFiles(workDir);
  return {
    at: new Date().toISOString(),
    services: { sfu, recorder, api },
    media,
    idle: {
      rooms: media?.rooms ?? NaN,
      sessions: media?.sessions ?? NaN,
      routers: media?.routers ?? NaN,
      transports: media?.transports ?? NaN,
      producers: media?.producers ?? NaN,
      consumers: media?.consumers ?? NaN,
      udpSockets: await udpSockets(tree.map((p) => p.pid)),
      ffmpeg: tree.filter((p) => p.comm === 'ffmpeg').length,
      redisKeys: await redisKeys(stack.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'),
      workFiles: workFiles.length,
      workFilesSample: workFiles.slice(0, 10),
    },
  };
}

/** Where `now` differs from `base` (empty when everything is back): "what: base → now". */
export function differences(base: IdleCounts, now: IdleCounts): string[] {
  const out: string[] = [];
  for (const k of ['rooms', 'sessions', 'routers', 'transports', 'producers', 'consumers', 'udpSockets', 'ffmpeg', 'workFiles'] as const) {
    if (base[k] !== now[k]) out.push(`${k}: ${base[k]} → ${now[k]}`);
  }
  for (const shape of new Set([...Object.keys(base.redisKeys), ...Object.keys(now.redisKeys)])) {
    const a = base.redisKeys[shape] ?? 0;
    const b = now.redisKeys[shape] ?? 0;
    if (a !== b) out.push(`redis ${shape}: ${a} → ${b}`);
  }
  return out;
}

/** Polls until the idle counts are back at `base` (or `ms` pass); returns the last differences. */
export async function settleToBaseline(stack: Stack, base: IdleCounts, ms: number): Promise<{ diff: string[]; last: Census }> {
  const until = Date.now() + ms;
  let last = await takeCensus(stack);
  let diff = differences(base, last.idle);
  while (diff.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await takeCensus(stack);
    diff = differences(base, last.idle);
  }
  return { diff, last };
}
