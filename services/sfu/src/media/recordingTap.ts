// The SFU side of a recording: one PlainTransport + paused consumer per track, a capture job
// for the recorder, and the handshake ARCHITECTURE.md describes — the recorder binds its ports
// and says `listening`; we connect, resume, and keep asking for keyframes (with backoff) until
// it says `first-frame`. The tap ends when the recorder reports `capture-ended`.
import type { types as ms } from 'mediasoup';
import {
  decodeMessage,
  jobIds,
  type CaptureTrack,
  type JobQueues,
  type Logger,
  type ChannelHub,
  type RedisKeys,
  type RecordingMessage,
} from '@live-webrtc/shared';
import { recordingRtpCapabilities } from './sdp/index.js';
import type { Room } from './room.js';

export interface TapOptions {
  room: Room;
  recordingId: string;
  instanceId: string;
  /** IP the PlainTransports bind (must reach the recorder). */
  listenIp: string;
  queues: JobQueues;
  hub: ChannelHub;
  keys: RedisKeys;
  logger: Logger;
  /** First keyframe request interval, ms; doubles up to 4 s. Default 500. */
  keyframeIntervalMs?: number;
}

interface TapTrack {
  track: CaptureTrack;
  transport: ms.PlainTransport;
  consumer: ms.Consumer;
}

export class RecordingTap {
  readonly recordingId: string;
  readonly #tracks: TapTrack[];
  readonly #opts: TapOptions;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #onEnded: ((reason: string) => void) | undefined;
  #unsubscribe: (() => void) | undefined;

  private constructor(opts: TapOptions, tracks: TapTrack[]) {
    this.#opts = opts;
    this.recordingId = opts.recordingId;
    this.#tracks = tracks;
  }

  /** Creates the transports and paused consumers and enqueues the capture job. */
  static async start(opts: TapOptions): Promise<RecordingTap> {
    const { room } = opts;
    const producers = room.producers;
    const caps = recordingRtpCapabilities(room.router.rtpCapabilities);
    const tracks: TapTrack[] = [];
    try {
      for (const producer of producers) {
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
    await opts.queues.enqueue(
      'CaptureRecording',
      {
        v: 1,
        recordingId: opts.recordingId,
        room: room.name,
        sfuInstance: opts.instanceId,
        firstSegment: 0,
        tracks: tracks.map((t) => t.track),
      },
      { jobId: jobIds.capture(opts.recordingId, 0), attempts: 1 },
    );
    return tap;
  }

  /** Called once when the capture has ended (or the tap was closed). */
  onEnded(fn: (reason: string) => void): void {
    this.#onEnded = fn;
  }

  get producerIds(): string[] {
    return this.#tracks.map((t) => t.track.trackId);
  }

  async #listen(): Promise<void> {
    const channel = this.#opts.keys.recordingChannel(this.recordingId);
    this.#unsubscribe = await this.#opts.hub.subscribe(channel, (raw) => {
      const msg = decodeMessage(raw);
      if (msg) this.#handle(msg).catch((err: unknown) => this.#opts.logger.error({ err }, 'recording tap message failed'));
    });
  }

  async #handle(msg: RecordingMessage): Promise<void> {
    const log = this.#opts.logger;
    switch (msg.type) {
      case 'listening': {
        for (const t of this.#tracks) {
          const port = msg.tracks.find((p) => p.trackId === t.track.trackId);
          if (!port) continue;
          await t.transport.connect({ ip: msg.host, port: port.rtpPort, rtcpPort: port.rtcpPort });
        }
        // Resume only now that ffmpeg listens: packets sent earlier would be lost and the
        // first frame it sees would not be a keyframe.
        for (const t of this.#tracks) await t.consumer.resume();
        log.info({ host: msg.host, tracks: msg.tracks.length }, 'recorder listening; consumers resumed');
        this.#startKeyframes();
        return;
      }
      case 'first-frame':
        log.info('recorder confirmed the first decodable frame');
        this.#stopKeyframes();
        return;
      case 'capture-ended':
        log.info({ reason: msg.reason }, 'capture ended');
        this.close(msg.reason);
        return;
      case 'stop':
        // Keep feeding ffmpeg until it has finalized (it reports capture-ended); close anyway
        // if it never answers.
        setTimeout(() => this.close('stop without capture-ended'), 15_000).unref();
        return;
    }
  }

  #startKeyframes(): void {
    let interval = this.#opts.keyframeIntervalMs ?? 500;
    const tick = (): void => {
      if (this.#closed) return;
      for (const t of this.#tracks) {
        if (t.track.kind === 'video' && !t.consumer.closed) {
          t.consumer.requestKeyFrame().catch(() => {});
        }
      }
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
    this.#onEnded?.(reason);
  }
}
