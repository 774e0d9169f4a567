// The rooms this instance owns, and their entries in the shared registry. A room exists while
// it has sessions; it is claimed in Redis on first use, so another instance asked for it
// redirects its clients here instead of serving a second copy.
import type { InstanceInfo, Logger, RoomRegistry } from '@live-webrtc/shared';
import { Room } from './room.js';
import type { WorkerPool } from './workers.js';

export type RoomLookup = { local: Room } | { remote: InstanceInfo };

export class RoomManager {
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<RoomLookup>>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly me: InstanceInfo,
    private readonly registry: RoomRegistry,
    private readonly pool: WorkerPool,
    private readonly logger: Logger,
  ) {}

  /** Registers this instance and keeps its heartbeat going. */
  async start(intervalMs = 3000): Promise<void> {
    await this.registry.heartbeat(this.me, this.#rooms.keys());
    this.#heartbeat = setInterval(() => {
      this.registry.heartbeat(this.me, this.#rooms.keys()).catch((err: unknown) => this.logger.warn({ err }, 'registry heartbeat failed'));
    }, intervalMs);
  }

  get(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  /** Rooms served or being created (the MAX_ROOMS count). */
  get count(): number {
    return this.#rooms.size + this.#creating.size;
  }

  get all(): Room[] {
    return [...this.#rooms.values()];
  }

  /** Where the room lives, without creating it. */
  async locate(name: string): Promise<RoomLookup | null> {
    const local = this.#rooms.get(name);
    if (local) return { local };
    const found = await this.registry.locate(name);
    if (found && found.owner.id !== this.me.id) return { remote: found.owner };
    return null;
  }

  /** The local room (created and claimed if needed), or the instance that owns it. */
  async getOrCreate(name: string): Promise<RoomLookup> {
    const local = this.#rooms.get(name);
    if (local) return { local };
    let pending = this.#creating.get(name);
    if (!pending) {
      pending = this.#create(name).finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    return pending;
  }

  async #create(name: string): Promise<RoomLookup> {
    const claim = await this.registry.claim(name, this.me.id);
    if (!claim.owned) return { remote: claim.owner };
    const room = await Room.create(name, this.pool, this.logger);
    this.#rooms.set(name, room);
    room.on('changed', () => this.#sync(room));
    room.once('closed', () => {
      this.#rooms.delete(name);
      this.registry.release(name, this.me.id).catch((err: unknown) => this.logger.warn({ err }, 'registry release failed'));
    });
    this.logger.info({ room: name }, 'room created');
    return { local: room };
  }

  /** Publishes the room's counts; closes it once empty. */
  #sync(room: Room): void {
    if (room.empty) {
      room.close();
      return;
    }
    this.registry
      .update(room.name, { publishers: room.publishers.length, subscribers: room.viewers.length })
      .catch((err: unknown) => this.logger.warn({ err }, 'registry update failed'));
  }

  async setRecording(room: string, recordingId: string | null): Promise<void> {
    await this.registry.update(room, { recordingId });
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const room of this.#rooms.values()) room.close();
    await this.registry.unregister(this.me.id).catch(() => {});
  }
}
