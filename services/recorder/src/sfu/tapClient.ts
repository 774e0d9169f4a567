// A capture run's side of the per-run tap protocol: find the SFU instance that owns the room
// (room registry), ask it for this run's tap, tell it where ffmpeg listens, ask for keyframes,
// check the tap is still fed, and close it. Every request carries the internal credential.
import {
  ConnectTapRequestSchema,
  OpenTapRequestSchema,
  OpenTapResponseSchema,
  TapStatusSchema,
  type ConnectTapRequest,
  type OpenTapRequest,
  type OpenTapResponse,
  type RoomRegistry,
  type TapStatus,
} from '@live-webrtc/shared';

/** Why a tap request did not succeed; `retry` ones are worth asking again (publisher away, SFU restarting). */
export class TapError extends Error {
  constructor(
    readonly code: 'no_room' | 'no_media' | 'unreachable' | 'stale_run' | 'not_live' | 'tap_not_found' | 'rejected',
    message: string,
  ) {
    super(message);
    this.name = 'TapError';
  }
  get retry(): boolean {
    return this.code === 'no_room' || this.code === 'no_media' || this.code === 'unreachable';
  }
}

export interface TapClientOptions {
  registry: RoomRegistry;
  headers: Record<string, string>;
  /** Per-request timeout, ms. Default 3000. */
  timeoutMs?: number;
}

export class TapClient {
  constructor(private readonly o: TapClientOptions) {}

  /** The SFU base URL owning `room`, or a TapError('no_room'). */
  async ownerOf(room: string): Promise<string> {
    const where = await this.o.registry.locate(room).catch(() => null);
    if (!where) throw new TapError('no_room', `no live SFU instance holds room "${room}"`);
    return where.owner.internalUrl;
  }

  async open(base: string, recordingId: string, attempt: number, req: OpenTapRequest): Promise<OpenTapResponse> {
    const body = await this.#call(base, 'POST', `/internal/v1/recordings/${recordingId}/runs/${attempt}`, OpenTapRequestSchema.parse(req));
    return OpenTapResponseSchema.parse(body);
  }

  async connect(base: string, recordingId: string, attempt: number, req: ConnectTapRequest): Promise<void> {
    await this.#call(base, 'POST', `/internal/v1/recordings/${recordingId}/runs/${attempt}/connect`, ConnectTapRequestSchema.parse(req));
  }

  async keyframe(base: string, recordingId: string, attempt: number): Promise<void> {
    await this.#call(base, 'POST', `/internal/v1/recordings/${recordingId}/runs/${attempt}/keyframe`);
  }

  async status(base: string, recordingId: string, attempt: number): Promise<TapStatus> {
    return TapStatusSchema.parse(await this.#call(base, 'GET', `/internal/v1/recordings/${recordingId}/runs/${attempt}`));
  }

  async close(base: string, recordingId: string, attempt: number): Promise<void> {
    await this.#call(base, 'DELETE', `/internal/v1/recordings/${recordingId}/runs/${attempt}`);
  }

  async #call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { ...this.o.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 3000),
      });
    } catch (err) {
      throw new TapError('unreachable', `SFU at ${base} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    if (res.ok) return text ? (JSON.parse(text) as unknown) : null;
    let code = '';
    try {
      code = String((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '');
    } catch {
      // not our JSON error
    }
    const message = `${method} ${path}: ${res.status} ${code || text.slice(0, 200)}`;
    if (code === 'no_media') throw new TapError('no_media', message);
    if (code === 'stale_run') throw new TapError('stale_run', message);
    if (code === 'recording_not_live') throw new TapError('not_live', message);
    if (code === 'tap_not_found') throw new TapError('tap_not_found', message);
    if (res.status === 307 || code === 'room_not_found') throw new TapError('no_room', message);
    if (res.status >= 500) throw new TapError('unreachable', message);
    throw new TapError('rejected', message);
  }
}
