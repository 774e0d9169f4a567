// Knowing at once that a recorder process died, not a heartbeat TTL later.
//
// Every recorder holds one idle Redis connection named after itself. When the process dies
// (SIGKILL, OOM kill, a crash) its kernel closes that socket and Redis drops the client within
// milliseconds; the heartbeat key (runs.ts) only expires a TTL later. Watchers list Redis's
// clients (CLIENT LIST) and call a recorder gone when its connection, which they saw earlier in
// the same Redis session, is missing from two lists in a row (a connection re-established
// within one scan is not a death). What this cannot see — a host that vanished without closing
// its sockets, a Redis that refuses CLIENT LIST — is still caught by the heartbeat TTL.
import type { Redis } from 'ioredis';

/** Name of a recorder's presence connection (CLIENT SETNAME allows no spaces or newlines). */
export function presenceConnectionName(prefix: string, recorderId: string): string {
  return `${prefix}:presence:${recorderId}`.replace(/[^\x21-\x7e]/g, '_');
}

/** The `name=` fields of a CLIENT LIST reply. */
export function clientNames(list: string): Set<string> {
  const names = new Set<string>();
  for (const line of list.split('\n')) {
    const m = / name=(\S*)/.exec(` ${line}`);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

export class RecorderPresence {
  readonly #redis: Redis;
  readonly #prefix: string;
  /** Incremented on every (re)connect of the watcher's connection: a new Redis session. */
  #session = 0;
  /** Connection name → session in which the watcher last saw it. */
  readonly #seen = new Map<string, number>();
  /** Connection name → consecutive scans (this session) it was missing from. */
  readonly #misses = new Map<string, number>();
  #unsupported = false;

  /** `redis`: a connection of the watcher (its reconnects mark a new Redis session). */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    redis.on('ready', () => {
      this.#session++;
      this.#misses.clear();
    });
  }

  /** False once Redis refused CLIENT LIST (then only the heartbeat TTL tells deaths). */
  get supported(): boolean {
    return !this.#unsupported;
  }

  /** Lists Redis's clients once; call before gone(). Never throws. */
  async scan(): Promise<void> {
    if (this.#unsupported) return;
    const session = this.#session;
    let names: Set<string>;
    try {
      names = clientNames(String(await this.#redis.client('LIST')));
    } catch (err) {
      if (/unknown command|NOPERM|no permissions|disabled/i.test(String(err))) this.#unsupported = true;
      return;
    }
    if (session !== this.#session) return; // reconnected meanwhile: that list is of another session
    const mine = `${this.#prefix}:presence:`;
    for (const n of names) {
      if (!n.startsWith(mine)) continue;
      this.#seen.set(n, session);
      this.#misses.delete(n);
    }
    for (const [n, s] of this.#seen) {
      if (s === session && !names.has(n)) this.#misses.set(n, (this.#misses.get(n) ?? 0) + 1);
    }
  }

  /** True when `recorderId`'s connection was seen this session and is missing from the last two scans. */
  gone(recorderId: string): boolean {
    const name = presenceConnectionName(this.#prefix, recorderId);
    return this.#seen.get(name) === this.#session && (this.#misses.get(name) ?? 0) >= 2;
  }

  /** Forgets a recorder (its claims were handed on). */
  forget(recorderId: string): void {
    const name = presenceConnectionName(this.#prefix, recorderId);
    this.#seen.delete(name);
    this.#misses.delete(name);
  }
}
