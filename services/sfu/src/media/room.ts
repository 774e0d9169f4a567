// One room on this instance: the publisher router (on one worker), the publishers' and
// viewers' sessions, and one router per viewer payload-type profile fed from the publisher
// router with pipeToRouter (mediasoup 3.8 consumers send with their router's payload types).
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import { AppError, type Logger } from '@live-webrtc/shared';
import { SUPPORTED_CODECS } from './codecs.js';
import type { WorkerPool } from './workers.js';

export interface Profile {
  key: string;
  mediaCodecs: ms.RtpCodecCapability[];
}

export interface Session {
  readonly id: string;
  readonly kind: 'publish' | 'view';
  readonly room: string;
  readonly transport: ms.WebRtcTransport;
  readonly createdAt: Date;
  /** Changes when the session's ICE credentials change (ICE restart). */
  etag: string;
  /** The client's current ICE username fragment: a PATCH with another one is an ICE restart. */
  remoteIceUfrag: string;
  producers: ms.Producer[];
  consumers: ms.Consumer[];
  /** The client's address (limits per IP). */
  clientIp?: string;
  /** Opaque id shown in recordings instead of the session id (which allows DELETE). */
  participant?: string;
  /** Viewer sessions: the m-sections (mid → kind) a consumer may attach to. */
  sections: { mid: string; kind: 'audio' | 'video'; rtpCapabilities: ms.RtpCapabilities }[];
}

interface ViewerRouter {
  router: ms.Router;
  worker: ms.Worker;
}

export interface RoomEvents {
  /** A publisher added a producer (viewers and recordings attach to it). */
  producer: [ms.Producer];
  /** A producer closed (its publisher left). */
  producerclose: [ms.Producer];
  /** Session count changed. */
  changed: [];
  closed: [];
}

export class Room extends EventEmitter<RoomEvents> {
  readonly sessions = new Map<string, Session>();
  readonly #viewerRouters = new Map<string, Promise<ViewerRouter>>();
  /** Sessions being set up (reserved, not yet added): counted against the caps. */
  readonly #pending = { publish: 0, view: 0 };
  #closed = false;

  private constructor(
    readonly name: string,
    readonly router: ms.Router,
    private readonly worker: ms.Worker,
    private readonly pool: WorkerPool,
    private readonly logger: Logger,
  ) {
    super();
    router.on('workerclose', () => this.close());
  }

  static async create(name: string, pool: WorkerPool, logger: Logger): Promise<Room> {
    const worker = pool.acquire();
    try {
      const router = await worker.createRouter({ mediaCodecs: SUPPORTED_CODECS });
      return new Room(name, router, worker, pool, logger.child({ room: name }));
    } catch (err) {
      pool.release(worker);
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get publishers(): Session[] {
    return [...this.sessions.values()].filter((s) => s.kind === 'publish');
  }

  get viewers(): Session[] {
    return [...this.sessions.values()].filter((s) => s.kind === 'view');
  }

  /** Live producers of every publisher, in publish order. */
  get producers(): ms.Producer[] {
    return this.publishers.flatMap((s) => s.producers.filter((p) => !p.closed));
  }

  get empty(): boolean {
    return this.sessions.size === 0 && this.#pending.publish === 0 && this.#pending.view === 0;
  }

  /**
   * Reserves a place for a session of `kind` before any await, so concurrent requests cannot
   * all pass a cap checked against sessions that do not exist yet. Returns the release
   * function: call it once the session was added (or failed). Throws `full()` when no place.
   */
  reserve(kind: 'publish' | 'view', max: number, full: () => Error): () => void {
    const count = (kind === 'publish' ? this.publishers.length : this.viewers.length) + this.#pending[kind];
    if (count >= max) throw full();
    this.#pending[kind]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pending[kind]--;
    };
  }

  addSession(s: Session): void {
    this.sessions.set(s.id, s);
    for (const p of s.producers) {
      p.observer.once('close', () => this.emit('producerclose', p));
    }
    this.emit('changed');
    for (const p of s.producers) this.emit('producer', p);
  }

  /** Closes the session's transport (its producers/consumers close with it). */
  removeSession(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    this.sessions.delete(id);
    s.transport.close();
    this.emit('changed');
    return s;
  }

  /** The router a viewer with this payload-type profile consumes from. */
  async routerFor(profile: Profile, maxProfiles = Infinity): Promise<ms.Router> {
    if (routerMatches(this.router.rtpCapabilities, profile)) return this.router;
    let vr = this.#viewerRouters.get(profile.key);
    if (!vr) {
      // Each numbering costs a router piped from every producer until the room closes.
      if (this.#viewerRouters.size >= maxProfiles) {
        throw new AppError(
          403,
          'too_many_viewer_profiles',
          `room "${this.name}" serves no further payload-type numberings (MAX_VIEWER_PROFILES)`,
        );
      }
      vr = this.#createViewerRouter(profile);
      this.#viewerRouters.set(profile.key, vr);
      vr.catch(() => this.#viewerRouters.delete(profile.key));
    }
    return (await vr).router;
  }

  async #createViewerRouter(profile: Profile): Promise<ViewerRouter> {
    const worker = this.pool.acquire();
    let router: ms.Router;
    try {
      router = await worker.createRouter({ mediaCodecs: profile.mediaCodecs });
    } catch (err) {
      this.pool.release(worker);
      throw unservableProfile(err);
    }
    router.observer.once('close', () => this.pool.release(worker));
    try {
      for (const p of this.producers) await this.#pipe(p, router);
    } catch (err) {
      // A numbering mediasoup cannot pipe into (e.g. a codec with another clock rate): the
      // client's offer is at fault, and the half-built router must not stay.
      router.close();
      throw unservableProfile(err);
    }
    this.logger.info({ profile: profile.key }, 'created viewer router for a new payload-type profile');
    this.on('producer', (p) => {
      this.#pipe(p, router).catch((err: unknown) => this.logger.warn({ err }, 'could not pipe producer to viewer router'));
    });
    return { router, worker };
  }

  async #pipe(producer: ms.Producer, router: ms.Router): Promise<void> {
    if (producer.closed || router.closed) return;
    await this.router.pipeToRouter({ producerId: producer.id, router });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.sessions.values()) s.transport.close();
    this.sessions.clear();
    for (const vr of this.#viewerRouters.values())
      vr.then(
        (v) => v.router.close(),
        () => {},
      );
    this.router.close();
    this.pool.release(this.worker);
    this.emit('closed');
  }
}

/** A viewer profile mediasoup refuses is the offer's fault: a 406, with mediasoup's words kept out. */
function unservableProfile(err: unknown): Error {
  if (err instanceof AppError) return err;
  return new AppError(406, 'unsupported_media', 'the offer numbers or describes its codecs in a way this server cannot send');
}

/** True when the router already numbers every codec of `profile` as the profile does. */
export function routerMatches(caps: ms.RtpCapabilities, profile: Profile): boolean {
  return profile.mediaCodecs.every((want) =>
    (caps.codecs ?? []).some(
      (have) =>
        have.mimeType.toLowerCase() === want.mimeType.toLowerCase() &&
        have.preferredPayloadType === want.preferredPayloadType &&
        sameParams(have.parameters, want.parameters),
    ),
  );
}

function sameParams(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): boolean {
  const keys = ['packetization-mode', 'profile-level-id', 'profile-id'];
  return keys.every((k) => String(a?.[k] ?? '') === String(b?.[k] ?? ''));
}
