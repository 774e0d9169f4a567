// Starting and ending recordings of this instance's rooms: creates the recording in the store,
// attaches a RecordingTap, and stops the recording when its media goes away (the publisher
// leaves or the room empties). With RECORD_ENABLED a room is recorded from its first publisher.
import {
  conflict,
  requestStop,
  type ChannelHub,
  type JobQueues,
  type Logger,
  type Recording,
  type RecordingStore,
  type Redis,
  type RedisKeys,
} from '@live-webrtc/shared';
import { RecordingTap } from './recordingTap.js';
import type { Room } from './room.js';
import type { RoomManager } from './rooms.js';

export interface RecordingControllerOptions {
  store: RecordingStore;
  queues: JobQueues;
  hub: ChannelHub;
  redis: Redis;
  keys: RedisKeys;
  rooms: RoomManager;
  instanceId: string;
  /** IP the recording PlainTransports bind. */
  tapListenIp: string;
  recordEnabled: boolean;
  /** Seconds to wait after the media went away before stopping. */
  graceSeconds: number;
  logger: Logger;
}

export class RecordingController {
  readonly #taps = new Map<string, RecordingTap>();
  readonly #wired = new WeakSet<Room>();

  constructor(private readonly o: RecordingControllerOptions) {}

  /** Hooks a room's events (call once per room when it is created or first used). */
  wire(room: Room): void {
    if (this.#wired.has(room)) return;
    this.#wired.add(room);
    room.on('producer', () => {
      if (!this.o.recordEnabled || this.#taps.has(room.name)) return;
      // Wait a tick so a publisher's audio and video producers are both in the room.
      setTimeout(() => {
        if (room.closed || this.#taps.has(room.name) || room.producers.length === 0) return;
        this.start(room, 'auto').catch((err: unknown) => this.o.logger.warn({ err, room: room.name }, 'automatic recording did not start'));
      }, 50);
    });
    room.on('producerclose', () => this.#checkMedia(room));
    room.once('closed', () => this.#checkMedia(room));
  }

  tapOf(room: string): RecordingTap | undefined {
    return this.#taps.get(room);
  }

  /** Creates a recording of the room's current producers; 409 when one is running. */
  async start(room: Room, trigger: 'api' | 'auto'): Promise<Recording> {
    if (room.producers.length === 0) throw conflict('no_media', `room "${room.name}" has no published media to record`);
    if (this.#taps.has(room.name)) throw conflict('recording_in_progress', `room "${room.name}" is already being recorded`);
    const rec = await this.o.store.create(room.name, trigger);
    const log = this.o.logger.child({ room: room.name, recordingId: rec.id });
    let tap: RecordingTap;
    try {
      tap = await RecordingTap.start({
        room,
        recordingId: rec.id,
        instanceId: this.o.instanceId,
        listenIp: this.o.tapListenIp,
        queues: this.o.queues,
        hub: this.o.hub,
        keys: this.o.keys,
        logger: log,
      });
    } catch (err) {
      await this.o.store.fail(rec.id, 'tap_failed', err instanceof Error ? err.message : String(err));
      throw err;
    }
    this.#taps.set(room.name, tap);
    tap.onEnded(() => {
      if (this.#taps.get(room.name) === tap) this.#taps.delete(room.name);
      this.o.rooms.setRecording(room.name, null).catch(() => {});
    });
    await this.o.rooms.setRecording(room.name, rec.id);
    log.info({ trigger, tracks: tap.producerIds.length }, 'recording started');
    return rec;
  }

  /** Stops the room's recording when none of the producers it records is left. */
  #checkMedia(room: Room): void {
    const tap = this.#taps.get(room.name);
    if (!tap) return;
    const live = new Set(room.producers.map((p) => p.id));
    if (!room.closed && tap.producerIds.some((id) => live.has(id))) return;
    const stop = (): void => {
      const still = new Set(room.producers.map((p) => p.id));
      if (!room.closed && tap.producerIds.some((id) => still.has(id))) return;
      requestStop(this.o.store, this.o.redis, this.o.keys, tap.recordingId).catch((err: unknown) =>
        this.o.logger.warn({ err, recordingId: tap.recordingId }, 'could not stop recording'),
      );
    };
    if (this.o.graceSeconds > 0 && !room.closed) setTimeout(stop, this.o.graceSeconds * 1000).unref();
    else stop();
  }

  close(): void {
    for (const tap of this.#taps.values()) tap.close('sfu shutting down');
    this.#taps.clear();
  }
}
