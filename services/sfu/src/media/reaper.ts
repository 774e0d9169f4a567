// Removes sessions whose client went away without a DELETE (tab closed, laptop lid shut,
// network gone). mediasoup 3.8.4 has no ICE consent timeout for UDP (it came in 3.13), so the
// transport of a vanished client would otherwise live, and count as a publisher or viewer,
// forever. A live client always sends something: media (publishers), RTCP receiver reports
// (viewers, about once a second) and STUN consent checks (every ~5 s, RFC 7675); so a
// transport that received no byte for `idleMs` — or never connected within it — is dead.
import type { Logger } from '@live-webrtc/shared';
import type { Session } from './room.js';
import type { RoomManager } from './rooms.js';

export interface SessionReaperOptions {
  rooms: RoomManager;
  /** A session silent (or unconnected) this long is removed, ms. */
  idleMs: number;
  /** How often transports are checked, ms. Default idleMs / 3. */
  intervalMs?: number;
  logger: Logger;
  /** Called for each session removed (metrics). */
  onReaped?: (s: Session, reason: 'idle' | 'never_connected') => void;
}

interface Seen {
  bytes: number;
  /** When `bytes` last changed, ms since the epoch. */
  at: number;
}

export class SessionReaper {
  readonly #o: SessionReaperOptions;
  readonly #seen = new WeakMap<Session, Seen>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(o: SessionReaperOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#timer) return;
    const every = this.#o.intervalMs ?? Math.max(500, Math.floor(this.#o.idleMs / 3));
    this.#timer = setInterval(() => {
      if (this.#sweeping) return;
      this.#sweeping = true;
      this.sweep()
        .catch((err: unknown) => this.#o.logger.warn({ err }, 'session sweep failed'))
        .finally(() => (this.#sweeping = false));
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Checks every session once; returns how many were removed. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const room of this.#o.rooms.all) {
      for (const session of [...room.sessions.values()]) {
        if (session.transport.closed) continue;
        const stats = await session.transport.getStats().catch(() => null);
        // Deleted or closed while we asked: not ours to count.
        if (!stats || session.transport.closed || room.sessions.get(session.id) !== session) continue;
        const bytes = stats[0]?.bytesReceived ?? 0;
        const seen = this.#seen.get(session);
        if (!seen || bytes !== seen.bytes) {
          // First look, or traffic since the last one. A session that never received anything
          // has been silent since it was created.
          const at = !seen && bytes === 0 ? Math.min(now, session.createdAt.getTime()) : now;
          this.#seen.set(session, { bytes, at });
          continue;
        }
        if (now - seen.at < this.#o.idleMs) continue;
        const reason = session.transport.iceState === 'new' ? 'never_connected' : 'idle';
        this.#o.logger.info(
          { room: room.name, sessionId: session.id, kind: session.kind, reason, silentMs: now - seen.at },
          'removing a session whose client went away',
        );
        if (!room.removeSession(session.id)) continue;
        this.#o.onReaped?.(session, reason);
        removed++;
      }
    }
    return removed;
  }
}
