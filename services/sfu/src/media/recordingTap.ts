// One capture run's tap: a PlainTransport + paused consumer per producer of the room, created
// when the run's recorder asks for it (POST …/runs/{attempt}), connected to the ports its ffmpeg
// bound (POST …/runs/{attempt}/connect), resumed, and asked for keyframes with backoff until the
// recorder reports the first decodable frame. Every run gets fresh transports: mediasoup refuses
// a second connect() on a PlainTransport, so a takeover is just another run with its own tap.
// The controller closes it when the run ends, a newer run of the recording opens its tap, or
// the run's recorder stops heartbeating.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import {
  decodeMessage,
  type CaptureTrack,
  type ChannelHub,
  type ConnectTapRequest,
  type Logger,
  type RedisKeys,
  type TapSource,
} from '@live-webrtc/shared';
import { recordingRtpCapabilities } from './sdp/index.js';
import type { Room } from './room.js';

export interface TapOptions {
  room: Room;
  recordingId: string;
  /** Run attempt this tap serves. */
  attempt: number;
  /** First segment index of the run (messages carry it). */
  firstSegment: number;
  /** Recorder whose heartbeat keeps the tap open. */
  recorderId: string;
  /** IP the PlainTransports bind (must reach the recorder). */
  listenIp: string;
  hub: ChannelHub;
  keys: RedisKeys;
  logger: Logger;
  /** First keyframe request interval, ms; doubles up to 4 s. Default 250. */
  keyframeIntervalMs?: number;
}

interface TapTrack {
  track: CaptureTrack;
  transport: ms.PlainTransport;
  consumer: ms.Consumer;
}

interface TapEvents {
  closed: [reason: string];
}

export class RecordingTap extends EventEmitter<TapEvents> {
  readonly recordingId: string;
  readonly attempt: number;
  readonly recorderId: string;
  readonly roomName: string;
  readonly #tracks: TapTrack[];
  readonly #opts: TapOptions;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #connected = false;
  #unsubscribe: (() => void) | undefined;

  private constructor(opts: TapOptions, tracks: TapTrack[]) {
    super();
    this.#opts = opts;
    this.recordingId = opts.recordingId;
    this.attempt = opts.attempt;
    this.recorderId = opts.recorderId;
    this.roomName = opts.room.name;
    this.#tracks = tracks;
  }

  /** Creates the transports and paused consumers for every producer of the room. */
  static async open(opts: TapOptions): Promise<RecordingTap> {
    const { room } = opts;
    const caps = recordingRtpCapabilities(room.router.rtpCapabilities);
    const tracks: TapTrack[] = [];
    try {
      for (const producer of room.producers) {
        const transport = await room.router.createPlainTransport({
          listenIp: { ip: opts.listenIp },
          rtcpMux: false, // ffmpeg reads RTCP on RTP port + 1 only
          comedia: false,
        });
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: caps, paused: true });
        const codec = consumer.rtpParameters.codecs[0];
        const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        if (!codec || ssrc === undefined) throw new Error(`consumer for ${producer.kind} has no codec/ssrc`);
        tracks.push({
          transport,
          consumer,
          track: {
            trackId: producer.id,
            kind: producer.kind,
            participant: String((producer.appData as { participant?: string }).participant ?? 'publisher'),
            codec: {
              mimeType: codec.mimeType,
              payloadType: codec.payloadType,
              clockRate: codec.clockRate,
              ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
              parameters: (codec.parameters ?? {}) as Record<string, string | number>,
            },
            ssrc,
          },
        });
      }
      if (tracks.length === 0) throw new Error('room has no media to record');
    } catch (err) {
      for (const t of tracks) t.transport.close();
      throw err;
    }
    const tap = new RecordingTap(opts, tracks);
    await tap.#listen();
    return tap;
  }

  get tracks(): CaptureTrack[] {
    return this.#tracks.map((t) => t.track);
  }

  /** Where each track's packets come from (the recorder accepts nothing else on its ports). */
  get sources(): TapSource[] {
    return this.#tracks.map((t) => ({ trackId: t.track.trackId, ip: t.transport.tuple.localIp, rtpPort: t.transport.tuple.localPort }));
  }

  get producerIds(): string[] {
    return this.#tracks.map((t) => t.track.trackId);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while at least one tapped producer is still open (the publisher has not left). */
  get live(): boolean {
    return !this.#closed && this.#tracks.some((t) => !t.consumer.closed);
  }

  /** RTP bytes sent to the recorder so far, over every track. */
  async bytesSent(): Promise<number> {
    let n = 0;
    for (const t of this.#tracks) {
      if (t.transport.closed) continue;
      const stats = await t.transport.getStats().catch(() => []);
      for (const s of stats) n += s.bytesSent ?? 0;
    }
    return n;
  }

  /** Connects every transport to the recorder's ports, resumes and asks for keyframes. Once. */
  async connect(req: ConnectTapRequest): Promise<void> {
    if (this.#closed) throw new Error('tap is closed');
    if (this.#connected) return;
    this.#connected = true;
    for (const t of this.#tracks) {
      const port = req.tracks.find((p) => p.trackId === t.track.trackId);
      if (!port) throw new Error(`no port for track ${t.track.trackId}`);
      await t.transport.connect({ ip: req.host, port: port.rtpPort, rtcpPort: port.rtcpPort });
    }
    // Resume only now that ffmpeg listens: packets sent earlier would be lost and the first
    // frame it sees would not be a keyframe.
    for (const t of this.#tracks) await t.consumer.resume();
    this.#opts.logger.info({ host: req.host, tracks: req.tracks.length, attempt: this.attempt }, 'recorder listening; tap resumed');
    this.#startKeyframes();
  }

  /** Asks every video producer for a keyframe now (segment boundaries). */
  requestKeyFrame(): void {
    for (const t of this.#tracks) {
      if (t.track.kind === 'video' && !t.consumer.closed) t.consumer.requestKeyFrame().catch(() => {});
    }
  }

  async #listen(): Promise<void> {
    const channel = this.#opts.keys.recordingChannel(this.recordingId);
    this.#unsubscribe = await this.#opts.hub.subscribe(channel, (raw) => {
      const msg = decodeMessage(raw);
      if (msg?.type === 'first-frame' && msg.firstSegment === this.#opts.firstSegment) {
        this.#opts.logger.info({ attempt: this.attempt }, 'recorder confirmed the first decodable frame');
        this.#stopKeyframes();
      }
    });
  }

  #startKeyframes(): void {
    let interval = this.#opts.keyframeIntervalMs ?? 250;
    const tick = (): void => {
      if (this.#closed) return;
      this.requestKeyFrame();
      interval = Math.min(interval * 2, 4000);
      this.#keyframeTimer = setTimeout(tick, interval);
    };
    tick();
  }

  #stopKeyframes(): void {
    clearTimeout(this.#keyframeTimer);
    this.#keyframeTimer = undefined;
  }

  /** Closes transports and the subscription; safe to call twice. */
  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopKeyframes();
    for (const t of this.#tracks) t.transport.close();
    this.#unsubscribe?.();
    this.#opts.logger.info({ attempt: this.attempt, reason }, 'recording tap closed');
    this.emit('closed', reason);
  }
}
